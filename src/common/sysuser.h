/* Local users and groups, read from /etc/passwd and /etc/group directly.
 *
 * The release binary is static. glibc's getpwnam/getgrouplist consult the NSS
 * modules named in /etc/nsswitch.conf, which a static program must dlopen
 * from the host's shared glibc; with modules such as nss-systemd that mix of
 * two C libraries crashes. The users Enclave looks up (its VMM user, the
 * caller's own home) are local system accounts, which always live in these
 * files, so the files are read with fgetpwent/fgetgrent and NSS is never
 * loaded. */
#ifndef ENCLAVE_COMMON_SYSUSER_H
#define ENCLAVE_COMMON_SYSUSER_H

#include <stdbool.h>
#include <sys/types.h>

struct sysuser {
    char name[64];
    uid_t uid;
    gid_t gid;
    char home[512];
};

/* Returns 0 when found, -1 when not (or the file cannot be read). */
int sysuser_by_name(const char *name, struct sysuser *out);
int sysuser_by_uid(uid_t uid, struct sysuser *out);

/* The user's groups: gid first, then every group of /etc/group that lists the
 * user as a member, at most *n. Sets *n to the count stored. */
void sysuser_groups(const struct sysuser *u, gid_t *groups, int *n);

#endif
