/* Reading files whole with a limit, replacing files atomically, removing
 * trees, the RFC 3339 clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/file.h"
#include "common/test_dir.h"
#include "common/text.h"

static const char *const dir = test_dir;

static void test_read_all(void **state)
{
    (void)state;
    char path[80];
    snprintf(path, sizeof(path), "%s/small", dir);
    test_put_file(dir, "small", "hello");
    char *buf = NULL;
    size_t len = 0;
    struct error err = {0};
    assert_int_equal(file_read_all(path, 5, &buf, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_string_equal(buf, "hello");
    free(buf);
    assert_true(file_read_all(path, 4, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    assert_null(buf);
    assert_true(file_read_all(dir, 100, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    snprintf(path, sizeof(path), "%s/none", dir);
    assert_true(file_read_all(path, 100, &buf, &len, &err) < 0);
    assert_int_equal(err.kind, ERR_NOT_FOUND);
}

/* Standard input is often a pipe: read until EOF, bounded. */
static void test_read_stream_all(void **state)
{
    (void)state;
    static char big[70000];
    memset(big, 'x', sizeof(big));
    for (size_t max = sizeof(big) - 1; max <= sizeof(big); max++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            ssize_t w = write(p[1], big, sizeof(big)); /* more than the pipe holds at once */
            _exit(w == (ssize_t)sizeof(big) ? 0 : 1);
        }
        close(p[1]);
        char *buf = NULL;
        size_t len = 0;
        struct error err = {0};
        int rc = file_read_stream_all(p[0], "the pipe", max, &buf, &len, &err);
        close(p[0]);
        waitpid(pid, NULL, 0);
        if (max < sizeof(big)) {
            assert_true(rc < 0);
            assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
            assert_null(buf);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(len, sizeof(big));
            assert_int_equal(buf[len], '\0');
            assert_memory_equal(buf, big, len);
            free(buf);
        }
    }
    int p[2];
    assert_int_equal(pipe(p), 0);
    close(p[1]);
    char *buf = NULL;
    size_t len = 1;
    struct error err = {0};
    assert_int_equal(file_read_stream_all(p[0], "an empty pipe", 0, &buf, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(buf, "");
    free(buf);
    close(p[0]);
}

static void test_remove_tree(void **state)
{
    (void)state;
    char top[80], sub[100], file[120], outside[80], link[120];
    snprintf(top, sizeof(top), "%s/top", dir);
    snprintf(sub, sizeof(sub), "%s/a", top);
    snprintf(file, sizeof(file), "%s/f", sub);
    snprintf(outside, sizeof(outside), "%s/outside", dir);
    snprintf(link, sizeof(link), "%s/l", sub);
    assert_int_equal(mkdir(top, 0700), 0);
    assert_int_equal(mkdir(sub, 0700), 0);
    test_put_file(sub, "f", "x");
    assert_int_equal(mkdir(outside, 0700), 0);
    char kept[120];
    snprintf(kept, sizeof(kept), "%s/kept", outside);
    test_put_file(outside, "kept", "y");
    assert_int_equal(symlink(outside, link), 0);
    struct error err = {0};
    assert_int_equal(remove_tree(top, &err), 0);
    struct stat st;
    assert_int_equal(lstat(top, &st), -1);
    assert_int_equal(lstat(kept, &st), 0); /* the link was removed, not followed */
    assert_int_equal(remove_tree(top, &err), 0); /* absent: nothing to do */
    assert_int_equal(remove_tree(kept, &err), 0); /* a plain file */
    assert_int_equal(lstat(kept, &st), -1);
    assert_int_equal(remove_tree(outside, &err), 0);
}

/* The replacement cases' fixture: a fresh folder of the case's own, and
 * path, the file "f" in it (not made: each case makes what it needs). */
struct fx {
    char folder[100];
    char path[140];
    struct error err;
};

static int fx_setup(void **state)
{
    static unsigned cases;
    struct fx *fx = calloc(1, sizeof(*fx));
    if (fx == NULL)
        return -1;
    snprintf(fx->folder, sizeof(fx->folder), "%s/case-%u", dir, cases++);
    snprintf(fx->path, sizeof(fx->path), "%s/f", fx->folder);
    *state = fx;
    return mkdir(fx->folder, 0700);
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;
    char cmd[sizeof(fx->folder) + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->folder);
    int rc = system(cmd);
    free(fx);
    return rc == 0 ? 0 : -1;
}

static void join(char *out, size_t size, const char *folder, const char *name)
{
    assert_true((size_t)snprintf(out, size, "%s/%s", folder, name) < size);
}

/* Makes fx->path name the file name in the case's folder. */
static void fx_file(struct fx *fx, const char *name)
{
    join(fx->path, sizeof(fx->path), fx->folder, name);
}

/* How many entries folder holds, and whether any is a temporary. */
static int count_entries(const char *folder, bool *temporary)
{
    DIR *d = opendir(folder);
    assert_non_null(d);
    int n = 0;
    *temporary = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n++;
        if (strstr(de->d_name, ".tmp-") != NULL)
            *temporary = true;
    }
    closedir(d);
    return n;
}

