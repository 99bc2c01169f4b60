#include "common/paths.h"

#include <errno.h>
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
