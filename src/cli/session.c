#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/exec_common.h"
#include "common/cleanup.h"
#include "common/text.h"

static const char session_help[] =
    "usage: enclave session start [--id ID] [--cpu N] [--mem MB] [--ttl D] [--idle-timeout D]\n"
    "                             [--image VARIANT] [--workspace-mb MB] [--egress]\n"
    "       enclave session exec ID [--timeout S] (--python FILE | -- COMMAND [ARGS...])\n"
    "       enclave session stop ID\n"
    "       enclave session ls          sessions, then the warm pools (if any)\n"
    "       enclave session cp SRC DST            (ID:/workspace/f, a local file or -)\n"
    "       enclave session ls-files ID [PATH]\n"
    "       enclave session code ID CODE          (see enclave session code --help)\n"
    "\n"
    "Manages sessions (one microVM each) in the running daemon. 'start' prints the\n"
    "session id once the VM answers; 'exec' runs one command in it and exits with\n"
    "the command's code (124 on timeout, 128+N on signal N), printing output as it\n"
    "arrives; 'stop' stops the VM; 'ls' lists sessions with their age, idle time\n"
    "and deadline.\n"
    "\n"
    "Exit status: 'start' and 'exec' exit 125 when Enclave itself fails (no\n"
    "daemon, no such session, the VM did not boot) and 126 when the policy\n"
    "refuses the request, as 'enclave run' does; 'stop' and 'ls' exit 1 when\n"
    "they fail. Every sub-verb exits 2 for a bad command line.\n"
    "\n"
    "start options:\n"
    "  --id ID           the session's id (default: one the daemon makes)\n"
    "  --cpu N           vCPUs for the VM (default: the daemon's)\n"
    "  --mem MB          memory for the VM in MiB (default: the daemon's)\n"
    "  --ttl D           stop the session this long after it started (seconds, or\n"
    "                    90s, 15m, 24h, 7d; 'none' for no limit); default: the\n"
    "                    daemon's --session-max-lifetime\n"
    "  --idle-timeout D  stop it after this long without a command ('none' for\n"
    "                    never); default: the daemon's --session-idle-timeout\n"
    "  --image VARIANT   boot an image variant built with 'enclave image build --name\n"
    "                    VARIANT' (default: the current image)\n"
    "  --egress          let the workloads make outbound HTTP(S) connections through\n"
    "                    the guest's proxy (HTTP_PROXY is set for them); the policy\n"
    "                    decides whether the session may have it and then every\n"
    "                    connection (the constitution allows none until its list\n"
    "                    data.constitution.egress names hosts; docs/egress.md)\n"
    "  --workspace-mb MB the size of the session's /workspace, 8 MiB up to half of\n"
    "                    its memory (default: a quarter of its memory); writing\n"
    "                    past it fails with ENOSPC in the workload\n"
    "\n"
    "exec options:\n"
    "  --timeout S       seconds before the command and its children are killed\n"
    "                    (default: the daemon's --exec-timeout)\n"
    "  --python FILE     run a Python file ('-' reads it from stdin); it is read,\n"
    "                    and must be UTF-8 text, before anything is sent\n"
    "\n"
    "common options:\n"
    "  --addr HOST:PORT  the daemon (default $ENCLAVE_ADDR or 127.0.0.1:7339)\n"
    "  --socket PATH     the daemon's Unix socket (default $ENCLAVE_SOCKET)\n"
    "  -h, --help        this help\n"
    "\n"
    "Over TCP the token sent is $ENCLAVE_TOKEN, else $ENCLAVE_HOME/run/api-token.\n";

struct session_opts {
    struct client_target target;
    const char *id;
    unsigned vcpus, mem_mb, timeout_s;
    const char *python_file;
    int ttl_s, idle_s; /* 0: the daemon's default, -1: none */
    const char *image; /* an image variant (enclave image build --name) */
    bool egress;
    unsigned workspace_mb; /* 0: the daemon's default */
};