/* folder holds n entries, and no temporary among them. */
static void assert_entries(const char *folder, int n)
{
    bool temporary;
    assert_int_equal(count_entries(folder, &temporary), n);
    assert_false(temporary);
}

static void assert_content(const char *path, const char *want)
{
    char *buf = NULL;
    size_t len = 0;
    struct error err = {0};
    assert_int_equal(file_read_all(path, 1 << 20, &buf, &len, &err), 0);
    assert_string_equal(buf, want);
    free(buf);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_replace_creates(void **state)
{
    struct fx *fx = *state;
    fx_file(fx, "new.txt");
    mode_t old_umask = umask(077);
    struct file_replace_options opt = { .mode = 0644 };
    int rc = file_replace(fx->path, "one\n", 4, &opt, &fx->err);
    umask(old_umask);
    assert_int_equal(rc, 0);
    assert_content(fx->path, "one\n");
    assert_int_equal(mode_of(fx->path), 0644); /* exactly, whatever the umask */
    assert_entries(fx->folder, 1);
    /* an empty file is a file too */
    fx_file(fx, "empty");
    assert_int_equal(file_replace(fx->path, "", 0, &opt, &fx->err), 0);
    assert_content(fx->path, "");
}

static void test_replace_existing(void **state)
{
    struct fx *fx = *state;
    test_put_file_mode(fx->folder, "f", "old content, longer than the new\n", 0640);
    struct stat before, after;
    assert_int_equal(stat(fx->path, &before), 0);
    /* the mode given */
    struct file_replace_options opt = { .mode = 0600 };
    assert_int_equal(file_replace(fx->path, "new\n", 4, &opt, &fx->err), 0);
    assert_content(fx->path, "new\n");
    assert_int_equal(mode_of(fx->path), 0600);
    assert_int_equal(stat(fx->path, &after), 0);
    assert_int_not_equal(before.st_ino, after.st_ino); /* a new file renamed over it */
    /* the mode kept */
    assert_int_equal(chmod(fx->path, 0604), 0);
    opt = (struct file_replace_options){ .mode = 0600, .keep_mode = true };
    assert_int_equal(file_replace(fx->path, "newer\n", 6, &opt, &fx->err), 0);
    assert_content(fx->path, "newer\n");
    assert_int_equal(mode_of(fx->path), 0604);
    /* keep_mode with no file to keep it from: the mode given */
    fx_file(fx, "g");
    opt.mode = 0640;
    assert_int_equal(file_replace(fx->path, "g", 1, &opt, &fx->err), 0);
    assert_int_equal(mode_of(fx->path), 0640);
    assert_entries(fx->folder, 2);
}

/* Runs write_f in a child under a 1 KiB file size cap (which stops root
 * too; EFBIG rather than a signal), with fx->path holding "old\n" before:
 * write_f's exit status must be 0, and fx->path must be whole and alone
 * after. */
static void under_size_cap(struct fx *fx, int (*write_f)(struct fx *fx))
{
    test_put_file_mode(fx->folder, "f", "old\n", 0644);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = { 1024, 1024 };
        _exit(setrlimit(RLIMIT_FSIZE, &lim) < 0 ? 2 : write_f(fx));
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_content(fx->path, "old\n");
    assert_entries(fx->folder, 1);
}

static int replace_big(struct fx *fx)
{
    static char big[8192];
    memset(big, 'x', sizeof(big));
    struct file_replace_options opt = { .mode = 0644 };
    int rc = file_replace(fx->path, big, sizeof(big), &opt, &fx->err);
    return rc < 0 && fx->err.kind == ERR_RESOURCE_EXHAUSTED && strstr(fx->err.message, fx->path) ? 0 : 1;
}

/* The bytes go to the temporary file first: a write that fails leaves the
 * old file as it was. */
static void test_replace_write_fails(void **state)
{
    under_size_cap(*state, replace_big);
}

static void test_replace_fails_cleanly(void **state)
{
    struct fx *fx = *state;
    struct file_replace_options opt = { .mode = 0644 };
    /* a target that is a folder: the rename fails, the temporary goes */
    test_put_file(fx->folder, "d/inside", "kept\n");
    fx_file(fx, "d");
    assert_int_equal(file_replace(fx->path, "x", 1, &opt, &fx->err), -1);
    assert_non_null(strstr(fx->err.message, fx->path));
    char inside[180];
    join(inside, sizeof(inside), fx->path, "inside");
    assert_content(inside, "kept\n");
    assert_entries(fx->folder, 1);
    /* a folder that does not exist */
    fx_file(fx, "none/f");
    assert_int_equal(file_replace(fx->path, "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_NOT_FOUND);
    assert_non_null(strstr(fx->err.message, fx->path));
    /* names that are not files */
    assert_int_equal(file_replace("", "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_INVALID_ARGUMENT);
    fx_file(fx, "");
    assert_int_equal(file_replace(fx->path, "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_INVALID_ARGUMENT);
    int dfd = open(fx->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    assert_int_equal(file_replace_at(dfd, "d/inside", "d/inside", "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_INVALID_ARGUMENT);
    assert_int_equal(file_replace_at(dfd, "..", "..", "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_INVALID_ARGUMENT);
    close(dfd);
    assert_content(inside, "kept\n");
    /* a folder this user may not write to (root may write anywhere) */
    if (geteuid() != 0) {
        char ro[140];
        join(ro, sizeof(ro), fx->folder, "read-only");
        assert_int_equal(mkdir(ro, 0700), 0);
        test_put_file(ro, "f", "old\n");
        assert_int_equal(chmod(ro, 0500), 0);
        join(fx->path, sizeof(fx->path), ro, "f");
        assert_int_equal(file_replace(fx->path, "new", 3, &opt, &fx->err), -1);
        assert_int_equal(fx->err.kind, ERR_PERMISSION_DENIED);
        assert_content(fx->path, "old\n");
        assert_int_equal(chmod(ro, 0700), 0);
    }
}

static void test_replace_no_replace(void **state)
{
    struct fx *fx = *state;
    struct file_replace_options opt = { .mode = 0600, .no_replace = true };
    assert_int_equal(file_replace(fx->path, "first\n", 6, &opt, &fx->err), 0);
    assert_content(fx->path, "first\n");
    assert_int_equal(mode_of(fx->path), 0600);
    assert_int_equal(file_replace(fx->path, "second\n", 7, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_ALREADY_EXISTS);
    assert_non_null(strstr(fx->err.message, fx->path));
    assert_content(fx->path, "first\n");
    assert_entries(fx->folder, 1);
}

static void test_replace_links(void **state)
{
    struct fx *fx = *state;
    char link[140], real[140];
    test_put_file_mode(fx->folder, "real", "real\n", 0640);
    join(real, sizeof(real), fx->folder, "real");
    join(link, sizeof(link), fx->folder, "link");
    assert_int_equal(symlink("real", link), 0);
    struct stat st;
    /* refused: nothing changes */
    struct file_replace_options opt = { .mode = 0600, .links = FILE_LINK_REFUSE };
    assert_int_equal(file_replace(link, "new\n", 4, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(fx->err.message, link));
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_content(real, "real\n");
    assert_entries(fx->folder, 2);
    /* a link in a folder given by descriptor: refused as well */
    int dfd = open(fx->folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    assert_int_equal(file_replace_at(dfd, "link", "the link", "new\n", 4, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    opt.links = FILE_LINK_FOLLOW; /* no following by descriptor */
    assert_int_equal(file_replace_at(dfd, "link", "the link", "new\n", 4, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    close(dfd);
    assert_content(real, "real\n");
    /* followed: the file it points to is replaced, with its mode kept */
    opt = (struct file_replace_options){ .mode = 0600, .keep_mode = true,
                                         .links = FILE_LINK_FOLLOW };
    assert_int_equal(file_replace(link, "followed\n", 9, &opt, &fx->err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_content(real, "followed\n");
    assert_int_equal(mode_of(real), 0640);
    /* a dangling link is not followed into a new file */
    char dangling[140];
    join(dangling, sizeof(dangling), fx->folder, "dangling");
    assert_int_equal(symlink("nowhere", dangling), 0);
    assert_int_equal(file_replace(dangling, "x", 1, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    assert_int_equal(lstat(dangling, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* replaced: the link becomes a file, what it pointed to is untouched */
    opt = (struct file_replace_options){ .mode = 0600 };
    assert_int_equal(file_replace(link, "own\n", 4, &opt, &fx->err), 0);
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_content(link, "own\n");
    assert_content(real, "followed\n");
    assert_entries(fx->folder, 3);
}

/* Streamed in parts: nothing under the name until the commit, then all of
 * it, with its mode; the temporary is gone. */
static void test_stream_commit(void **state)
{
    struct fx *fx = *state;
    test_put_file_mode(fx->folder, "f", "old\n", 0600);
    struct file_replace_options opt = { .mode = 0644 };
    struct file_replacement r = FILE_REPLACEMENT_INIT;
    assert_int_equal(file_replace_begin(&r, fx->path, &opt, &fx->err), 0);
    assert_true(r.fd >= 0);
    bool temporary;
    assert_int_equal(count_entries(fx->folder, &temporary), 2);
    assert_true(temporary);
    assert_int_equal(file_write_all(r.fd, "one ", 4), 0);
    assert_content(fx->path, "old\n");
    FILE *f = fdopen(dup(r.fd), "w"); /* a FILE on a copy, as audit export does */
    assert_non_null(f);
    fputs("two\n", f);
    assert_int_equal(fclose(f), 0);
    assert_content(fx->path, "old\n");
    assert_int_equal(file_replace_commit(&r, &fx->err), 0);
    assert_int_equal(r.fd, -1);
    assert_content(fx->path, "one two\n");
    assert_int_equal(mode_of(fx->path), 0644);
    assert_entries(fx->folder, 1);
    /* ended: abort does nothing, a second commit is refused */
    file_replace_abort(&r);
    assert_content(fx->path, "one two\n");
    assert_int_equal(file_replace_commit(&r, &fx->err), -1);
    struct file_replacement never = FILE_REPLACEMENT_INIT;
    file_replace_abort(&never);
}

/* An abort, or a return through the cleanup attribute, keeps the old file
 * (or no file) and removes the temporary. */
static int stream_and_give_up(const char *path, const struct file_replace_options *opt)
{
    struct error err;
    cleanup_file_replacement struct file_replacement r = FILE_REPLACEMENT_INIT;
    if (file_replace_begin(&r, path, opt, &err) < 0)
        return -2;
    if (file_write_all(r.fd, "partial", 7) < 0)
        return -3;
    return -1; /* failed half way */
}

static void test_stream_abort(void **state)
{
    struct fx *fx = *state;
    char fresh[140];
    test_put_file(fx->folder, "f", "old\n");
    join(fresh, sizeof(fresh), fx->folder, "fresh");
    struct file_replace_options opt = { .mode = 0644 };
    struct file_replacement r = FILE_REPLACEMENT_INIT;
    assert_int_equal(file_replace_begin(&r, fx->path, &opt, &fx->err), 0);
    assert_int_equal(file_write_all(r.fd, "new\n", 4), 0);
    file_replace_abort(&r);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.dirfd, -1);
    file_replace_abort(&r);
    assert_content(fx->path, "old\n");
    assert_entries(fx->folder, 1);
    assert_int_equal(stream_and_give_up(fx->path, &opt), -1);
    assert_int_equal(stream_and_give_up(fresh, &opt), -1);
    assert_content(fx->path, "old\n");
    assert_entries(fx->folder, 1);
    /* refused before anything is made: no descriptors held */
    opt.links = FILE_LINK_REFUSE;
    char link[140];
    join(link, sizeof(link), fx->folder, "link");
    assert_int_equal(symlink("f", link), 0);
    assert_int_equal(file_replace_begin(&r, link, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    assert_int_equal(r.fd, -1);
    assert_int_equal(r.dirfd, -1);
    file_replace_abort(&r);
    assert_entries(fx->folder, 2);
}

/* A commit that fails (the target became a folder, or someone made it
 * meanwhile under no_replace) removes the temporary and names the file. */
static void test_stream_commit_fails(void **state)
{
    struct fx *fx = *state;
    struct file_replace_options opt = { .mode = 0644 };
    struct file_replacement r = FILE_REPLACEMENT_INIT;
    /* a folder where the file goes: refused before a temporary is made */
    assert_int_equal(mkdir(fx->path, 0700), 0);
    assert_int_equal(file_replace_begin(&r, fx->path, &opt, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_FAILED_PRECONDITION);
    assert_non_null(strstr(fx->err.message, fx->path));
    assert_int_equal(r.fd, -1);
    assert_entries(fx->folder, 1);
    assert_int_equal(rmdir(fx->path), 0);
    /* one that appears while the content is written: the commit fails */
    assert_int_equal(file_replace_begin(&r, fx->path, &opt, &fx->err), 0);
    assert_int_equal(file_write_all(r.fd, "x", 1), 0);
    assert_int_equal(mkdir(fx->path, 0700), 0);
    assert_int_equal(file_replace_commit(&r, &fx->err), -1);
    assert_non_null(strstr(fx->err.message, fx->path));
    assert_int_equal(r.fd, -1);
    assert_entries(fx->folder, 1);
    assert_int_equal(rmdir(fx->path), 0);

    opt.no_replace = true;
    assert_int_equal(file_replace_begin(&r, fx->path, &opt, &fx->err), 0);
    assert_int_equal(file_write_all(r.fd, "mine\n", 5), 0);
    test_put_file(fx->folder, "f", "theirs\n");
    assert_int_equal(file_replace_commit(&r, &fx->err), -1);
    assert_int_equal(fx->err.kind, ERR_ALREADY_EXISTS);
    assert_content(fx->path, "theirs\n");
    assert_entries(fx->folder, 1);
}

static int stream_big(struct fx *fx)
{
    static char chunk[512];
    memset(chunk, 'x', sizeof(chunk));
    struct file_replace_options opt = { .mode = 0644 };
    cleanup_file_replacement struct file_replacement r = FILE_REPLACEMENT_INIT;
    if (file_replace_begin(&r, fx->path, &opt, &fx->err) < 0)
        return 3;
    for (int i = 0; i < 8; i++)
        if (file_write_all(r.fd, chunk, sizeof(chunk)) < 0) {
            file_replace_abort(&r);
            return i == 2 && errno == EFBIG ? 0 : 4;
        }
    return 5;
}

/* A write that fails half way, then an abort: the old file is whole and no
 * temporary is left. */
static void test_stream_write_fails(void **state)
{
    under_size_cap(*state, stream_big);
}

/* With umask, the mode is what open(2) would give; without, exactly mode. */
static void test_replace_umask(void **state)
{
    struct fx *fx = *state;
    mode_t old = umask(027);
    struct file_replace_options opt = { .mode = 0666, .umask = true };
    int rc = file_replace(fx->path, "x", 1, &opt, &fx->err);
    mode_t with = rc == 0 ? mode_of(fx->path) : 0;
    opt.umask = false;
    opt.no_sync = true;
    int rc2 = file_replace(fx->path, "y", 1, &opt, &fx->err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(with, 0640);
    assert_int_equal(rc2, 0);
    assert_int_equal(mode_of(fx->path), 0666);
    assert_content(fx->path, "y");
}

static void test_rfc3339_now(void **state)
{
    (void)state;
    char now[RFC3339_SIZE];
    rfc3339_now(now);
    assert_int_equal(strlen(now), 20);
    assert_int_equal(now[4], '-');
    assert_int_equal(now[10], 'T');
    assert_int_equal(now[19], 'Z');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_all),
        cmocka_unit_test(test_read_stream_all),
        cmocka_unit_test_setup_teardown(test_replace_creates, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_existing, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_write_fails, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_fails_cleanly, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_no_replace, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_links, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stream_commit, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stream_commit_fails, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_stream_write_fails, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_replace_umask, fx_setup, fx_teardown),
        cmocka_unit_test(test_remove_tree),
        cmocka_unit_test(test_rfc3339_now),
    };
    return cmocka_run_group_tests(tests, test_dir_setup, test_dir_teardown);
}
