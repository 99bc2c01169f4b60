#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/text.h"

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "enclave %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'enclave %s --help')\n", verb);
    return CLI_EXIT_USAGE;
}

int cli_exit_for_error(int error_kind)
{
    return error_kind == ERR_PERMISSION_DENIED ? CLI_EXIT_REFUSED : CLI_EXIT_FAILED;
}

int cli_put_escaped(FILE *out, const char *text)
{
    char *safe = text_escape_terminal(text);
    int rc = fputs(safe ? safe : "?", out);
    free(safe);
    return rc;
}

int cli_put_json(FILE *out, const char *json)
{
    char *safe = text_escape_json_terminal(json);
    int rc = safe ? fputs(safe, out) : EOF;
    free(safe);
    return rc;
}
