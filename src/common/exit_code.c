#include "common/exit_code.h"

int exit_code_for_signal(int64_t signal)
{
    /* Compare before adding: 128 + a peer's INT32_MAX is undefined. */
    if (signal < 1 || signal > 127)
        return EXIT_CODE_UNKNOWN;
    return 128 + (int)signal;
}

int exit_code_clamp(int64_t code)
{
    return code >= 0 && code <= 255 ? (int)code : EXIT_CODE_UNKNOWN;
}
