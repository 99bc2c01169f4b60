#include "cli/args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int args_getopt_next(struct args_getopt *g)
{
    if (!g->started) {
        optind = 0;
        opterr = 0;
        g->started = true;
    }
    int c = getopt_long(g->argc, g->argv, "+h", g->opts, g->longindex);
    if (c == 'h')
        fputs(g->help, stdout);
    return c;
}

int args_parse_uint(const char *s, const char *name, unsigned min, unsigned max, unsigned *out,
                    struct error *err)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be a whole number, not '%s'", name,
                         s ? s : "");
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be a whole number, not '%s'", name, s);
    if (v < min || v > max)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be between %u and %u, not %s", name,
                         min, max, s);
    *out = (unsigned)v;
    return 0;
}

int args_parse_duration(const char *s, const char *name, unsigned max, unsigned *out,
                        struct error *err)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "%s must be a duration like 90, 90s, 15m, 24h or 7d", name);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long unit = 1;
    if (*end == 's')
        unit = 1;
    else if (*end == 'm')
        unit = 60;
    else if (*end == 'h')
        unit = 3600;
    else if (*end == 'd')
        unit = 86400;
    else if (*end != '\0')
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "%s must be a duration like 90, 90s, 15m, 24h or 7d", name);
    if (*end != '\0' && end[1] != '\0')
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "%s must be a duration like 90, 90s, 15m, 24h or 7d", name);
    if (errno != 0 || v > max / unit)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be at most %u seconds", name, max);
    *out = (unsigned)(v * unit);
    return 0;
}

int args_parse_size(const char *s, const char *name, uint64_t *out, struct error *err)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be a size like 1048576, 512K or 64M",
                         name);
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "%s is out of range", name);
    unsigned shift = 0;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    else if (*end != '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be a size like 1048576, 512K or 64M",
                         name);
    if (shift && end[1] != '\0')
        return error_set(err, ERR_INVALID_ARGUMENT, "%s must be a size like 1048576, 512K or 64M",
                         name);
    if (v > (UINT64_MAX >> shift))
        return error_set(err, ERR_INVALID_ARGUMENT, "%s is out of range", name);
    *out = (uint64_t)v << shift;
    return 0;
}

int args_parse_pool(const char *s, struct daemon_pool *out, struct error *err)
{
    struct daemon_pool p = {0};
    const char *eq = strrchr(s, '=');
    const char *count = eq ? eq + 1 : s;
    if (args_parse_uint(count, "--pool size", 0, 64, &p.size, err) < 0)
        return -1;
    if (eq != NULL) {
        size_t name_len = (size_t)(eq - s);
        const char *colon = memchr(s, ':', name_len);
        if (colon != NULL) {
            /* VCPUSxMEM_MB */
            char size_spec[32];
            size_t n = (size_t)(eq - colon - 1);
            if (n == 0 || n >= sizeof(size_spec))
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--pool %s: the size is VCPUSxMEM_MB, e.g. default:2x1024=2", s);
            memcpy(size_spec, colon + 1, n);
            size_spec[n] = '\0';
            char *x = strchr(size_spec, 'x');
            if (x == NULL)
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--pool %s: the size is VCPUSxMEM_MB, e.g. default:2x1024=2", s);
            *x = '\0';
            if (args_parse_uint(size_spec, "--pool vCPUs", 1, 16, &p.vcpus, err) < 0 ||
                args_parse_uint(x + 1, "--pool memory", 128, 16384, &p.mem_mb, err) < 0)
                return -1;
            name_len = (size_t)(colon - s);
        }
        if (name_len == 0 || name_len >= sizeof(p.image))
            return error_set(err, ERR_INVALID_ARGUMENT, "--pool %s: the image name must be 1-64 characters", s);
        memcpy(p.image, s, name_len);
        p.image[name_len] = '\0';
        for (size_t i = 0; i < name_len; i++) {
            char c = p.image[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-') ||
                (i == 0 && (c == '.' || c == '-')))
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--pool %s: an image name is [A-Za-z0-9._-], not starting with . or -", s);
        }
    }
    *out = p;
    return 0;
}

