/* Secrets the operator keeps on the host for egress (docs/egress.md,
 * "Secrets that never enter the VM").
 *
 * One file per secret under $ENCLAVE_HOME/secrets (a folder of mode 0700),
 * named after the secret, mode 0600, owned by the daemon's user, written
 * atomically (a temporary file, fsync, rename). The value is what the host
 * proxy puts into a request header for a connection whose net.connect
 * decision names the secret; it never goes to a guest, into the audit log or
 * into a log line. Reading checks the folder and the file again (owner,
 * mode, a regular file, no symbolic link), so a store someone loosened is
 * refused rather than used. */
#ifndef ENCLAVE_SECRET_SECRET_H
#define ENCLAVE_SECRET_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* A name: 1-64 of letters, digits, '.', '_', '-', starting with a letter or
 * a digit (so never "..", never a path). */
#define SECRET_NAME_MAX 64
/* A value: 1-8192 bytes of visible ASCII, spaces and tabs inside (it goes
 * into an HTTP header field: no CR, LF, NUL, no byte over 0x7e), without
 * leading or trailing whitespace. */
#define SECRET_VALUE_MAX 8192
/* ls lists at most this many (a store folder with more entries is
 * ERR_RESOURCE_EXHAUSTED). */
#define SECRET_MAX_COUNT 4096

bool secret_name_valid(const char *name);
/* 0, or -1 with err (ERR_INVALID_ARGUMENT) saying what is wrong, never
 * quoting the value. */
int secret_value_check(const char *value, size_t len, struct error *err);

/* $ENCLAVE_HOME/secrets into buf. */
int secret_default_dir(char *buf, size_t size, struct error *err);

/* Stores value under name in dir (made with mode 0700 when missing),
 * replacing what was there. */
int secret_set(const char *dir, const char *name, const char *value, size_t len, struct error *err);
/* The value in a new NUL-terminated buffer (free with secret_value_free).
 * ERR_NOT_FOUND when there is none; ERR_FAILED_PRECONDITION when the folder
 * or the file is not the owner's alone, not a regular file, or holds an
 * invalid value. */
int secret_get(const char *dir, const char *name, char **value, size_t *len, struct error *err);
/* Wipes and frees. */
void secret_value_free(char *value, size_t len);
/* ERR_NOT_FOUND when there is none. */
int secret_remove(const char *dir, const char *name, struct error *err);
/* The names stored, sorted (a missing folder: none). Free with
 * secret_names_free. */
int secret_list(const char *dir, char ***names, size_t *n, struct error *err);
void secret_names_free(char **names, size_t n);

#endif
