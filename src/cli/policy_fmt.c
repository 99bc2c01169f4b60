/* `enclave policy fmt`: canonical formatting of Rego modules (like
 * `opa fmt`), with src/rego's rego_format. Every file is formatted in
 * memory first; when one does not parse or cannot be read, nothing is
 * written anywhere. A file is rewritten (-w) through a temporary file in its
 * own folder, synced and renamed over it, with its permission bits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/cleanup.h"
#include "common/file.h"
#include "rego/rego.h"

extern char **environ;

#define FMT_MAX_FILE (16u << 20)
#define FMT_MAX_FILES 100000

struct fmt_file {
    char *path;       /* as named (or found below a named folder); "-": stdin */
    char *text, *out;
    size_t len, outlen;
};

struct fmt_job {
    struct fmt_file *files;
    size_t n, cap;
    bool failed;
};

static void fmt_usage(FILE *o)
{
    fprintf(o,
            "usage: enclave policy fmt [-w|--write] [-l|--list] [-d|--diff] [--fail] PATH...\n"
            "\n"
            "Formats Rego modules in the canonical layout (like `opa fmt`): the package\n"
            "line, the imports, one empty line between rules, bodies with one expression\n"
            "per line indented by a tab, `{` on the head's line, single spaces around\n"
            "operators and after commas, comments kept where they were (at the end of\n"
            "their line, or on their own line before what they preceded). Only\n"
            "whitespace changes: the result parses to the same module, which is checked\n"
            "before anything is printed or written.\n"
            "\n"
            "Each PATH is a .rego file, a folder (every .rego file below it, in sorted\n"
            "order; hidden names and links to folders skipped) or - for standard input.\n"
            "Without -w, -l or -d the formatted text is printed on standard output.\n"
            "\n"
            "  -w, --write   rewrite each file whose formatting differs, in place and\n"
            "                atomically (a temporary file in the same folder, synced, then\n"
            "                renamed over it; the permission bits are kept)\n"
            "  -l, --list    print the name of each file whose formatting differs\n"
            "  -d, --diff    print a unified diff (diff -u) of each such file\n"
            "      --fail    exit with status 3 when a file's formatting differs\n"
            "  -h, --help    this help\n"
            "\n"
            "Every file is formatted before anything is written: when one cannot be read\n"
            "or does not parse (the error names it with line and column), nothing is\n"
            "written and the exit status is 1.\n"
            "\n"
            "Exit status: 0 on success, 1 when a file cannot be read, parsed or written,\n"
            "2 on usage errors, 3 with --fail when a file's formatting differs.\n");
}

static void add_file(struct fmt_job *j, const char *path)
{
    if (j->n == j->cap) {
        j->cap = j->cap ? j->cap * 2 : 16;
        struct fmt_file *nf = realloc(j->files, j->cap * sizeof *nf);
        if (!nf) {
            fprintf(stderr, "enclave policy fmt: out of memory\n");
            exit(1);
        }
        j->files = nf;
    }
    struct fmt_file *f = &j->files[j->n++];
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path) {
        fprintf(stderr, "enclave policy fmt: out of memory\n");
        exit(1);
    }
}

static bool has_rego_suffix(const char *name)
{
    size_t l = strlen(name);
    return l > 5 && strcmp(name + l - 5, ".rego") == 0;
}

/* The .rego files below the folder path, sorted, hidden names skipped. */
static void walk_dir(struct fmt_job *j, const char *path, int depth)
{
    if (depth > 64) {
        fprintf(stderr, "enclave policy fmt: %s: folders nested too deep\n", path);
        j->failed = true;
        return;
    }
    cleanup_close int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "enclave policy fmt: %s: %s\n", path, strerror(errno));
        j->failed = true;
        return;
    }
    struct error err = { 0 };
    char **names = NULL;
    size_t n = 0;
    if (file_list_sorted(fd, true, FMT_MAX_FILES, &names, &n, &err) < 0) {
        fprintf(stderr, "enclave policy fmt: %s: %s\n", path, err.message);
        j->failed = true;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX];
        int l = snprintf(sub, sizeof sub, "%s%s%s", path,
                         path[strlen(path) - 1] == '/' ? "" : "/", names[i]);
        if (l < 0 || (size_t)l >= sizeof sub) {
            fprintf(stderr, "enclave policy fmt: %s/%s: name too long\n", path, names[i]);
            j->failed = true;
            continue;
        }
        struct stat st;
        if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        bool link = S_ISLNK(st.st_mode);
        if (link && fstatat(fd, names[i], &st, 0) < 0)
            continue;   /* a dangling link */
        if (S_ISDIR(st.st_mode) && !link)
            walk_dir(j, sub, depth + 1);   /* links to folders are not followed */
        else if (S_ISREG(st.st_mode) && has_rego_suffix(names[i]))
            add_file(j, sub);
    }
    file_names_free(names, n);
}

