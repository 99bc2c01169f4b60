/* Shared by `enclave run` and `enclave session exec`: read a program, send an
 * ExecuteTool, print the result the way a local command would. */
#ifndef ENCLAVE_CLI_EXEC_COMMON_H
#define ENCLAVE_CLI_EXEC_COMMON_H

#include "cli/client.h"

/* Builds the ToolRequest for a Python file (path or "-") or an argv.
 * Returns a new JSON object, or NULL after printing why. */
json_t *cli_tool_request(const char *verb, const char *session_id, const char *python_file,
                         char **command, int command_len, unsigned timeout_s);
/* Sends it, prints stdout/stderr, returns the exit code to use. */
int cli_execute(const char *verb, const struct client_target *t, json_t *tool_request,
                unsigned timeout_s);

#endif
