#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"

static const struct cli_verb verbs[] = {
#define X(verb, fn, summary) {#verb, fn, summary},
    CLI_VERBS(X)
#undef X
};

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: enclave VERB [ARGS...]\n"
            "\n"
            "Enclave runs agent-written code in microVMs, checks every request against a\n"
            "Rego policy and keeps a signed audit trail of every decision.\n"
            "\n"
            "verbs:\n");
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        fprintf(out, "  %-9s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(out,
            "\n"
            "Run 'enclave VERB --help' for a verb's options.\n"
            "Files live under $ENCLAVE_HOME (default ~/.enclave).\n"
            "\n"
            "Exit status: 0 done; 2 a bad command line (nothing was done). 'run',\n"
            "'session start', 'session exec' and 'session code' exit 125 when Enclave\n"
            "fails and 126 when the policy refuses (otherwise run and exec exit with the\n"
            "workload's code: 124 timed out, 128+N killed by signal N); the other verbs\n"
            "exit 1 when they fail.\n");
}

int main(int argc, char **argv)
{
    log_init_from_env();
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0 || strcmp(verb, "help") == 0) {
        print_help(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(verb, verbs[i].name) != 0)
            continue;
        if (verbs[i].fn == NULL) {
            fprintf(stderr, "enclave: '%s' is not part of this build\n", verb);
            return 2;
        }
        return verbs[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "enclave: unknown verb '%s' (see 'enclave --help')\n", verb);
    return 2;
}
