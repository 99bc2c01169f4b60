/* Tests of file operations: path resolution (symlink escapes, "..",
 * absolute symlinks, magic links) and the file frames served by a real server
 * in a forked child over a socketpair, with scratch folders standing in for
 * /workspace and /tmp. Needs root (the init works as uid 1000); skipped
 * otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/test_dir.h"
#include "guest/guest.h"
#include "guest/test_conn.h"
#include "wire/frame.h"

#define CODE(name) GUEST__V1__ERROR_RESPONSE__CODE__CODE_##name

static const uint8_t test_key[GUEST_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct fx {
    char base[64];
    char ws[96], tmp[96], outside[96];
    struct guest_test_conn conn;
};

static void must(int ok, const char *what)
{
    if (!ok)
        fail_msg("%s: %s", what, strerror(errno));
}


static int setup(void **state)
{
    if (geteuid() != 0)
        return 0;
    struct fx *x = calloc(1, sizeof(*x));
    snprintf(x->base, sizeof(x->base), "/tmp/enclave-files-XXXXXX");
    if (!mkdtemp(x->base))
        return -1;
    chmod(x->base, 0755);
    snprintf(x->ws, sizeof(x->ws), "%s/ws", x->base);
    snprintf(x->tmp, sizeof(x->tmp), "%s/tmp", x->base);
    snprintf(x->outside, sizeof(x->outside), "%s/outside", x->base);
    mkdir(x->ws, 0755);
    mkdir(x->tmp, 01777);
    chmod(x->tmp, 01777);
    mkdir(x->outside, 0755);
    if (chown(x->ws, GUEST_WORKLOAD_UID, GUEST_WORKLOAD_GID) < 0)
        return -1;
    test_put_file_mode(x->outside, "secret", "outside\n", 0644);

    struct guest_server_options opts = {.exit_when_idle = true, .key = test_key, .workspace_dir = x->ws, .tmp_dir = x->tmp};
    *state = x;
    return guest_test_conn_open(&x->conn, &opts);
}

static int teardown(void **state)
{
    struct fx *x = *state;
    int status = x ? guest_test_conn_close_rm(&x->conn, x->base) : 0;
    free(x);
    return status;
}

#define NEED_ROOT()                                \
    do {                                           \
        if (geteuid() != 0)                        \
            skip();                                \
    } while (0)

static void send_frame(struct fx *x, const Guest__V1__Frame *f)
{
    guest_test_send_frame(x->conn.fd, f);
}

static Guest__V1__Frame *recv_frame(struct fx *x)
{
    return guest_test_conn_recv(&x->conn);
}

static void send_file_request(struct fx *x, uint64_t id, Guest__V1__FileRequest__Op op, const char *path,
                              void (*tweak)(Guest__V1__FileRequest *))
{
    Guest__V1__FileRequest r = GUEST__V1__FILE_REQUEST__INIT;
    r.op = op;
    r.path = (char *)path;
    if (tweak)
        tweak(&r);
    send_frame(x, TEST_FRAME(id, FILE_REQUEST, file_request, &r));
}

/* The reply to a one-shot operation; error_code 0 expects a FileResponse. */
static Guest__V1__Frame *file_op(struct fx *x, uint64_t id, Guest__V1__FileRequest__Op op, const char *path,
                                 void (*tweak)(Guest__V1__FileRequest *), int error_code)
{
    send_file_request(x, id, op, path, tweak);
    Guest__V1__Frame *f = recv_frame(x);
    assert_int_equal(f->id, id);
    if (error_code) {
        if (f->body_case != GUEST__V1__FRAME__BODY_ERROR)
            fail_msg("expected error %d for %s, got body %d", error_code, path, f->body_case);
        assert_int_equal(f->error->code, error_code);
    } else if (f->body_case == GUEST__V1__FRAME__BODY_ERROR) {
        fail_msg("%s: error %d: %s", path, f->error->code, f->error->message);
    } else {
        assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_FILE_RESPONSE);
    }
    return f;
}