static int parse_limit(const char *arg, const char *name, int *out, struct error *err)
{
    if (strcmp(arg, "none") == 0) {
        *out = -1;
        return 0;
    }
    unsigned v;
    if (args_parse_duration(arg, name, 365 * 86400, &v, err) < 0)
        return -1;
    if (v == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be at least 1 s (or 'none')", name);
    *out = (int)v;
    return 0;
}

static int parse(int argc, char **argv, struct session_opts *o, struct error *err)
{
    enum { O_ID = 256, O_CPU, O_MEM, O_TIMEOUT, O_PYTHON, O_ADDR, O_SOCKET, O_TTL, O_IDLE, O_IMAGE,
           O_WORKSPACE, O_EGRESS };
    static const struct option opts[] = {
        {"id", required_argument, NULL, O_ID},
        {"cpu", required_argument, NULL, O_CPU},
        {"mem", required_argument, NULL, O_MEM},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"python", required_argument, NULL, O_PYTHON},
        {"addr", required_argument, NULL, O_ADDR},
        {"socket", required_argument, NULL, O_SOCKET},
        {"ttl", required_argument, NULL, O_TTL},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"image", required_argument, NULL, O_IMAGE},
        {"egress", no_argument, NULL, O_EGRESS},
        {"workspace-mb", required_argument, NULL, O_WORKSPACE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, idx = 0;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = session_help, .longindex = &idx};
    const struct args_shared shared = {.vcpus = &o->vcpus, .mem_mb = &o->mem_mb,
                                       .timeout_s = &o->timeout_s, .python_file = &o->python_file,
                                       .target = &o->target};
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 1;
        case O_ID:
            o->id = optarg;
            break;
        case O_CPU:
        case O_MEM:
        case O_TIMEOUT:
        case O_PYTHON:
        case O_ADDR:
        case O_SOCKET:
            if (args_parse_shared(opts[idx].name, optarg, &shared, err) < 0)
                return -1;
            break;
        case O_TTL:
            if (parse_limit(optarg, "--ttl", &o->ttl_s, err) < 0)
                return -1;
            break;
        case O_IDLE:
            if (parse_limit(optarg, "--idle-timeout", &o->idle_s, err) < 0)
                return -1;
            break;
        case O_IMAGE:
            o->image = optarg;
            break;
        case O_EGRESS:
            o->egress = true;
            break;
        case O_WORKSPACE: {
            char *end = NULL;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-' || v == 0 || v > 1u << 20)
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--workspace-mb must be a number of MiB (at least 1)");
            o->workspace_mb = (unsigned)v;
            break;
        }
        default:
            return error_set(err, ERR_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

/* The call; on failure says why and returns -1 with the error's kind in
 * *kind (NULL: not wanted). */
static int call_or_report(const struct client_target *t, const char *service, const char *method,
                          json_t *req, unsigned timeout_s, json_t **resp, enum error_kind *kind)
{
    struct error err;
    int rc = client_call(t, service, method, req, timeout_s, resp, &err);
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "enclave session: %s\n", err.message);
        if (kind != NULL)
            *kind = err.kind;
        return -1;
    }
    return 0;
}

/* The string field key of the daemon's object o (fallback when it has none),
 * escaped for the terminal like everything the daemon sends; NULL only when
 * out of memory. */
static char *escaped_field(json_t *o, const char *key, const char *fallback)
{
    const char *v = json_string_value(json_object_get(o, key));
    return text_escape_terminal(v ? v : fallback);
}

