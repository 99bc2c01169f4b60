#include "common/paths.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sysuser.h"

int paths_home(char *buf, size_t size, const char *sub, struct error *err)
{
    const char *home = getenv("ENCLAVE_HOME");
    char fallback[4096];
    struct sysuser self;
    if (home == NULL || home[0] == '\0') {
        const char *user_home = getenv("HOME");
        if (user_home == NULL || user_home[0] == '\0') {
            if (sysuser_by_uid(getuid(), &self) < 0 || self.home[0] == '\0')
                return error_set(err, ERR_FAILED_PRECONDITION,
                                 "cannot find a home folder: set ENCLAVE_HOME");
            user_home = self.home;
        }
        snprintf(fallback, sizeof(fallback), "%s/.enclave", user_home);
        home = fallback;
    }
    int n = sub ? snprintf(buf, size, "%s/%s", home, sub) : snprintf(buf, size, "%s", home);
    if (n < 0 || (size_t)n >= size)
        return error_set(err, ERR_INVALID_ARGUMENT, "path under ENCLAVE_HOME is too long");
    return 0;
}

int paths_mkdir_p(const char *path, unsigned mode, struct error *err)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp))
        return error_set(err, ERR_INVALID_ARGUMENT, "bad folder path");
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return error_set_errno(err, ERR_INTERNAL, "creating %s", tmp);
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", tmp);
    return 0;
}

/* Folders under the home that hold what no other user may read or change. */
static const char *const private_folders[] = {"run", "audit", "keys", "trust", "snapshots",
                                              "secrets"};

static bool writable_by_others(mode_t mode)
{
    return (mode & (S_IWGRP | S_IWOTH)) != 0;
}

int paths_check_home(struct error *err)
{
    char home[4096], path[4200];
    if (paths_home(home, sizeof(home), NULL, err) < 0 || paths_mkdir_p(home, 0700, err) < 0)
        return -1;
    uid_t self = geteuid();
    struct stat st;
    if (stat(home, &st) < 0)
        return error_set_errno(err, ERR_FAILED_PRECONDITION, "stat %s", home);
    if (!S_ISDIR(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION, "ENCLAVE_HOME %s is not a folder", home);
    if (st.st_uid != self)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "ENCLAVE_HOME %s belongs to uid %u, not to this user (uid %u): another "
                         "user could change what the daemon keeps there",
                         home, (unsigned)st.st_uid, (unsigned)self);
    if (writable_by_others(st.st_mode))
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "ENCLAVE_HOME %s is writable by its group or others (mode %04o): another "
                         "user could replace the tokens, the audit log or the trust store; "
                         "chmod go-w it",
                         home, (unsigned)(st.st_mode & 07777));
    for (size_t i = 0; i < sizeof(private_folders) / sizeof(private_folders[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", home, private_folders[i]);
        if (stat(path, &st) < 0) {
            if (errno == ENOENT)
                continue; /* made 0700 by whoever needs it */
            return error_set_errno(err, ERR_FAILED_PRECONDITION, "stat %s", path);
        }
        if (!S_ISDIR(st.st_mode))
            return error_set(err, ERR_FAILED_PRECONDITION, "%s is not a folder", path);
        if (st.st_uid != self)
            return error_set(err, ERR_FAILED_PRECONDITION,
                             "%s belongs to uid %u, not to this user (uid %u): move it away "
                             "(it is made again)",
                             path, (unsigned)st.st_uid, (unsigned)self);
        if ((st.st_mode & 077) != 0 && chmod(path, st.st_mode & 07700) < 0)
            return error_set_errno(err, ERR_FAILED_PRECONDITION, "making %s private (chmod)",
                                   path);
    }
    snprintf(path, sizeof(path), "%s/cache", home);
    if (stat(path, &st) == 0 &&
        ((st.st_uid != self && st.st_uid != 0) || writable_by_others(st.st_mode)))
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "the image cache %s belongs to uid %u with mode %04o: it must be this "
                         "user's (or root's) and not writable by others, who could replace the "
                         "guest's images",
                         path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
    return 0;
}
