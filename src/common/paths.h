/* Where Enclave keeps its files: $ENCLAVE_HOME, else ~/.enclave. */
#ifndef ENCLAVE_COMMON_PATHS_H
#define ENCLAVE_COMMON_PATHS_H

#include <stddef.h>

#include "common/error.h"

/* Writes "<home>/<sub>" (or just <home> when sub is NULL) into buf. */
int paths_home(char *buf, size_t size, const char *sub, struct error *err);
/* mkdir -p with the given mode for every created component. */
int paths_mkdir_p(const char *path, unsigned mode, struct error *err);
/* Makes $ENCLAVE_HOME (0700) when it is missing and refuses one that another
 * local user could change: it must be a folder of this user that neither its
 * group nor others may write (they could replace what the daemon keeps there:
 * the tokens, the audit log, the trust store). The folders that hold secrets
 * (run, audit, keys, trust, snapshots, secrets) must be this user's where they
 * exist, and are made 0700 when their mode is looser; the image cache must be
 * this user's or root's and not writable by others. */
int paths_check_home(struct error *err);

#endif