int args_parse_shared(const char *name, const char *value, const struct args_shared *to,
                      struct error *err)
{
    if (strcmp(name, "cpu") == 0 && to->vcpus)
        return args_parse_uint(value, "--cpu", 1, 16, to->vcpus, err);
    if (strcmp(name, "mem") == 0 && to->mem_mb)
        return args_parse_uint(value, "--mem", 128, 16384, to->mem_mb, err);
    if (strcmp(name, "timeout") == 0 && to->timeout_s)
        return args_parse_uint(value, "--timeout", 1, 86400, to->timeout_s, err);
    if (strcmp(name, "python") == 0 && to->python_file) {
        *to->python_file = value;
        return 0;
    }
    if (strcmp(name, "addr") == 0 && to->target) {
        to->target->addr = value;
        to->target->socket_path = NULL;
        return 0;
    }
    if (strcmp(name, "socket") == 0 && to->target) {
        to->target->socket_path = value;
        return 0;
    }
    return error_set(err, ERR_INVALID_ARGUMENT, "unknown option '--%s'", name);
}

static const char up_help[] =
    "usage: enclave up [OPTIONS]\n"
    "\n"
    "Starts the daemon: the API (Connect over HTTP/1.1 with JSON, and gRPC over\n"
    "HTTP/2) on 127.0.0.1:7339, one microVM per session. Runs in the foreground\n"
    "until SIGINT or SIGTERM, which stop every VM. VMs left behind by a daemon\n"
    "that crashed are killed at start.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT    TCP address (default 127.0.0.1:7339; loopback only)\n"
    "  --socket PATH         listen on a Unix socket instead of TCP\n"
    "  --cpu N               vCPUs per VM unless a session asks (default 1, 1-16)\n"
    "  --mem MB              memory per VM in MiB unless a session asks (default 512)\n"
    "  --max-sessions N      sessions at once (default 16)\n"
    "  --pool SPEC           keep booted, idle VMs ready for StartSession; repeatable.\n"
    "                        SPEC is N (the default image and size), IMAGE=N, or\n"
    "                        IMAGE:VCPUSxMEM_MB=N (IMAGE 'default': the daemon's own).\n"
    "                        A start of that image and size claims one (after the\n"
    "                        policy's decision, audited); the pool refills one boot\n"
    "                        at a time; a VM serves one session and is destroyed\n"
    "                        with it. Other sizes boot cold. 0: no pool. Default:\n"
    "                        chosen from free memory and CPUs, said at start (0 with\n"
    "                        under 4 CPUs, or under 4 GiB and one VM available)\n"
    "  --restore on|off      snapshot restore (QEMU): boot one VM of the default image\n"
    "                        and size in the background, save it under\n"
    "                        $ENCLAVE_HOME/snapshots once enclave-init serves, and\n"
    "                        start later sessions of that image and size that find\n"
    "                        no pool VM by restoring it (each restored VM gets its\n"
    "                        own channel key, fresh RNG entropy and the time). The\n"
    "                        snapshot is rebuilt when the image, its command line,\n"
    "                        the size or QEMU changes; a restore that fails boots\n"
    "                        cold. Default on (faster than a cold boot under TCG\n"
    "                        and KVM; docs/fast-start.md)\n"
    "  --boot-timeout S      seconds a VM may take to answer (default 60)\n"
    "  --exec-timeout S      default timeout of one command (default 30)\n"
    "  --max-output SIZE     cap on stdout and on stderr of one command (default 1M, at most 3M)\n"
    "  --max-input SIZE      cap on one command's code or argv and stdin (default 1M, at most 4M)\n"
    "  --max-stream-output SIZE\n"
    "                        cap on stdout and on stderr of one streamed command\n"
    "                        (enclave.v1 Exec; default 16M, at most 1G); output past it\n"
    "                        is dropped and the exit event says truncated\n"
    "  --session-idle-timeout D\n"
    "                        stop a session after this long without a command\n"
    "                        (default 15m; 0: never); a session may ask for its own\n"
    "  --session-max-lifetime D\n"
    "                        stop a session this long after it started (default 24h;\n"
    "                        0: never); D is seconds or 90s, 15m, 24h, 7d\n"
    "  --provider P          where KVM comes from: auto, native, lima, wsl2 (default auto)\n"
    "  --accel A             auto, kvm or tcg (default auto: KVM when /dev/kvm works;\n"
    "                        without KVM the VM is emulated: slower, and isolation rests\n"
    "                        on QEMU's emulation rather than on hardware;\n"
    "                        ENCLAVE_ACCEL=tcg in the environment forces tcg too)\n"
    "  --vmm V               qemu or firecracker (default qemu; firecracker needs KVM and\n"
    "                        the firecracker binary on PATH or in $ENCLAVE_FIRECRACKER)\n"
    "  --policy DIR          Rego policy bundle (default: the built-in constitution)\n"
    "  --image REF           when no guest image is installed: pull REF from its OCI\n"
    "                        registry, verify its signature against the trusted keys\n"
    "                        ($ENCLAVE_HOME/trust/*.pub) and install it (audited);\n"
    "                        ignored when an image is installed already\n"
    "  --audit-witness PATH  append every signed audit checkpoint (a JSON line with its\n"
    "                        C2SP signed note) to PATH, or to PATH/audit-checkpoints.jsonl\n"
    "                        when PATH is a folder; keep it off this machine's disk\n"
    "                        (another disk, a mounted remote, a git work tree), then\n"
    "                        'enclave audit verify --witness' catches a log that was\n"
    "                        cut or rewritten after any of them\n"
    "  --detach              go to the background once the API is listening\n"
    "  --allow-root          run even as root (refused otherwise); VMMs still run as the\n"
    "                        unprivileged user enclave-vmm (made by scripts/install-deps;\n"
    "                        'nobody' when it is missing). No effect for other users\n"
    "  -h, --help            this help\n"
    "\n"
    "Over TCP every request needs a token (\"Authorization: Bearer TOKEN\"): the API\n"
    "token $ENCLAVE_HOME/run/api-token or the operator token run/operator-token,\n"
    "both made at start when missing (mode 0600); 'enclave token' prints them. Host\n"
    "and Origin must be the daemon's own, and a browser's Sec-Fetch-Site same-origin\n"
    "or none; over --socket the peer's uid must be this user's or root. See\n"
    "docs/security.md.\n"
    "\n"
    "environment: ENCLAVE_HOME (default ~/.enclave; refused unless it is this user's\n"
    "and neither its group nor others may write it), ENCLAVE_LOG=debug|info|warn|error,\n"
    "ENCLAVE_AUDIT_CHECKPOINT_S (sign an audit checkpoint over unsigned records this\n"
    "often, default 30 seconds), ENCLAVE_EGRESS_TRUST_FILE (a PEM file of the CAs that\n"
    "egress trusts when it opens TLS to a server to add a secret; default: the\n"
    "system's; see docs/egress.md). Secrets egress adds: 'enclave secret'.\n";

