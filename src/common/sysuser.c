#include "common/sysuser.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#define PASSWD_FILE "/etc/passwd"
#define GROUP_FILE "/etc/group"

static void fill(const struct passwd *pw, struct sysuser *out)
{
    snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
    snprintf(out->home, sizeof(out->home), "%s", pw->pw_dir ? pw->pw_dir : "");
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
}

static int find(const char *name, uid_t uid, struct sysuser *out)
{
    FILE *f = fopen(PASSWD_FILE, "re");
    if (f == NULL)
        return -1;
    int rc = -1;
    struct passwd *pw;
    while ((pw = fgetpwent(f)) != NULL) {
        if (name ? strcmp(pw->pw_name, name) == 0 : pw->pw_uid == uid) {
            if (name != NULL && strlen(pw->pw_name) >= sizeof(out->name))
                break;
            fill(pw, out);
            rc = 0;
            break;
        }
    }
    fclose(f);
    return rc;
}

int sysuser_by_name(const char *name, struct sysuser *out)
{
    return find(name, 0, out);
}

int sysuser_by_uid(uid_t uid, struct sysuser *out)
{
    return find(NULL, uid, out);
}

void sysuser_groups(const struct sysuser *u, gid_t *groups, int *n)
{
    int max = *n, count = 0;
    if (max > 0)
        groups[count++] = u->gid;
    FILE *f = fopen(GROUP_FILE, "re");
    if (f != NULL) {
        struct group *gr;
        while (count < max && (gr = fgetgrent(f)) != NULL) {
            if (gr->gr_gid == u->gid || gr->gr_mem == NULL)
                continue;
            for (char **m = gr->gr_mem; *m != NULL; m++) {
                if (strcmp(*m, u->name) == 0) {
                    groups[count++] = gr->gr_gid;
                    break;
                }
            }
        }
        fclose(f);
    }
    *n = count;
}
