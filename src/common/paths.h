/* Where Enclave keeps its files: $ENCLAVE_HOME, else ~/.enclave. */
#ifndef ENCLAVE_COMMON_PATHS_H
#define ENCLAVE_COMMON_PATHS_H

#include <stddef.h>

#include "common/error.h"

/* Writes "<home>/<sub>" (or just <home> when sub is NULL) into buf. */
int paths_home(char *buf, size_t size, const char *sub, struct error *err);
/* mkdir -p with the given mode for every created component. */
int paths_mkdir_p(const char *path, unsigned mode, struct error *err);

#endif