int args_parse_up(int argc, char **argv, struct up_args *out, struct error *err)
{
    enum { O_LISTEN = 256, O_SOCKET, O_CPU, O_MEM, O_MAXS, O_BOOT, O_EXEC, O_MAXOUT, O_MAXIN,
           O_PROVIDER, O_ACCEL, O_POLICY, O_DETACH, O_IMAGE, O_VMM, O_MAXSTREAM, O_IDLE,
           O_LIFETIME, O_AUDIT_WITNESS, O_ALLOW_ROOT, O_POOL, O_RESTORE };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"socket", required_argument, NULL, O_SOCKET},
        {"cpu", required_argument, NULL, O_CPU},
        {"mem", required_argument, NULL, O_MEM},
        {"max-sessions", required_argument, NULL, O_MAXS},
        {"boot-timeout", required_argument, NULL, O_BOOT},
        {"exec-timeout", required_argument, NULL, O_EXEC},
        {"max-output", required_argument, NULL, O_MAXOUT},
        {"max-input", required_argument, NULL, O_MAXIN},
        {"max-stream-output", required_argument, NULL, O_MAXSTREAM},
        {"session-idle-timeout", required_argument, NULL, O_IDLE},
        {"session-max-lifetime", required_argument, NULL, O_LIFETIME},
        {"provider", required_argument, NULL, O_PROVIDER},
        {"accel", required_argument, NULL, O_ACCEL},
        {"vmm", required_argument, NULL, O_VMM},
        {"policy", required_argument, NULL, O_POLICY},
        {"detach", no_argument, NULL, O_DETACH},
        {"allow-root", no_argument, NULL, O_ALLOW_ROOT},
        {"pool", required_argument, NULL, O_POOL},
        {"restore", required_argument, NULL, O_RESTORE},
        {"image", required_argument, NULL, O_IMAGE},
        {"audit-witness", required_argument, NULL, O_AUDIT_WITNESS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(out, 0, sizeof(*out));
    daemon_options_defaults(&out->daemon);
    struct daemon_options *d = &out->daemon;
    int c;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = up_help};
    uint64_t size;
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 1;
        case O_LISTEN:
            d->listen = optarg;
            break;
        case O_SOCKET:
            d->socket_path = optarg;
            break;
        case O_CPU:
        case O_MEM:
            if (args_parse_shared(c == O_CPU ? "cpu" : "mem", optarg,
                                  &(struct args_shared){.vcpus = &d->vcpus, .mem_mb = &d->mem_mb},
                                  err) < 0)
                return -1;
            break;
        case O_MAXS:
            if (args_parse_uint(optarg, "--max-sessions", 1, 1024, &d->max_sessions, err) < 0)
                return -1;
            break;
        case O_BOOT:
            if (args_parse_uint(optarg, "--boot-timeout", 1, 3600, &d->boot_timeout_s, err) < 0)
                return -1;
            break;
        case O_EXEC:
            if (args_parse_uint(optarg, "--exec-timeout", 1, 86400, &d->default_exec_timeout_s, err) < 0)
                return -1;
            if (d->default_exec_timeout_s > d->max_exec_timeout_s)
                d->max_exec_timeout_s = d->default_exec_timeout_s;
            break;
        case O_MAXOUT:
            if (args_parse_size(optarg, "--max-output", &size, err) < 0)
                return -1;
            /* Both streams travel back in one guest frame (at most 8 MiB). */
            if (size < 1024 || size > (3ull << 20))
                return error_set(err, ERR_INVALID_ARGUMENT, "--max-output must be between 1K and 3M");
            d->max_output_bytes = size;
            break;
        case O_MAXIN:
            if (args_parse_size(optarg, "--max-input", &size, err) < 0)
                return -1;
            /* The guest takes at most 4 MiB of stdin in one request. */
            if (size < 1024 || size > (4ull << 20))
                return error_set(err, ERR_INVALID_ARGUMENT, "--max-input must be between 1K and 4M");
            d->max_input_bytes = (size_t)size;
            break;
        case O_MAXSTREAM:
            if (args_parse_size(optarg, "--max-stream-output", &size, err) < 0)
                return -1;
            if (size < 1024 || size > (1ull << 30))
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--max-stream-output must be between 1K and 1G");
            d->max_stream_output_bytes = size;
            break;
        case O_IDLE:
            if (args_parse_duration(optarg, "--session-idle-timeout", 365 * 86400,
                                    &d->session_idle_timeout_s, err) < 0)
                return -1;
            break;
        case O_LIFETIME:
            if (args_parse_duration(optarg, "--session-max-lifetime", 365 * 86400,
                                    &d->session_max_lifetime_s, err) < 0)
                return -1;
            break;
        case O_PROVIDER:
            if (vmm_parse_provider(optarg, &d->provider) < 0)
                return error_set(err, ERR_INVALID_ARGUMENT,
                                 "--provider must be auto, native, lima or wsl2, not '%s'", optarg);
            break;
        case O_ACCEL:
            if (strcmp(optarg, "auto") == 0)
                d->accel = VMM_ACCEL_AUTO;
            else if (strcmp(optarg, "kvm") == 0)
                d->accel = VMM_ACCEL_KVM;
            else if (strcmp(optarg, "tcg") == 0)
                d->accel = VMM_ACCEL_TCG;
            else
                return error_set(err, ERR_INVALID_ARGUMENT, "--accel must be auto, kvm or tcg, not '%s'",
                                 optarg);
            break;
        case O_VMM:
            if (strcmp(optarg, "qemu") == 0)
                d->vmm_driver = &vmm_qemu_driver;
            else if (strcmp(optarg, "firecracker") == 0)
                d->vmm_driver = &vmm_firecracker_driver;
            else
                return error_set(err, ERR_INVALID_ARGUMENT, "--vmm must be qemu or firecracker, not '%s'",
                                 optarg);
            break;
        case O_POLICY:
            d->policy_dir = optarg;
            break;
        case O_DETACH:
            out->detach = true;
            break;
        case O_ALLOW_ROOT:
            d->allow_root = true;
            break;
        case O_POOL: {
            struct daemon_pool p;
            if (args_parse_pool(optarg, &p, err) < 0)
                return -1;
            d->pools_set = true;
            if (p.size == 0)
                break; /* "--pool 0": none (of this kind) */
            for (size_t i = 0; i < d->n_pools; i++)
                if (strcmp(d->pools[i].image, p.image) == 0 && d->pools[i].vcpus == p.vcpus &&
                    d->pools[i].mem_mb == p.mem_mb)
                    return error_set(err, ERR_INVALID_ARGUMENT, "--pool %s: that pool is given twice", optarg);
            if (d->n_pools >= DAEMON_MAX_POOLS)
                return error_set(err, ERR_INVALID_ARGUMENT, "at most %d --pool", DAEMON_MAX_POOLS);
            d->pools[d->n_pools++] = p;
            break;
        }
        case O_RESTORE:
            if (strcmp(optarg, "on") == 0)
                d->restore = true;
            else if (strcmp(optarg, "off") == 0)
                d->restore = false;
            else
                return error_set(err, ERR_INVALID_ARGUMENT, "--restore must be on or off, not '%s'", optarg);
            break;
        case O_IMAGE:
            if (optarg[0] == '\0')
                return error_set(err, ERR_INVALID_ARGUMENT, "--image needs an image reference");
            d->image_ref = optarg;
            break;
        case O_AUDIT_WITNESS:
            if (optarg[0] == '\0')
                return error_set(err, ERR_INVALID_ARGUMENT, "--audit-witness needs a file or folder");
            d->audit_witness = optarg;
            break;
        default:
            return error_set(err, ERR_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return error_set(err, ERR_INVALID_ARGUMENT, "unexpected argument '%s'", argv[optind]);
    return 0;
}

