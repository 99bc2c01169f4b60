#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_verb image_verbs[] = {
#define X(verb, fn, summary) {#verb, fn, summary},
    CLI_IMAGE_VERBS(X)
#undef X
};

static void image_help(FILE *out)
{
    fprintf(out, "usage: enclave image SUBCOMMAND [ARGS...]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof(image_verbs) / sizeof(image_verbs[0]); i++)
        fprintf(out, "  %-8s %s\n", image_verbs[i].name, image_verbs[i].summary);
    fprintf(out, "\nRun 'enclave image SUBCOMMAND --help' for its options.\n");
}

int cli_image(int argc, char **argv)
{
    if (argc < 2) {
        image_help(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        image_help(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(image_verbs) / sizeof(image_verbs[0]); i++) {
        if (strcmp(argv[1], image_verbs[i].name) != 0)
            continue;
        if (image_verbs[i].fn == NULL) {
            fprintf(stderr, "enclave image: '%s' is not part of this build\n", argv[1]);
            return 2;
        }
        return image_verbs[i].fn(argc - 1, argv + 1);
    }
    return cli_usage_error("image", "unknown subcommand '%s'", argv[1]);
}
