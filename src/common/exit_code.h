/* Exit statuses the way a shell reports them: 0-255, 128 + N for a process
 * that signal N ended. The numbers come from peers (the guest's ExecResponse,
 * the daemon's reply to the CLI), so nothing here trusts their range: the
 * arithmetic cannot overflow, and a value that is no exit status becomes 255
 * rather than wrapping (256 would otherwise read as 0, success). */
#ifndef ENCLAVE_COMMON_EXIT_CODE_H
#define ENCLAVE_COMMON_EXIT_CODE_H

#include <stdint.h>

#define EXIT_CODE_UNKNOWN 255

/* 128 + signal for a signal of 1-127; EXIT_CODE_UNKNOWN for anything else. */
int exit_code_for_signal(int64_t signal);
/* code itself when it is 0-255; EXIT_CODE_UNKNOWN for anything else. */
int exit_code_clamp(int64_t code);

#endif