static void send_chunk(struct fx *x, uint64_t id, const uint8_t *data, size_t len, bool eof)
{
    Guest__V1__FileChunk c = GUEST__V1__FILE_CHUNK__INIT;
    c.data.data = (uint8_t *)data;
    c.data.len = len;
    c.eof = eof;
    send_frame(x, TEST_FRAME(id, FILE_CHUNK, file_chunk, &c));
}

static void pattern(uint8_t *buf, size_t len, uint64_t offset)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)((offset + i) * 2654435761u >> 13);
}

/* Writes size bytes of the pattern to path, never past the credit. */
static void upload(struct fx *x, uint64_t id, const char *path, uint64_t size)
{
    send_file_request(x, id, GUEST__V1__FILE_REQUEST__OP__OP_WRITE, path, NULL);
    uint64_t credit = 0, sent = 0;
    static uint8_t chunk[200000];
    bool done = false, eof_sent = false, started = false;
    while (!done) {
        if (started && !eof_sent && (credit > 0 || sent == size)) {
            size_t n = sizeof(chunk);
            if (n > credit)
                n = (size_t)credit;
            if (n > size - sent)
                n = (size_t)(size - sent);
            pattern(chunk, n, sent);
            sent += n;
            credit -= n;
            eof_sent = sent == size;
            send_chunk(x, id, chunk, n, eof_sent);
            continue;
        }
        Guest__V1__Frame *f = recv_frame(x);
        assert_int_equal(f->id, id);
        if (f->body_case == GUEST__V1__FRAME__BODY_FILE_RESPONSE) {
            assert_true(eof_sent);
            assert_int_equal(f->file_response->bytes, size);
            done = true;
        } else {
            if (f->body_case == GUEST__V1__FRAME__BODY_ERROR)
                fail_msg("upload: %s", f->error->message);
            assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_FILE_CREDIT);
            credit += f->file_credit->bytes;
            started = true;
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
}

/* ---------------------------------------------------------------- paths */

static void test_path_split(void **state)
{
    (void)state;
    int root;
    const char *rel, *why;
    assert_int_equal(guest_path_split("/workspace", &root, &rel, &why), 0);
    assert_int_equal(root, 0);
    assert_string_equal(rel, ".");
    assert_int_equal(guest_path_split("/workspace//a/b", &root, &rel, &why), 0);
    assert_string_equal(rel, "a/b");
    assert_int_equal(guest_path_split("/tmp/x", &root, &rel, &why), 0);
    assert_int_equal(root, 1);
    assert_string_equal(rel, "x");
    assert_int_equal(guest_path_split("/workspacex/a", &root, &rel, &why), CODE(PERMISSION));
    assert_int_equal(guest_path_split("/etc/passwd", &root, &rel, &why), CODE(PERMISSION));
    assert_int_equal(guest_path_split("/", &root, &rel, &why), CODE(PERMISSION));
    assert_int_equal(guest_path_split("workspace/a", &root, &rel, &why), CODE(INVALID));
    assert_int_equal(guest_path_split("", &root, &rel, &why), CODE(INVALID));
    assert_int_equal(guest_path_split(NULL, &root, &rel, &why), CODE(INVALID));
    char *long_path = malloc(GUEST_MAX_PATH + 20);
    memset(long_path, 'a', GUEST_MAX_PATH + 19);
    memcpy(long_path, "/tmp/", 5);
    long_path[GUEST_MAX_PATH + 19] = '\0';
    assert_int_equal(guest_path_split(long_path, &root, &rel, &why), CODE(TOO_LARGE));
    free(long_path);
    /* ".." passes the split; openat2 refuses it below (test_open_escapes). */
    assert_int_equal(guest_path_split("/tmp/../etc/passwd", &root, &rel, &why), 0);
    assert_string_equal(rel, "../etc/passwd");
}

static void test_open_escapes(void **state)
{
    NEED_ROOT();
    struct fx *x = *state;
    char p[200];
    int root = open(x->ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
    must(root >= 0, "open root");
    snprintf(p, sizeof(p), "%s/dir", x->ws);
    must(mkdir(p, 0755) == 0, "mkdir");
    snprintf(p, sizeof(p), "%s/dir/f", x->ws);
    FILE *f = fopen(p, "w");
    fputs("in\n", f);
    fclose(f);
    /* a relative symlink to the outside, an absolute one, one to a folder
     * inside, and a magic link */
    snprintf(p, sizeof(p), "%s/rel", x->ws);
    must(symlink("../outside", p) == 0, "symlink");
    snprintf(p, sizeof(p), "%s/abs", x->ws);
    char target[160];
    snprintf(target, sizeof(target), "%s/secret", x->outside);
    must(symlink(target, p) == 0, "symlink");
    snprintf(p, sizeof(p), "%s/inside", x->ws);
    must(symlink("dir", p) == 0, "symlink");
    snprintf(p, sizeof(p), "%s/magic", x->ws);
    must(symlink("/proc/self/root", p) == 0, "symlink");

    int fd = guest_path_open(root, "dir/f", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = guest_path_open(root, "dir/../dir/f", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(guest_path_open(root, "rel/secret", O_RDONLY, 0), -ELOOP);
    assert_int_equal(guest_path_open(root, "abs", O_RDONLY, 0), -ELOOP);
    assert_int_equal(guest_path_open(root, "abs", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
    assert_int_equal(guest_path_open(root, "inside/f", O_RDONLY, 0), -ELOOP);
    assert_int_equal(guest_path_open(root, "magic/etc/passwd", O_RDONLY, 0), -ELOOP);
    assert_int_equal(guest_path_open(root, "../outside/secret", O_RDONLY, 0), -EXDEV);
    assert_int_equal(guest_path_open(root, "dir/../../outside/secret", O_RDONLY, 0), -EXDEV);
    assert_int_equal(guest_path_open(root, "/etc/passwd", O_RDONLY, 0), -EXDEV);
    assert_int_equal(guest_path_open(root, "/proc/self/root/etc/passwd", O_RDONLY, 0), -EXDEV);
    /* O_CREAT through a symlink does not create the target either */
    assert_int_equal(guest_path_open(root, "abs", O_WRONLY | O_CREAT | O_TRUNC, 0644), -ELOOP);
    snprintf(p, sizeof(p), "%s/secret", x->outside);
    struct stat st;
    must(stat(p, &st) == 0, "stat");
    assert_int_equal(st.st_size, 8);
    /* the symlink itself can be looked at with O_PATH|O_NOFOLLOW */
    fd = guest_path_open(root, "abs", O_PATH | O_NOFOLLOW, 0);
    assert_true(fd >= 0);
    close(fd);

    char name[256];
    fd = guest_path_open_parent(root, "dir/f", name, sizeof(name));
    assert_true(fd >= 0);
    assert_string_equal(name, "f");
    close(fd);
    fd = guest_path_open_parent(root, "f", name, sizeof(name));
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(guest_path_open_parent(root, ".", name, sizeof(name)), -EINVAL);
    assert_int_equal(guest_path_open_parent(root, "dir/..", name, sizeof(name)), -EINVAL);
    assert_int_equal(guest_path_open_parent(root, "rel/x", name, sizeof(name)), -ELOOP);
    assert_int_equal(guest_path_open_parent(root, "../outside/x", name, sizeof(name)), -EXDEV);
    close(root);
}

/* ---------------------------------------------------------------- frames */

static void parents(Guest__V1__FileRequest *r)
{
    r->parents = true;
}
static void recursive(Guest__V1__FileRequest *r)
{
    r->recursive = true;
}

static void test_upload_download(void **state)
{
    NEED_ROOT();
    struct fx *x = *state;
    const uint64_t size = 9u << 20; /* several windows */
    Guest__V1__Frame *f = file_op(x, 1, GUEST__V1__FILE_REQUEST__OP__OP_MKDIR, "/workspace/a/b", parents, 0);
    assert_int_equal(f->file_response->info->type, GUEST__V1__FILE_INFO__TYPE__TYPE_DIRECTORY);
    guest__v1__frame__free_unpacked(f, NULL);
    upload(x, 2, "/workspace/a/b/data.bin", size);

    /* on disk: owned by the workload user, the bytes as sent */
    char p[200];
    snprintf(p, sizeof(p), "%s/a/b/data.bin", x->ws);
    struct stat st;
    must(stat(p, &st) == 0, "stat");
    assert_int_equal(st.st_uid, GUEST_WORKLOAD_UID);
    assert_int_equal(st.st_gid, GUEST_WORKLOAD_GID);
    assert_int_equal((uint64_t)st.st_size, size);
    snprintf(p, sizeof(p), "%s/a", x->ws);
    must(stat(p, &st) == 0, "stat");
    assert_int_equal(st.st_uid, GUEST_WORKLOAD_UID);

    /* download with a small window, granting more only as chunks arrive:
     * the init never has more than the credit in flight */
    send_file_request(x, 3, GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/a/b/data.bin", NULL);
    uint64_t got = 0, outstanding = GUEST_FILE_CHUNK * 4u;
    static uint8_t expect[GUEST_FILE_MAX_CHUNK];
    for (;;) {
        f = recv_frame(x);
        assert_int_equal(f->id, 3);
        if (f->body_case == GUEST__V1__FRAME__BODY_FILE_RESPONSE) {
            assert_int_equal(f->file_response->bytes, size);
            guest__v1__frame__free_unpacked(f, NULL);
            break;
        }
        assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_FILE_CHUNK);
        size_t n = f->file_chunk->data.len;
        assert_true(n <= outstanding);
        outstanding -= n;
        pattern(expect, n, got);
        assert_memory_equal(f->file_chunk->data.data, expect, n);
        got += n;
        guest__v1__frame__free_unpacked(f, NULL);
        Guest__V1__FileCredit cr = GUEST__V1__FILE_CREDIT__INIT;
        cr.bytes = n;
        send_frame(x, TEST_FRAME(3, FILE_CREDIT, file_credit, &cr));
        outstanding += n;
    }
    assert_int_equal(got, size);

    f = file_op(x, 4, GUEST__V1__FILE_REQUEST__OP__OP_STAT, "/workspace/a/b/data.bin", NULL, 0);
    assert_int_equal(f->file_response->info->size, size);
    assert_string_equal(f->file_response->info->name, "data.bin");
    assert_int_equal(f->file_response->info->uid, GUEST_WORKLOAD_UID);
    guest__v1__frame__free_unpacked(f, NULL);

    upload(x, 5, "/workspace/a/zzz", 10);
    upload(x, 6, "/workspace/a/empty", 0);
    f = file_op(x, 7, GUEST__V1__FILE_REQUEST__OP__OP_LIST, "/workspace/a", NULL, 0);
    assert_int_equal(f->file_response->n_entries, 3);
    assert_string_equal(f->file_response->entries[0]->name, "b");
    assert_int_equal(f->file_response->entries[0]->type, GUEST__V1__FILE_INFO__TYPE__TYPE_DIRECTORY);
    assert_string_equal(f->file_response->entries[1]->name, "empty");
    assert_string_equal(f->file_response->entries[2]->name, "zzz");
    assert_int_equal(f->file_response->entries[2]->size, 10);
    guest__v1__frame__free_unpacked(f, NULL);

    /* remove: a folder with things in it needs recursive */
    f = file_op(x, 8, GUEST__V1__FILE_REQUEST__OP__OP_REMOVE, "/workspace/a", NULL, CODE(EXISTS));
    guest__v1__frame__free_unpacked(f, NULL);
    f = file_op(x, 9, GUEST__V1__FILE_REQUEST__OP__OP_REMOVE, "/workspace/a", recursive, 0);
    guest__v1__frame__free_unpacked(f, NULL);
    f = file_op(x, 10, GUEST__V1__FILE_REQUEST__OP__OP_STAT, "/workspace/a", NULL, CODE(NOT_FOUND));
    guest__v1__frame__free_unpacked(f, NULL);
    /* the roots themselves cannot go */
    f = file_op(x, 11, GUEST__V1__FILE_REQUEST__OP__OP_REMOVE, "/workspace", recursive, CODE(INVALID));
    guest__v1__frame__free_unpacked(f, NULL);
    /* /tmp works the same */
    upload(x, 12, "/tmp/t.txt", 100);
    f = file_op(x, 13, GUEST__V1__FILE_REQUEST__OP__OP_STAT, "/tmp/t.txt", NULL, 0);
    assert_int_equal(f->file_response->info->size, 100);
    guest__v1__frame__free_unpacked(f, NULL);
}

static void test_refusals(void **state)
{
    NEED_ROOT();
    struct fx *x = *state;
    char p[200], target[200];
    snprintf(p, sizeof(p), "%s/link", x->ws);
    snprintf(target, sizeof(target), "%s/secret", x->outside);
    must(symlink(target, p) == 0, "symlink");
    snprintf(p, sizeof(p), "%s/dirlink", x->ws);
    must(symlink(x->outside, p) == 0, "symlink");
    snprintf(p, sizeof(p), "%s/fifo", x->ws);
    must(mkfifo(p, 0666) == 0 && chmod(p, 0666) == 0, "mkfifo");

    struct {
        Guest__V1__FileRequest__Op op;
        const char *path;
        int code;
    } cases[] = {
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/link", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/dirlink/secret", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/workspace/link", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/workspace/dirlink/new", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_LIST, "/workspace/dirlink", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_MKDIR, "/workspace/dirlink/d", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_REMOVE, "/workspace/dirlink/secret", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/../outside/secret", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/etc/passwd", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/etc/evil", CODE(PERMISSION)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "relative", CODE(INVALID)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/fifo", CODE(INVALID)},
        {GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/workspace/fifo", CODE(INVALID)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace", CODE(INVALID)},
        {GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/missing", CODE(NOT_FOUND)},
        {GUEST__V1__FILE_REQUEST__OP__OP_UNSPECIFIED, "/workspace", CODE(INVALID)},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("case %zu: %s\n", i, cases[i].path);
        Guest__V1__Frame *f = file_op(x, 100 + i, cases[i].op, cases[i].path, NULL, cases[i].code);
        guest__v1__frame__free_unpacked(f, NULL);
    }
    /* nothing outside was touched, and the symlinks are still links */
    snprintf(p, sizeof(p), "%s/new", x->outside);
    assert_int_equal(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/secret", x->outside);
    struct stat st;
    must(stat(p, &st) == 0, "stat");
    assert_int_equal(st.st_size, 8);
    /* stat shows a link as a link; remove removes the link, not its target */
    Guest__V1__Frame *f = file_op(x, 200, GUEST__V1__FILE_REQUEST__OP__OP_STAT, "/workspace/link", NULL, 0);
    assert_int_equal(f->file_response->info->type, GUEST__V1__FILE_INFO__TYPE__TYPE_SYMLINK);
    guest__v1__frame__free_unpacked(f, NULL);
    f = file_op(x, 201, GUEST__V1__FILE_REQUEST__OP__OP_REMOVE, "/workspace/link", NULL, 0);
    guest__v1__frame__free_unpacked(f, NULL);
    must(stat(p, &st) == 0, "stat");
    /* a root-owned file the workload user may not read is refused too */
    snprintf(p, sizeof(p), "%s/rootonly", x->ws);
    FILE *rf = fopen(p, "w");
    fputs("x", rf);
    fclose(rf);
    chmod(p, 0600);
    f = file_op(x, 202, GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/rootonly", NULL, CODE(PERMISSION));
    guest__v1__frame__free_unpacked(f, NULL);
}

static void huge_window(Guest__V1__FileRequest *r)
{
    r->window = GUEST_FILE_MAX_WINDOW + 1;
}

static void test_chunk_limits(void **state)
{
    NEED_ROOT();
    struct fx *x = *state;
    send_file_request(x, 1, GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/workspace/w", NULL);
    Guest__V1__Frame *f = recv_frame(x);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_FILE_CREDIT);
    assert_int_equal(f->file_credit->bytes, GUEST_FILE_WRITE_WINDOW);
    guest__v1__frame__free_unpacked(f, NULL);
    /* a chunk over the limit ends the transfer with an error */
    static uint8_t big[GUEST_FILE_MAX_CHUNK + 1];
    send_chunk(x, 1, big, sizeof(big), false);
    f = recv_frame(x);
    assert_int_equal(f->id, 1);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);
    /* later chunks of it are dropped without a reply; the connection still serves */
    send_chunk(x, 1, big, 10, true);
    f = file_op(x, 2, GUEST__V1__FILE_REQUEST__OP__OP_STAT, "/workspace/w", NULL, 0);
    assert_int_equal(f->file_response->info->size, 0);
    guest__v1__frame__free_unpacked(f, NULL);
    /* credit and chunks for ids nobody uses are ignored too */
    Guest__V1__FileCredit cr = GUEST__V1__FILE_CREDIT__INIT;
    cr.bytes = UINT64_MAX;
    send_frame(x, TEST_FRAME(77, FILE_CREDIT, file_credit, &cr));
    send_chunk(x, 78, big, 10, true);
    /* a read window over the limit is refused */
    f = file_op(x, 3, GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/w", huge_window, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);
}

static void small_max(Guest__V1__FileRequest *r)
{
    r->max_size = 10;
}

static void test_max_size_and_cancel(void **state)
{
    NEED_ROOT();
    struct fx *x = *state;
    send_file_request(x, 1, GUEST__V1__FILE_REQUEST__OP__OP_WRITE, "/workspace/m", small_max);
    Guest__V1__Frame *f = recv_frame(x);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_FILE_CREDIT);
    guest__v1__frame__free_unpacked(f, NULL);
    uint8_t data[11] = {0};
    send_chunk(x, 1, data, 11, true);
    f = recv_frame(x);
    assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_ERROR);
    assert_int_equal(f->error->code, CODE(TOO_LARGE));
    guest__v1__frame__free_unpacked(f, NULL);

    /* a read cancelled half-way answers once, with an error */
    upload(x, 2, "/workspace/big", 4u << 20);
    send_file_request(x, 3, GUEST__V1__FILE_REQUEST__OP__OP_READ, "/workspace/big", NULL);
    Guest__V1__CancelRequest cr = GUEST__V1__CANCEL_REQUEST__INIT;
    cr.target_id = 3;
    send_frame(x, TEST_FRAME(4, CANCEL_REQUEST, cancel_request, &cr));
    bool ended = false, answered = false;
    while (!ended || !answered) {
        f = recv_frame(x);
        if (f->id == 4) {
            assert_int_equal(f->body_case, GUEST__V1__FRAME__BODY_CANCEL_RESPONSE);
            answered = true;
        } else {
            assert_int_equal(f->id, 3);
            if (f->body_case != GUEST__V1__FRAME__BODY_FILE_CHUNK)
                ended = true;
        }
        guest__v1__frame__free_unpacked(f, NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_split),
        cmocka_unit_test_setup_teardown(test_open_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_download, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_size_and_cancel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