int cli_session(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(session_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "cp") == 0 || strcmp(sub, "ls-files") == 0 || strcmp(sub, "code") == 0)
        return cli_session_files(argc, argv);
    struct session_opts o = {0};
    client_target_default(&o.target);
    struct error err;
    /* Sub-verb arguments: "exec ID [opts] -- cmd", "stop ID". */
    int shift = 2;
    const char *positional = NULL;
    if ((strcmp(sub, "exec") == 0 || strcmp(sub, "stop") == 0) && argc > 2 && argv[2][0] != '-') {
        positional = argv[2];
        shift = 3;
    }
    int pr = parse(argc - shift + 1, argv + shift - 1, &o, &err);
    if (pr == 1)
        return 0;
    if (pr < 0)
        return cli_usage_error("session", "%s", err.message);
    int rest = argc - shift + 1 - optind;
    char **rest_argv = argv + shift - 1 + optind;
    json_t *resp = NULL;

    if (strcmp(sub, "start") == 0) {
        if (rest > 0)
            return cli_usage_error("session", "unexpected argument '%s'", rest_argv[0]);
        json_t *req = json_object();
        if (o.id)
            json_object_set_new(req, "sessionId", json_string(o.id));
        cli_start_request_add(req, o.vcpus, o.mem_mb, o.egress);
        if (o.ttl_s)
            json_object_set_new(req, "maxLifetimeS", json_integer(o.ttl_s));
        if (o.idle_s)
            json_object_set_new(req, "idleTimeoutS", json_integer(o.idle_s));
        /* Variants are chosen through enclave.v1 StartSession (agent.v1 has no field for one). */
        if (o.image)
            json_object_set_new(req, "image", json_string(o.image));
        if (o.workspace_mb)
            json_object_set_new(req, "workspaceMb", json_integer(o.workspace_mb));
        bool v1 = o.image || o.workspace_mb;
        /* Exit statuses as run's and exec's: 125 Enclave failed, 126 the
         * policy refused (docs: "Exit status"). */
        enum error_kind kind = ERR_INTERNAL;
        if (call_or_report(&o.target, v1 ? "enclave.v1.Enclave" : "agent.v1.AgentService", "StartSession",
                           req, 300, &resp, &kind) < 0)
            return cli_exit_for_error(kind);
        const char *id = json_string_value(json_object_get(resp, "sessionId"));
        if (id == NULL) {
            fprintf(stderr, "enclave session: the daemon's answer names no session\n");
            json_decref(resp);
            return CLI_EXIT_FAILED;
        }
        cli_put_escaped(stdout, id); /* the daemon's choice when --id was not given */
        putchar('\n');
        json_decref(resp);
        return 0;
    }
    if (strcmp(sub, "stop") == 0) {
        if (positional == NULL)
            return cli_usage_error("session", "stop needs a session id");
        if (rest > 0)
            return cli_usage_error("session", "unexpected argument '%s'", rest_argv[0]);
        if (call_or_report(&o.target, "agent.v1.AgentService", "StopSession",
                           json_pack("{s:s}", "sessionId", positional), 60, &resp, NULL) < 0)
            return 1;
        json_decref(resp);
        return 0;
    }
    if (strcmp(sub, "exec") == 0) {
        if (positional == NULL)
            return cli_usage_error("session", "exec needs a session id");
        if (o.python_file && rest > 0)
            return cli_usage_error("session", "give either --python FILE or a command, not both");
        if (!o.python_file && rest == 0)
            return cli_usage_error("session", "nothing to run: give -- COMMAND or --python FILE");
        json_t *tool = cli_exec_request("session exec", positional, o.python_file, rest_argv, rest,
                                        o.timeout_s);
        if (tool == NULL)
            return CLI_EXIT_FAILED;
        int rc = cli_exec_stream("session exec", &o.target, tool, o.timeout_s);
        json_decref(tool);
        return rc;
    }
    if (strcmp(sub, "ls") == 0) {
        if (rest > 0)
            return cli_usage_error("session", "unexpected argument '%s'", rest_argv[0]);
        if (call_or_report(&o.target, "enclave.v1.Enclave", "ListSessions", json_object(), 30, &resp, NULL) < 0)
            return 1;
        json_t *list = json_object_get(resp, "sessions");
        printf("%-24s %-9s %4s %7s %-5s %8s %8s %s\n", "SESSION", "STATUS", "VCPU", "MEM_MB",
               "ACCEL", "AGE", "IDLE", "DEADLINE");
        size_t i;
        json_t *s;
        json_array_foreach(list, i, s) {
            /* int64 fields arrive as JSON strings (proto3 JSON mapping). */
            const char *age_ms = json_string_value(json_object_get(s, "ageMs"));
            const char *idle_ms = json_string_value(json_object_get(s, "idleMs"));
            const char *deadline = json_string_value(json_object_get(s, "deadlineUnixNs"));
            long long idle_timeout = json_integer_value(json_object_get(s, "idleTimeoutS"));
            char idle[48], until[48] = "none";
            snprintf(idle, sizeof(idle), "%llds", idle_ms ? atoll(idle_ms) / 1000 : 0);
            if (idle_timeout > 0) {
                size_t n = strlen(idle);
                snprintf(idle + n, sizeof(idle) - n, "/%llds", idle_timeout);
            }
            if (deadline && atoll(deadline) > 0) {
                time_t t = (time_t)(atoll(deadline) / 1000000000);
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
            }
            cleanup_free char *sid = escaped_field(s, "sessionId", "?");
            cleanup_free char *status = escaped_field(s, "status", "?");
            printf("%-24s %-9s %4lld %7lld %-5s %7llds %8s %s\n", sid ? sid : "?",
                   status ? status : "?", (long long)json_integer_value(json_object_get(s, "vcpu")),
                   (long long)json_integer_value(json_object_get(s, "memoryMb")),
                   json_is_true(json_object_get(s, "kvm")) ? "kvm" : "tcg",
                   age_ms ? atoll(age_ms) / 1000 : 0, idle, until);
        }
        /* Warm pools, when the daemon keeps any. */
        json_t *pools = json_object_get(resp, "pools");
        if (json_array_size(pools) > 0) {
            printf("\n%-24s %4s %7s %5s %7s %4s %7s %8s\n", "POOL", "VCPU", "MEM_MB", "READY",
                   "BOOTING", "SIZE", "CLAIMED", "FAILURES");
            json_array_foreach(pools, i, s) {
                cleanup_free char *image = escaped_field(s, "image", "");
                const char *claimed = json_string_value(json_object_get(s, "claimed"));
                const char *failures = json_string_value(json_object_get(s, "failures"));
                printf("%-24s %4lld %7lld %5lld %7lld %4lld %7lld %8lld\n",
                       image && image[0] ? image : "default",
                       (long long)json_integer_value(json_object_get(s, "vcpu")),
                       (long long)json_integer_value(json_object_get(s, "memoryMb")),
                       (long long)json_integer_value(json_object_get(s, "ready")),
                       (long long)json_integer_value(json_object_get(s, "booting")),
                       (long long)json_integer_value(json_object_get(s, "size")),
                       claimed ? atoll(claimed) : 0, failures ? atoll(failures) : 0);
            }
        }
        json_decref(resp);
        return 0;
    }
    return cli_usage_error("session", "unknown subcommand '%s'", sub);
}