static const char run_help[] =
    "usage: enclave run [OPTIONS] -- COMMAND [ARGS...]\n"
    "       enclave run [OPTIONS] --python FILE\n"
    "\n"
    "Starts a session (a fresh microVM) through the daemon, runs one command in it\n"
    "as uid 1000 with no network (unless --egress), prints its stdout and stderr\n"
    "as they arrive, stops the session and exits with the command's exit code (124\n"
    "on timeout, 128+N on signal N; 125 when Enclave itself fails, e.g. no daemon\n"
    "or an unreadable --python FILE; 126 when the policy refuses the session or\n"
    "the command; 2 for a bad command line, before anything starts).\n"
    "\n"
    "options:\n"
    "  --python FILE     run a Python file ('-' reads the program from stdin); it is\n"
    "                    read, and must be UTF-8 text, before the session starts\n"
    "  --timeout S       seconds before the command and its children are killed\n"
    "  --cpu N           vCPUs for the new VM (default: the daemon's)\n"
    "  --mem MB          memory for the new VM in MiB (default: the daemon's)\n"
    "  --session ID      run in this existing session and leave it running\n"
    "  --egress          the new session may make outbound HTTP(S) connections\n"
    "                    through the guest's proxy, each one decided by the policy\n"
    "                    (see 'enclave session start --help' and docs/egress.md)\n"
    "  --addr HOST:PORT  the daemon (default $ENCLAVE_ADDR or 127.0.0.1:7339)\n"
    "  --socket PATH     the daemon's Unix socket (default $ENCLAVE_SOCKET)\n"
    "  -h, --help        this help\n"
    "\n"
    "Over TCP the token sent is $ENCLAVE_TOKEN, else $ENCLAVE_HOME/run/api-token.\n"
    "\n"
    "example: enclave run -- python3 -c 'print(6*7)'\n";

