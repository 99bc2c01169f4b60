/* Shared by `enclave run` and `enclave session exec`: read a program, run it
 * with the streaming Exec, print the output as it comes, the way a local
 * command would. */
#ifndef ENCLAVE_CLI_EXEC_COMMON_H
#define ENCLAVE_CLI_EXEC_COMMON_H

#include "cli/client.h"

/* Adds to a StartSession request what `run` and `session start` both ask for:
 * vcpu and memoryMb (0: the daemon's default) and egress. */
void cli_start_request_add(json_t *req, unsigned vcpus, unsigned mem_mb, bool egress);
/* Builds an enclave.v1 ExecRequest for a Python file (path or "-"; run as
 * python3 -c CODE, or python3 - with the code on stdin when it is long) or
 * an argv. Returns a new JSON object, or NULL after printing why. */
json_t *cli_exec_request(const char *verb, const char *session_id, const char *python_file,
                         char **command, int command_len, unsigned timeout_s);
/* Runs it through the streaming Exec, printing stdout and stderr as they
 * arrive; returns the exit code to use (124 timed out, 128+N signal N, 125
 * Enclave failed, 126 the policy denied). */
int cli_exec_stream(const char *verb, const struct client_target *t, json_t *exec_request,
                    unsigned timeout_s);

#endif
