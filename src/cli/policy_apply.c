/* enclave policy apply: replaces the daemon's policy bundle (ApplyPolicy),
 * as the operator when the operator token can be read. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "common/file.h"

#define MAX_POLICY_DOCUMENT (4u << 20)

static const char apply_help[] =
    "usage: enclave policy apply [--session ID] [--addr HOST:PORT | --socket PATH] FILE\n"
    "\n"
    "Replaces the policy bundle of the running daemon (ApplyPolicy). FILE (\"-\" for\n"
    "stdin, at most 4 MiB) is a Rego module, or a YAML or JSON document\n"
    "{modules: {NAME.rego: TEXT}, data: {...}} (docs/policy.md). The bundle in force\n"
    "decides whether it may be replaced; a bundle that does not parse, compile or\n"
    "pass its own test_* rules is refused and the old one stays.\n"
    "\n"
    "Policy changes are the operator's act: over TCP this sends the operator token\n"
    "($ENCLAVE_HOME/run/operator-token) when it can be read, else the API token\n"
    "(ENCLAVE_TOKEN overrides both); over the Unix socket the daemon's own user is\n"
    "the operator.\n"
    "\n"
    "options:\n"
    "  --session ID        the session the change is recorded under (default none)\n"
    "  --addr HOST:PORT    the daemon (default $ENCLAVE_ADDR or 127.0.0.1:7339)\n"
    "  --socket PATH       the daemon's Unix socket (default $ENCLAVE_SOCKET)\n"
    "  -h, --help          this help\n"
    "\n"
    "exit status: 0 applied, 1 refused or failed, 2 usage error.\n";

int cli_policy_apply(int argc, char **argv)
{
    enum { O_SESSION = 256, O_ADDR, O_SOCKET };
    static const struct option opts[] = {
        {"session", required_argument, NULL, O_SESSION},
        {"addr", required_argument, NULL, O_ADDR},
        {"socket", required_argument, NULL, O_SOCKET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct client_target target;
    client_target_default(&target);
    target.operator = true;
    const char *session = "";
    int c;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = apply_help};
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 0;
        case O_SESSION:
            session = optarg;
            break;
        case O_ADDR:
            target.addr = optarg;
            target.socket_path = NULL;
            break;
        case O_SOCKET:
            target.socket_path = optarg;
            break;
        default:
            return cli_usage_error("policy apply", "unknown option '%s' (see --help)",
                                   argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return cli_usage_error("policy apply", "exactly one FILE is required (see --help)");
    const char *path = argv[optind];
    struct error err;
    char *text = NULL;
    size_t len = 0;
    int rc = strcmp(path, "-") == 0
                 ? file_read_stream_all(STDIN_FILENO, "stdin", MAX_POLICY_DOCUMENT, &text, &len, &err)
                 : file_read_all(path, MAX_POLICY_DOCUMENT, &text, &len, &err);
    if (rc < 0) {
        fprintf(stderr, "enclave policy apply: %s\n", err.message);
        return 1;
    }
    json_t *doc = json_stringn(text, len);
    free(text);
    if (doc == NULL) {
        fprintf(stderr, "enclave policy apply: %s is not UTF-8 text\n", path);
        return 1;
    }
    json_t *req = json_pack("{s:s, s:o}", "sessionId", session, "policyYaml", doc);
    json_t *resp = NULL;
    rc = req != NULL ? client_call(&target, "agent.v1.AgentService", "ApplyPolicy", req, 120,
                                   &resp, &err)
                     : error_set(&err, ERR_INTERNAL, "out of memory");
    json_decref(req);
    if (rc < 0) {
        fprintf(stderr, "enclave policy apply: %s\n", err.message);
        return 1;
    }
    bool ok = json_is_true(json_object_get(resp, "success"));
    const char *why = json_string_value(json_object_get(resp, "error"));
    if (ok) {
        fprintf(stderr, "enclave policy apply: %s is in force\n", path);
    } else {
        fprintf(stderr, "enclave policy apply: refused: ");
        cli_put_escaped(stderr, why ? why : "(no reason given)"); /* the daemon's text */
        fputc('\n', stderr);
    }
    json_decref(resp);
    return ok ? 0 : 1;
}