/* Replace path's content with text: a temporary file beside it, the same
 * permission bits, fsync, rename, fsync of the folder. A link is followed:
 * the file it names is rewritten and the link stays. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    static const struct file_replace_options opt = {
        .mode = 0644, .keep_mode = true, .links = FILE_LINK_FOLLOW
    };
    struct error err;
    if (file_replace(path, text, len, &opt, &err) < 0) {
        fprintf(stderr, "enclave policy fmt: %s (the file is unchanged)\n", err.message);
        return -1;
    }
    return 0;
}

/* diff -u of the file against its formatted text (given on diff's stdin). */
static int print_diff(const struct fmt_file *f)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    char la[PATH_MAX + 8], lb[PATH_MAX + 32];
    snprintf(la, sizeof la, "%s", f->path);
    snprintf(lb, sizeof lb, "%s (formatted)", f->path);
    bool from_stdin = strcmp(f->path, "-") == 0;
    /* standard input was read already: its text is diffed from a temporary file */
    char tmp[] = "/tmp/enclave-fmt-XXXXXX";
    const char *orig = f->path;
    if (from_stdin) {
        int t = mkostemp(tmp, O_CLOEXEC);
        if (t < 0 || file_write_all(t, f->text, f->len) < 0) {
            if (t >= 0) {
                close(t);
                unlink(tmp);
            }
            close(pfd[0]);
            close(pfd[1]);
            posix_spawn_file_actions_destroy(&fa);
            return -1;
        }
        close(t);
        orig = tmp;
    }
    char *argv[] = { "diff", "-u", "--label", la, "--label", lb, (char *)orig, "-", NULL };
    fflush(stdout);
    pid_t pid;
    int rc = posix_spawnp(&pid, "diff", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[0]);
    if (rc != 0) {
        close(pfd[1]);
        if (from_stdin)
            unlink(tmp);
        fprintf(stderr, "enclave policy fmt: cannot run diff: %s\n", strerror(rc));
        return -1;
    }
    int werr = file_write_all(pfd[1], f->out, f->outlen);
    close(pfd[1]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (from_stdin)
        unlink(tmp);
    /* diff exits 1 when the files differ, as they do here */
    if (werr < 0 || !WIFEXITED(status) || WEXITSTATUS(status) > 1) {
        fprintf(stderr, "enclave policy fmt: diff failed for %s\n", f->path);
        return -1;
    }
    return 0;
}

int cli_policy_fmt(int argc, char **argv)
{
    static const struct option opts[] = {
        { "write", no_argument, NULL, 'w' },
        { "list", no_argument, NULL, 'l' },
        { "diff", no_argument, NULL, 'd' },
        { "fail", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool write = false, list = false, diff = false, fail = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "wldh", opts, NULL)) != -1) {
        switch (c) {
        case 'w': write = true; break;
        case 'l': list = true; break;
        case 'd': diff = true; break;
        case 'F': fail = true; break;
        case 'h': fmt_usage(stdout); return 0;
        default: fmt_usage(stderr); return 2;
        }
    }
    if (optind >= argc)
        return cli_usage_error("policy fmt", "a PATH is required (a .rego file, a folder or -)");
    struct fmt_job j = { 0 };
    int nstdin = 0;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0) {
            nstdin++;
            add_file(&j, "-");
            continue;
        }
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "enclave policy fmt: %s: %s\n", argv[i], strerror(errno));
            j.failed = true;
        } else if (S_ISDIR(st.st_mode)) {
            walk_dir(&j, argv[i], 0);
        } else if (S_ISREG(st.st_mode)) {
            add_file(&j, argv[i]);
        } else {
            fprintf(stderr, "enclave policy fmt: %s: not a file or a folder\n", argv[i]);
            j.failed = true;
        }
    }
    int rc = 0;
    if (nstdin > 1) {
        rc = cli_usage_error("policy fmt", "- (standard input) may be named once");
        goto out;
    }
    if (write && nstdin) {
        rc = cli_usage_error("policy fmt", "-w cannot rewrite standard input");
        goto out;
    }
    /* format everything first */
    for (size_t i = 0; i < j.n; i++) {
        struct fmt_file *f = &j.files[i];
        if (strcmp(f->path, "-") == 0) {
            struct error err = { 0 };
            if (file_read_stream_all(STDIN_FILENO, "standard input", FMT_MAX_FILE, &f->text, &f->len,
                                     &err) < 0) {
                fprintf(stderr, "enclave policy fmt: %s\n", err.message);
                j.failed = true;
                continue;
            }
        } else {
            struct error err = { 0 };
            if (file_read_all(f->path, FMT_MAX_FILE, &f->text, &f->len, &err) < 0) {
                fprintf(stderr, "enclave policy fmt: %s: %s\n", f->path, err.message);
                j.failed = true;
                continue;
            }
        }
        struct rego_error rerr = { 0 };
        const char *name = strcmp(f->path, "-") == 0 ? "stdin" : f->path;
        if (rego_format(name, f->text, f->len, &f->out, &f->outlen, &rerr) < 0) {
            char buf[800];
            fprintf(stderr, "enclave policy fmt: %s\n", rego_error_string(&rerr, buf, sizeof buf));
            j.failed = true;
        }
    }
    if (j.failed) {
        if (write)
            fprintf(stderr, "enclave policy fmt: nothing was written\n");
        rc = 1;
        goto out;
    }
    bool differs = false;
    for (size_t i = 0; i < j.n; i++) {
        struct fmt_file *f = &j.files[i];
        bool changed = f->len != f->outlen || memcmp(f->text, f->out, f->len) != 0;
        differs |= changed;
        if (!write && !list && !diff) {
            fwrite(f->out, 1, f->outlen, stdout);
            continue;
        }
        if (!changed)
            continue;
        if (list)
            printf("%s\n", f->path);
        if (diff && print_diff(f) < 0)
            rc = 1;
        if (write && write_atomic(f->path, f->out, f->outlen) < 0)
            rc = 1;
    }
    if (fflush(stdout) != 0)
        rc = 1;
    if (rc == 0 && fail && differs)
        rc = 3;
out:
    for (size_t i = 0; i < j.n; i++) {
        free(j.files[i].path);
        free(j.files[i].text);
        free(j.files[i].out);
    }
    free(j.files);
    return rc;
}