int args_parse_run(int argc, char **argv, struct run_args *out, struct error *err)
{
    enum { O_PYTHON = 256, O_TIMEOUT, O_CPU, O_MEM, O_SESSION, O_ADDR, O_SOCKET, O_EGRESS };
    static const struct option opts[] = {
        {"python", required_argument, NULL, O_PYTHON},
        {"egress", no_argument, NULL, O_EGRESS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"cpu", required_argument, NULL, O_CPU},
        {"mem", required_argument, NULL, O_MEM},
        {"session", required_argument, NULL, O_SESSION},
        {"addr", required_argument, NULL, O_ADDR},
        {"socket", required_argument, NULL, O_SOCKET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(out, 0, sizeof(*out));
    client_target_default(&out->target);
    int c, idx = 0;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = run_help, .longindex = &idx};
    const struct args_shared shared = {.vcpus = &out->vcpus, .mem_mb = &out->mem_mb,
                                       .timeout_s = &out->timeout_s,
                                       .python_file = &out->python_file, .target = &out->target};
    /* '+': stop at the first non-option, so the command's own options are its own. */
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 1;
        case O_PYTHON:
        case O_TIMEOUT:
        case O_CPU:
        case O_MEM:
        case O_ADDR:
        case O_SOCKET:
            if (args_parse_shared(opts[idx].name, optarg, &shared, err) < 0)
                return -1;
            break;
        case O_SESSION:
            out->session_id = optarg;
            break;
        case O_EGRESS:
            out->egress = true;
            break;
        default:
            return error_set(err, ERR_INVALID_ARGUMENT, "unknown option '%s'", argv[optind - 1]);
        }
    }
    out->command = argv + optind;
    out->command_len = argc - optind;
    if (out->python_file && out->command_len > 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "give either --python FILE or a command, not both");
    if (!out->python_file && out->command_len == 0)
        return error_set(err, ERR_INVALID_ARGUMENT, "nothing to run: give -- COMMAND or --python FILE");
    if (out->session_id && (out->vcpus || out->mem_mb))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "--cpu and --mem size a new VM; with --session the VM exists already");
    if (out->session_id && out->egress)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "--egress is chosen when a session starts; with --session it exists already");
    return 0;
}
