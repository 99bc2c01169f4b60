/* enclave token: prints (and makes, or replaces) the API's tokens. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "common/paths.h"

static const char token_help[] =
    "usage: enclave token [--operator] [--rotate]\n"
    "\n"
    "Prints the token that API clients send over TCP as \"Authorization: Bearer TOKEN\"\n"
    "(gRPC: the authorization metadata): $ENCLAVE_HOME/run/api-token. When the file\n"
    "is missing it is made first (mode 0600, 32 random bytes in hex), as 'enclave up'\n"
    "does. The enclave CLI reads it by itself; ENCLAVE_TOKEN overrides it. Requests\n"
    "over the Unix socket (enclave up --socket) need no token.\n"
    "\n"
    "options:\n"
    "  --operator    the operator token instead ($ENCLAVE_HOME/run/operator-token):\n"
    "                the principal \"operator\", for acts such as replacing the policy;\n"
    "                do not give it to agents\n"
    "  --rotate      replace the token with a new one and print it; a running daemon\n"
    "                keeps accepting the old one until it restarts\n"
    "  -h, --help    this help\n"
    "\n"
    "environment: ENCLAVE_HOME (default ~/.enclave)\n";

int cli_token(int argc, char **argv)
{
    enum { O_OPERATOR = 256, O_ROTATE };
    static const struct option opts[] = {
        {"operator", no_argument, NULL, O_OPERATOR},
        {"rotate", no_argument, NULL, O_ROTATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool operator = false, rotate = false;
    int c;
    struct args_getopt g = {.argc = argc, .argv = argv, .opts = opts, .help = token_help};
    while ((c = args_getopt_next(&g)) != -1) {
        switch (c) {
        case 'h':
            return 0;
        case O_OPERATOR:
            operator = true;
            break;
        case O_ROTATE:
            rotate = true;
            break;
        default:
            return cli_usage_error("token", "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("token", "unexpected argument '%s' (see --help)", argv[optind]);
    char run[4096], path[4200];
    struct error err;
    if (paths_home(run, sizeof(run), "run", &err) < 0 || paths_mkdir_p(run, 0700, &err) < 0) {
        fprintf(stderr, "enclave token: %s\n", err.message);
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", run, operator ? "operator-token" : "api-token");
    char token[API_TOKEN_MAX + 1];
    int rc = rotate ? api_token_create(path, token, sizeof(token), &err)
                    : api_token_load_or_create(path, token, sizeof(token), &err);
    if (rc < 0) {
        fprintf(stderr, "enclave token: %s\n", err.message);
        return 1;
    }
    printf("%s\n", token);
    OPENSSL_cleanse(token, sizeof(token));
    if (rotate)
        fprintf(stderr, "enclave token: %s replaced; restart the daemon to use it\n", path);
    return 0;
}
