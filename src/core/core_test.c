/* The session controller against a stand-in VMM: instead of QEMU, the "VM" is
 * the real enclave-init serving the guest protocol on a Unix socket in the run
 * folder (its test mode). Boot, readiness, exec, stop, a VMM that dies while
 * booting, a boot timeout and a gate that refuses are all driven through the
 * real event loop, proxy and guest code, with the real gate (Rego bundles
 * applied per test) recording to a real SQLite audit log. Needs root
 * (workloads run as uid 1000), except the check that a core needs a gate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/core.h"
#include "gate/gate.h"
#include "wire/frame.h"
#include "vmm/vm_internal.h"

static char run_root[256];
static const char *init_bin;

/* What the stand-in VMM runs: 0 = enclave-init, 1 = a process that exits at
 * once, 2 = a process that never answers, 3 = a hostile guest that ignores
 * the output cap. */
static int fake_mode;
static pid_t last_pid; /* the stand-in VMM started last */

static void hostile_send(int c, Guest__V1__Frame *r)
{
    uint8_t *w = NULL;
    size_t wlen = 0;
    if (wire_encode(r, &w, &wlen) != 0 || write(c, w, wlen) != (ssize_t)wlen)
        _exit(1);
    free(w);
}

/* A cell as a workload that writes the interpreter driver's pipe itself can
 * make it: 24 MiB of stdout and 24 results of 1 MiB each (the guest caps
 * only stdout and stderr), then a reply that says nothing was dropped. */
static void hostile_cell(int c, uint64_t id)
{
    static char text[1u << 20];
    static uint8_t png[1u << 20];
    memset(text, 'A', sizeof(text) - 1);
    Guest__V1__Frame r = GUEST__V1__FRAME__INIT;
    Guest__V1__CodeEvent ev = GUEST__V1__CODE_EVENT__INIT;
    r.id = id;
    r.body_case = GUEST__V1__FRAME__BODY_CODE_EVENT;
    r.code_event = &ev;
    /* first, an error whose words are not UTF-8, as a subverted guest sends them */
    ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_ERROR;
    ev.name = "Err\xff";
    ev.value = "v\xc3";
    ev.traceback = "t\xfe\xfe";
    ev.text = "x\x80";
    hostile_send(c, &r);
    ev.name = ev.value = ev.traceback = (char *)protobuf_c_empty_string;
    ev.text = text;
    ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_STDOUT;
    for (int i = 0; i < 24; i++)
        hostile_send(c, &r);
    Guest__V1__MimeData md = GUEST__V1__MIME_DATA__INIT;
    Guest__V1__MimeData *mdp[] = {&md};
    md.mime_type = "image/png\xff";
    md.data.data = png;
    md.data.len = sizeof(png) - 64;
    ev.kind = GUEST__V1__CODE_EVENT__KIND__KIND_RESULT;
    ev.text = "<Figure>";
    ev.data = mdp;
    ev.n_data = 1;
    for (int i = 0; i < 24; i++)
        hostile_send(c, &r);
    Guest__V1__CodeResponse cr = GUEST__V1__CODE_RESPONSE__INIT;
    cr.execution_count = 1;
    r.body_case = GUEST__V1__FRAME__BODY_CODE_RESPONSE;
    r.code_response = &cr;
    hostile_send(c, &r);
}

/* A guest that answers Health, and answers every exec with 64 KiB on stdout
 * and on stderr, whatever cap the host asked for, claiming nothing was cut. */
static void __attribute__((noreturn)) hostile_guest(const char *path)
{
    int l = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 4) < 0)
        _exit(1);
    static uint8_t big[64 * 1024];
    memset(big, 'A', sizeof(big));
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            _exit(1);
        struct wire_decoder d;
        wire_decoder_init(&d, 0);
        uint8_t buf[65536];
        ssize_t n;
        while ((n = read(c, buf, sizeof(buf))) > 0) {
            size_t off = 0;
            while (off < (size_t)n) {
                long took = wire_decoder_feed(&d, buf + off, (size_t)n - off);
                if (took < 0)
                    _exit(1);
                off += (size_t)took;
                Guest__V1__Frame *f = NULL;
                while (wire_decoder_next(&d, &f) != 0) {
                    if (f == NULL)
                        continue;
                    Guest__V1__Frame r = GUEST__V1__FRAME__INIT;
                    Guest__V1__HealthResponse h = GUEST__V1__HEALTH_RESPONSE__INIT;
                    Guest__V1__ExecResponse e = GUEST__V1__EXEC_RESPONSE__INIT;
                    r.id = f->id;
                    Guest__V1__FileResponse fr = GUEST__V1__FILE_RESPONSE__INIT;
                    Guest__V1__FileInfo ok = GUEST__V1__FILE_INFO__INIT, bad = GUEST__V1__FILE_INFO__INIT;
                    Guest__V1__FileInfo *entries[] = {&ok, &bad};
                    Guest__V1__ErrorResponse er = GUEST__V1__ERROR_RESPONSE__INIT;
                    static char long_message[2000];
                    if (f->body_case == GUEST__V1__FRAME__BODY_CODE_REQUEST) {
                        hostile_cell(c, f->id);
                        guest__v1__frame__free_unpacked(f, NULL);
                        f = NULL;
                        continue;
                    }
                    if (f->body_case == GUEST__V1__FRAME__BODY_HEALTH_REQUEST) {
                        /* a kernel release far too long, and not UTF-8 */
                        static char release[100000];
                        memset(release, 'k', sizeof(release) - 1);
                        memcpy(release, "6.1\xff\xfe-", 6);
                        h.kernel_release = release;
                        r.body_case = GUEST__V1__FRAME__BODY_HEALTH_RESPONSE;
                        r.health_response = &h;
                    } else if (f->body_case == GUEST__V1__FRAME__BODY_FILE_REQUEST &&
                               f->file_request->op == GUEST__V1__FILE_REQUEST__OP__OP_LIST &&
                               strcmp(f->file_request->path, "/workspace/many") == 0) {
                        /* more entries than the guest would send, one with a
                         * name longer than any file system allows */
                        enum { MANY = 12000 };
                        static Guest__V1__FileInfo many[MANY];
                        static Guest__V1__FileInfo *many_ptrs[MANY];
                        static char many_names[MANY][8];
                        static char long_name[5000];
                        memset(long_name, 'n', sizeof(long_name) - 1);
                        for (size_t i = 0; i < MANY; i++) {
                            guest__v1__file_info__init(&many[i]);
                            snprintf(many_names[i], sizeof(many_names[i]), "f%05zu", i);
                            many[i].name = i == 0 ? long_name : many_names[i];
                            /* as big as real entries are on the wire (the
                             * decoder's allocation budget follows the size) */
                            many[i].type = GUEST__V1__FILE_INFO__TYPE__TYPE_FILE;
                            many[i].size = 1ull << 40;
                            many[i].mode = 0644;
                            many[i].uid = 1000;
                            many[i].mtime_unix_ns = 1700000000000000000ll;
                            many_ptrs[i] = &many[i];
                        }
                        fr.entries = many_ptrs;
                        fr.n_entries = MANY;
                        r.body_case = GUEST__V1__FRAME__BODY_FILE_RESPONSE;
                        r.file_response = &fr;
                    } else if (f->body_case == GUEST__V1__FRAME__BODY_FILE_REQUEST &&
                               f->file_request->op == GUEST__V1__FILE_REQUEST__OP__OP_LIST) {
                        /* names that are not UTF-8, as a workload can make them */
                        ok.name = "plain";
                        bad.name = "bad\xff\xfe\xc3";
                        fr.entries = entries;
                        fr.n_entries = 2;
                        r.body_case = GUEST__V1__FRAME__BODY_FILE_RESPONSE;
                        r.file_response = &fr;
                    } else if (f->body_case == GUEST__V1__FRAME__BODY_FILE_REQUEST) {
                        /* an error in bytes that are not UTF-8, and one far too
                         * long for the host's message buffer, cut in a character */
                        if (strcmp(f->file_request->path, "/workspace/long") == 0) {
                            memset(long_message, 'a', sizeof(long_message) - 1);
                            for (size_t i = 1; i + 1 < sizeof(long_message); i += 2)
                                memcpy(long_message + i, "\xc3\xa9", 2);
                            er.message = long_message;
                        } else {
                            er.message = "cannot \xff\xfe";
                        }
                        er.code = GUEST__V1__ERROR_RESPONSE__CODE__CODE_PERMISSION;
                        r.body_case = GUEST__V1__FRAME__BODY_ERROR;
                        r.error = &er;
                    } else {
                        e.stdout.data = big;
                        e.stdout.len = sizeof(big);
                        e.stderr.data = big;
                        e.stderr.len = sizeof(big);
                        r.body_case = GUEST__V1__FRAME__BODY_EXEC_RESPONSE;
                        r.exec_response = &e;
                    }
                    uint8_t *w = NULL;
                    size_t wlen = 0;
                    if (wire_encode(&r, &w, &wlen) == 0 && write(c, w, wlen) != (ssize_t)wlen)
                        _exit(1);
                    free(w);
                    guest__v1__frame__free_unpacked(f, NULL);
                    f = NULL;
                }
            }
        }
        wire_decoder_release(&d);
        close(c);
    }
}

/* A VM of the fake drivers in c's run directory, with the real key file
 * as the drivers make it (the proxy must prove it); NULL on failure. */
static struct vmm_vm *fake_vm_new(const struct vmm_config *c, struct error *err)
{
    struct vmm_vm *vm = calloc(1, sizeof(*vm));
    snprintf(vm->run_dir, sizeof(vm->run_dir), "%s", c->run_dir);
    snprintf(vm->console_log, sizeof(vm->console_log), "%s/console.log", c->run_dir);
    snprintf(vm->vmm_log, sizeof(vm->vmm_log), "%s/vmm.log", c->run_dir);
    vm->channel.kind = VMM_CHANNEL_UNIX;
    snprintf(vm->channel.path, sizeof(vm->channel.path), "%s/rpc.sock", c->run_dir);
    if (vmm_channel_key_create(vm, err) < 0) {
        vmm_vm_free(vm);
        return NULL;
    }
    return vm;
}

/* The VM's process is pid: the VM is started. */
static int fake_vm_started(struct vmm_vm *vm, pid_t pid, struct vmm_vm **out)
{
    vm->pid = pid;
    last_pid = pid;
    *out = vm;
    return 0;
}

static int fake_start(const struct vmm_config *c, struct vmm_vm **out, struct error *err)
{
    struct vmm_vm *vm = fake_vm_new(c, err);
    if (vm == NULL)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (fake_mode == 0)
            execl(init_bin, init_bin, "--key-file", vm->key_path, "--serve-unix", vm->channel.path, (char *)NULL);
        else if (fake_mode == 3)
            hostile_guest(vm->channel.path);
        else if (fake_mode == 1)
            execl("/bin/false", "false", (char *)NULL);
        else
            execl("/bin/sleep", "sleep", "100", (char *)NULL);
        _exit(127);
    }
    return fake_vm_started(vm, pid, out);
}

static int fake_request_stop(struct vmm_vm *vm, struct error *err)
{
    if (!vm->exited)
        kill(vm->pid, SIGTERM);
    return 0;
}

static void fake_kill(struct vmm_vm *vm)
{
    if (!vm->exited)
        kill(vm->pid, SIGKILL);
}

static const struct vmm_driver fake_driver = {
    .name = "fake", .start = fake_start, .request_stop = fake_request_stop, .kill = fake_kill};

/* A driver with snapshots: the saved "state" is the key the guest holds
 * (what a real snapshot carries in the guest's memory); a restored VM is a
 * fresh enclave-init that holds that key, which the host resumes with the
 * VM's own. restore_breaks makes a restore's VMM exit at once (a snapshot
 * QEMU refuses). */
static int restore_breaks;

static int snap_start(const struct vmm_config *c, struct vmm_vm **out, struct error *err)
{
    if (c->restore_from == NULL) {
        if (fake_start(c, out, err) < 0)
            return -1;
        if (c->save_to)
            snprintf((*out)->save_path, sizeof((*out)->save_path), "%s", c->save_to);
        return 0;
    }
    struct vmm_vm *vm = fake_vm_new(c, err);
    if (vm == NULL)
        return -1;
    vm->channel.resume = true;
    memcpy(vm->channel.resume_key, c->restore_key, sizeof(vm->channel.resume_key));
    char guest_key[4300];
    snprintf(guest_key, sizeof(guest_key), "%s/guest.key", c->run_dir);
    uint8_t saved[VMM_CHANNEL_KEY_LEN];
    FILE *in = fopen(c->restore_from, "rb");
    size_t got = in ? fread(saved, 1, sizeof(saved), in) : 0;
    if (in)
        fclose(in);
    FILE *o = fopen(guest_key, "wb");
    assert_non_null(o);
    fwrite(saved, 1, got, o);
    fclose(o);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (restore_breaks)
            execl("/bin/false", "false", (char *)NULL);
        execl(init_bin, init_bin, "--key-file", guest_key, "--serve-unix", vm->channel.path, (char *)NULL);
        _exit(127);
    }
    return fake_vm_started(vm, pid, out);
}

static int snap_begin(struct vmm_vm *vm, struct error *err)
{
    FILE *f = fopen(vm->save_path, "wb");
    if (f == NULL)
        return error_set_errno(err, ERR_INTERNAL, "%s", vm->save_path);
    fwrite(vm->channel.key, 1, sizeof(vm->channel.key), f);
    fclose(f);
    return 0;
}

static int snap_poll(struct vmm_vm *vm, struct error *err)
{
    return 1;
}

/* The VMM's --version: a script that says "fake 1", run on the loop as a
 * driver runs its VMM's. */
static char fake_vmm_bin[300];

static int snap_version_start(const char *bin, struct event_base *base, vmm_version_fn done, void *ctx,
                              struct vmm_version_run **out, struct error *err)
{
    struct vmm_jail jail = {.keep_user = true};
    return vmm_version_run_start(fake_vmm_bin, &jail, "fake ", base, done, ctx, out, err);
}

static const struct vmm_driver snap_driver = {
    .name = "fake-snapshots", .start = snap_start, .request_stop = fake_request_stop, .kill = fake_kill,
    .snapshot_begin = snap_begin, .snapshot_poll = snap_poll, .version_start = snap_version_start};

/* ------------------------------------------------------------------ gate */

static struct audit_log *audit_log;
static struct gate *gate;
static char audit_db[512];

static const char *ALLOW_ALL = "package enclave\ndecision := {\"allow\": true}\n";

static void use_policy(const char *rego)
{
    struct error err;
    int r = gate_apply_document(gate, rego, strlen(rego), "", &err);
    if (r != 0)
        fail_msg("policy not applied (%d): %s", r, err.message);
}

/* Refuses one action with a reason that names it; allows the rest. */
static void deny_only(const char *action)
{
    char rego[512];
    snprintf(rego, sizeof(rego),
             "package enclave\n"
             "decision := {\"allow\": false, \"reasons\": [\"test policy refuses %s\"]} if input.action == \"%s\"\n"
             "decision := {\"allow\": true} if input.action != \"%s\"\n",
             action, action, action);
    use_policy(rego);
}

struct tally {
    int events;          /* SESSION:* and TOOL:EXEC records */
    char action[64];     /* of the last POLICY:DECISION */
    char decision[16];
    char reasons[1024];
};

static int count_record(const struct audit_record *r, void *ctx)
{
    struct tally *t = ctx;
    if (strncmp(r->kind_name, "SESSION:", 8) == 0 || strcmp(r->kind_name, "TOOL:EXEC") == 0)
        t->events++;
    if (strcmp(r->kind_name, "POLICY:DECISION") == 0) {
        json_t *d = json_loads(r->details_json, 0, NULL);
        snprintf(t->action, sizeof(t->action), "%s",
                 json_string_value(json_object_get(d, "action")) ?: "");
        json_decref(d);
        snprintf(t->decision, sizeof(t->decision), "%s", r->decision);
        snprintf(t->reasons, sizeof(t->reasons), "%s", r->reasons_json);
    }
    return 0;
}

static struct tally tally(void)
{
    struct tally t;
    memset(&t, 0, sizeof(t));
    struct error err;
    if (audit_query(audit_log, NULL, count_record, &t, &err) < 0)
        fail_msg("audit_query: %s", err.message);
    return t;
}

/* ------------------------------------------------------------------ harness */

struct waiter {
    int done;
    struct error err;
    int failed;
    char out[256];
    size_t out_len, err_len;
    bool out_truncated, err_truncated;
    int exit_code;
    bool timed_out;
    enum core_session_state state;
    bool restored;
};

static void on_started(const struct core_session_info *info, const struct error *err, void *ctx)
{
    struct waiter *w = ctx;
    w->done = 1;
    w->failed = err != NULL;
    if (err)
        w->err = *err;
    else
        w->state = info->state;
    if (info)
        w->restored = info->restored;
}

static void on_exec(const struct core_exec_result *res, const struct error *err, void *ctx)
{
    struct waiter *w = ctx;
    w->done = 1;
    w->failed = err != NULL;
    if (err) {
        w->err = *err;
        return;
    }
    size_t n = res->out_len < sizeof(w->out) - 1 ? res->out_len : sizeof(w->out) - 1;
    if (n > 0)
        memcpy(w->out, res->out, n);
    w->out[n] = '\0';
    w->out_len = res->out_len;
    w->err_len = res->err_len;
    w->out_truncated = res->out_truncated;
    w->err_truncated = res->err_truncated;
    w->exit_code = res->exit_code;
    w->timed_out = res->timed_out;
}

static void on_stopped(const struct error *err, void *ctx)
{
    struct waiter *w = ctx;
    w->done = 1;
    w->failed = err != NULL;
}

static void run_until(struct event_base *base, struct waiter *w, int seconds)
{
    for (int i = 0; i < seconds * 100 && !w->done; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    assert_true(w->done);
}

struct fixture {
    struct event_base *base;
    struct core *core;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    char vms[300];
    snprintf(vms, sizeof(vms), "%s/vms", run_root);
    struct core_config cfg = {
        .base = f->base,
        .driver = &fake_driver,
        .kernel = "unused",
        .initrd = "unused",
        .cmdline = "",
        .vms_dir = vms,
        .default_vcpus = 1,
        .max_vcpus = 4,
        .default_mem_mb = 256,
        .min_mem_mb = 128,
        .max_mem_mb = 1024,
        .max_sessions = 2,
        .boot_timeout_ms = 5000,
        .default_exec_timeout_s = 10,
        .max_exec_timeout_s = 60,
        .max_output_bytes = 4096,
        .max_input_bytes = 65536,
        .gate = gate,
    };
    struct error err;
    assert_int_equal(core_new(&cfg, &f->core, &err), 0);
    fake_mode = 0;
    use_policy(ALLOW_ALL);
    *state = f;
    return 0;
}

static int setup_snapshots(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->base = event_base_new();
    char vms[300], snaps[300];
    snprintf(vms, sizeof(vms), "%s/vms", run_root);
    snprintf(snaps, sizeof(snaps), "%s/snapshots", run_root);
    struct core_config cfg = {
        .base = f->base, .driver = &snap_driver, .kernel = "unused", .initrd = "unused",
        .cmdline = "", .vms_dir = vms, .default_vcpus = 1, .max_vcpus = 4, .default_mem_mb = 256,
        .min_mem_mb = 128, .max_mem_mb = 1024, .max_sessions = 3, .boot_timeout_ms = 5000,
        .default_exec_timeout_s = 10, .max_exec_timeout_s = 60, .max_output_bytes = 4096,
        .max_input_bytes = 65536, .gate = gate, .snapshot_dir = snaps, .image_digest = "test-image",
    };
    struct error err;
    fake_mode = 0;
    restore_breaks = 0;
    snprintf(fake_vmm_bin, sizeof(fake_vmm_bin), "%s/fake-vmm", run_root);
    FILE *script = fopen(fake_vmm_bin, "w");
    assert_non_null(script);
    fputs("#!/bin/sh\necho 'fake 1'\n", script);
    fclose(script);
    assert_int_equal(chmod(fake_vmm_bin, 0755), 0);
    assert_int_equal(core_new(&cfg, &f->core, &err), 0);
    use_policy(ALLOW_ALL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    core_free(f->core);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* Starts session id and runs the loop until it is answered, at most secs. */
static void start_and_wait(struct fixture *f, const char *id, struct waiter *w, unsigned secs)
{
    struct error err;
    struct core_start_request req = {.session_id = id};
    assert_int_equal(core_session_start(f->core, &req, on_started, w, &err), 0);
    run_until(f->base, w, secs);
}

static void start_ready(struct fixture *f, const char *id)
{
    struct waiter w = {0};
    start_and_wait(f, id, &w, 20);
    if (w.failed)
        fail_msg("start failed: %s", w.err.message);
    assert_int_equal(w.state, CORE_SESSION_READY);
}

static void exec_sh(struct fixture *f, const char *id, const char *script, unsigned timeout,
                    struct waiter *w, int expect_sync_rc)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    struct core_exec_request req = {
        .session_id = id, .tool = "exec", .argv = argv, .argc = 3, .cwd = "/tmp", .timeout_s = timeout};
    struct error err;
    int rc = core_exec(f->core, &req, on_exec, w, &err);
    assert_int_equal(rc, expect_sync_rc);
    if (rc < 0) {
        w->err = err;
        w->failed = 1;
        w->done = 1;
        return;
    }
    run_until(f->base, w, 30);
}

static void wait_snapshot_ready(struct fixture *f, uint64_t builds)
{
    struct core_snapshot_info si;
    for (int i = 0; i < 2000; i++) {
        core_snapshot_get(f->core, &si);
        if (strcmp(si.state, "ready") == 0 && si.builds >= builds)
            return;
        struct timeval tv = {0, 10000};
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    fail_msg("the snapshot is %s after %llu builds", si.state, (unsigned long long)si.builds);
}

/* The snapshot is built, a session restores it and is resumed with its own
 * key (the guest refuses anything else), runs code; a restore whose VMM dies
 * boots the same session cold, and the snapshot is built again. */
static void test_snapshot_restore_and_fallback(void **state)
{
    struct fixture *f = *state;
    wait_snapshot_ready(f, 1);
    struct core_snapshot_info si;
    core_snapshot_get(f->core, &si);
    assert_int_equal(si.vcpus, 1);
    assert_int_equal(si.mem_mb, 256);
    assert_int_equal(si.size_bytes, VMM_CHANNEL_KEY_LEN);
    assert_int_equal(strlen(si.identity), 64);

    struct waiter w = {0};
    struct error err;
    start_and_wait(f, "t-restored", &w, 20);
    assert_false(w.failed);
    assert_true(w.restored);
    struct waiter e = {0};
    exec_sh(f, "t-restored", "id -u", 0, &e, 0);
    assert_false(e.failed);
    assert_string_equal(e.out, "1000\n");
    core_snapshot_get(f->core, &si);
    assert_int_equal(si.restores, 1);

    /* Another size boots cold. */
    struct waiter c = {0};
    struct core_start_request other = {.session_id = "t-other", .mem_mb = 512};
    assert_int_equal(core_session_start(f->core, &other, on_started, &c, &err), 0);
    run_until(f->base, &c, 20);
    assert_false(c.failed);
    assert_false(c.restored);

    restore_breaks = 1;
    struct waiter b = {0};
    struct core_start_request broken = {.session_id = "t-fallback"};
    assert_int_equal(core_session_start(f->core, &broken, on_started, &b, &err), 0);
    run_until(f->base, &b, 20);
    assert_false(b.failed);
    assert_int_equal(b.state, CORE_SESSION_READY);
    assert_false(b.restored);
    core_snapshot_get(f->core, &si);
    assert_int_equal(si.fallbacks, 1);
    restore_breaks = 0;
    wait_snapshot_ready(f, 2);
}

static void test_boot_exec_stop(void **state)
{
    struct fixture *f = *state;
    start_ready(f, "t-one");
    int events = tally().events;
    struct waiter w = {0};
    exec_sh(f, "t-one", "echo hello; id -u; exit 3", 0, &w, 0);
    assert_false(w.failed);
    assert_string_equal(w.out, "hello\n1000\n");
    assert_int_equal(w.exit_code, 3);
    struct tally t = tally();
    assert_string_equal(t.action, "exec");
    assert_string_equal(t.decision, "allow");

    struct waiter s = {0};
    struct error err;
    assert_int_equal(core_session_stop(f->core, "t-one", NULL, on_stopped, &s, &err), 0);
    run_until(f->base, &s, 10);
    assert_false(s.failed);
    assert_int_equal(core_session_count(f->core), 0);
    assert_int_equal(tally().events - events, 2); /* TOOL:EXEC, SESSION:STOP */
}

/* The host caps output itself: a guest that sends more than the cap (4096
 * here) and says nothing was cut gets cut, and the result says so. */
static void test_output_cap_applied_on_the_host(void **state)
{
    struct fixture *f = *state;
    fake_mode = 3;
    start_ready(f, "t-hostile");
    struct waiter w = {0};
    exec_sh(f, "t-hostile", "true", 0, &w, 0);
    assert_false(w.failed);
    assert_int_equal(w.out_len, 4096);
    assert_int_equal(w.err_len, 4096);
    assert_true(w.out_truncated);
    assert_true(w.err_truncated);
}

static bool is_utf8(const char *s);

struct code_waiter {
    int done;
    int failed;
    uint64_t text_bytes, result_bytes;
    bool truncated;
    int not_utf8; /* strings delivered that are not valid UTF-8 */
    char error_name[16];
};

static void on_code_event(const struct core_code_event *ev, void *ctx)
{
    struct code_waiter *w = ctx;
    const char *strings[] = {ev->text, ev->name, ev->value, ev->traceback};
    for (size_t i = 0; i < 4; i++)
        w->not_utf8 += !is_utf8(strings[i]);
    for (size_t i = 0; i < ev->n_data; i++)
        w->not_utf8 += !is_utf8(ev->mime_types[i]);
    if (strcmp(ev->kind, "error") == 0)
        snprintf(w->error_name, sizeof(w->error_name), "%s", ev->name);
    if (strcmp(ev->kind, "stdout") == 0 || strcmp(ev->kind, "stderr") == 0) {
        w->text_bytes += strlen(ev->text);
        return;
    }
    w->result_bytes += strlen(ev->text);
    for (size_t i = 0; i < ev->n_data; i++)
        w->result_bytes += strlen(ev->mime_types[i]) + ev->data_len[i];
}

static void on_code_done(const struct core_code_result *res, const struct error *err, void *ctx)
{
    struct code_waiter *w = ctx;
    w->done = 1;
    w->failed = err != NULL;
    if (res)
        w->truncated = res->truncated;
}

static int find_ready_kernel(const struct audit_record *r, void *ctx)
{
    char *kernel = ctx;
    if (strcmp(r->kind_name, "SESSION:READY") != 0 || strcmp(r->session_id, "t-release") != 0)
        return 0;
    json_t *d = r->details_json ? json_loads(r->details_json, 0, NULL) : NULL;
    const char *k = json_string_value(json_object_get(d, "kernel"));
    snprintf(kernel, 256, "%s", k ? k : "(none)");
    json_decref(d);
    return 0;
}

/* The kernel release a guest reports goes into the SESSION:READY record:
 * one that is long and not UTF-8 is recorded cut and made valid. */
static void test_guest_kernel_release_is_bounded(void **state)
{
    struct fixture *f = *state;
    fake_mode = 3;
    start_ready(f, "t-release");
    char kernel[256] = "";
    struct error err;
    assert_true(audit_query(audit_log, NULL, find_ready_kernel, kernel, &err) >= 0);
    assert_true(is_utf8(kernel));
    assert_true(strncmp(kernel, "6.1\xef\xbf\xbd\xef\xbf\xbd-kkk", 13) == 0);
    assert_true(strlen(kernel) < 128);
}

/* A cell's output is capped on the host: a guest that sends 24 MiB of
 * stdout and 24 MiB of results, and says nothing was dropped, delivers at
 * most 16 MiB of the one and 6 MiB of the other, and the reply says
 * truncated (the RunCode call's 24 MiB buffer holds that much). The words
 * of its events (an error's name, value and traceback, a MIME type) that
 * are not UTF-8 arrive as valid UTF-8. */
static void test_code_output_capped_on_the_host(void **state)
{
    struct fixture *f = *state;
    fake_mode = 3;
    start_ready(f, "t-cell");
    struct error err;
    struct code_waiter w = {0};
    struct core_code_request req = {.session_id = "t-cell", .code = "1"};
    struct core_code_run *run = NULL;
    assert_int_equal(core_code(f->core, &req, on_code_event, on_code_done, &w, &run, &err), 0);
    for (int i = 0; i < 3000 && !w.done; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_true(w.done);
    assert_false(w.failed);
    assert_true(w.text_bytes > 0);
    assert_true(w.text_bytes <= 16u << 20);
    assert_true(w.result_bytes > 0);
    assert_true(w.result_bytes <= 6u << 20);
    assert_true(w.truncated);
    assert_int_equal(w.not_utf8, 0);
    assert_string_equal(w.error_name, "Err\xef\xbf\xbd");
}

struct file_waiter {
    int done;
    int failed;
    struct error err;
    size_t n;
    bool truncated;
    size_t longest; /* the longest name */
    char names[4][64];
};

static void on_file(const struct core_file_result *res, const struct error *err, void *ctx)
{
    struct file_waiter *w = ctx;
    w->done = 1;
    w->failed = err != NULL;
    if (err) {
        w->err = *err;
        return;
    }
    for (size_t i = 0; i < res->n_entries && i < 4; i++)
        snprintf(w->names[i], sizeof(w->names[i]), "%s", res->entries[i].name);
    for (size_t i = 0; i < res->n_entries; i++)
        if (strlen(res->entries[i].name) > w->longest)
            w->longest = strlen(res->entries[i].name);
    w->n = res->n_entries;
    w->truncated = res->entries_truncated;
}

static void run_file_until(struct event_base *base, struct file_waiter *w)
{
    for (int i = 0; i < 3000 && !w->done; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    assert_true(w->done);
}

static bool is_utf8(const char *s)
{
    json_t *j = json_string(s); /* jansson refuses what is not UTF-8 */
    json_decref(j);
    return j != NULL;
}

struct write_records {
    int with_path;
    int without_details;
};

static int count_file_writes(const struct audit_record *r, void *ctx)
{
    struct write_records *w = ctx;
    if (strcmp(r->kind_name, "FILE:WRITE") != 0 || strcmp(r->session_id, "t-names") != 0)
        return 0;
    json_t *d = r->details_json ? json_loads(r->details_json, 0, NULL) : NULL;
    const char *path = json_string_value(json_object_get(d, "path"));
    if (path && strncmp(path, "/workspace/", 11) == 0)
        w->with_path++;
    else
        w->without_details++;
    json_decref(d);
    return 0;
}

/* What a guest says is text the host passes on (in JSON replies, protobuf
 * strings, audit records): a file name or an error message that is not
 * UTF-8 (a workload names its files as it likes; a subverted guest says
 * what it likes) arrives as valid UTF-8, so no listing entry and no audit
 * record's details are lost to an encoding failure. */
static void test_guest_text_is_made_utf8(void **state)
{
    struct fixture *f = *state;
    fake_mode = 3;
    start_ready(f, "t-names");
    struct error err;
    struct file_waiter l = {0};
    struct core_file_request list = {.session_id = "t-names", .path = "/workspace"};
    assert_int_equal(core_file_op(f->core, CORE_FILE_LIST, &list, on_file, &l, &err), 0);
    run_file_until(f->base, &l);
    assert_false(l.failed);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.names[0], "plain");
    assert_string_equal(l.names[1], "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");

    const char *paths[] = {"/workspace/made", "/workspace/long"};
    for (size_t i = 0; i < 2; i++) {
        struct file_waiter m = {0};
        struct core_file_request mk = {.session_id = "t-names", .path = paths[i]};
        assert_int_equal(core_file_op(f->core, CORE_FILE_MKDIR, &mk, on_file, &m, &err), 0);
        run_file_until(f->base, &m);
        assert_true(m.failed);
        assert_int_equal(m.err.kind, ERR_PERMISSION_DENIED);
        assert_true(is_utf8(m.err.message));
        assert_non_null(strstr(m.err.message, i == 0 ? "cannot \xef\xbf\xbd" : "a\xc3\xa9\xc3\xa9"));
    }
    /* Both refused writes are on record with their paths. */
    struct write_records w = {0};
    assert_true(audit_query(audit_log, NULL, count_file_writes, &w, &err) >= 0);
    assert_int_equal(w.with_path, 2);
    assert_int_equal(w.without_details, 0);
}

/* A listing is capped on the host: a guest that sends 12000 entries (one
 * named with 5000 bytes) and says nothing was cut delivers 10000, marked
 * truncated, each name at most 255 bytes. */
static void test_listing_capped_on_the_host(void **state)
{
    struct fixture *f = *state;
    fake_mode = 3;
    start_ready(f, "t-many");
    struct error err;
    struct file_waiter l = {0};
    struct core_file_request list = {.session_id = "t-many", .path = "/workspace/many"};
    assert_int_equal(core_file_op(f->core, CORE_FILE_LIST, &list, on_file, &l, &err), 0);
    run_file_until(f->base, &l);
    if (l.failed)
        fail_msg("%s", l.err.message);
    assert_int_equal(l.n, CORE_MAX_LIST_ENTRIES);
    assert_true(l.truncated);
    assert_int_equal(l.longest, CORE_MAX_FILE_NAME);
    assert_string_equal(l.names[1], "f00001");
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct error err;
    struct core_start_request bad = {.session_id = "../etc"};
    assert_int_equal(core_session_start(f->core, &bad, on_started, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    struct core_start_request big = {.session_id = "t-big", .vcpus = 64};
    assert_int_equal(core_session_start(f->core, &big, on_started, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
    struct waiter w = {0};
    exec_sh(f, "nope", "true", 0, &w, -1);
    assert_int_equal(w.err.kind, ERR_NOT_FOUND);
    struct waiter s = {0};
    assert_int_equal(core_session_stop(f->core, "nope", NULL, on_stopped, &s, &err), -1);
    assert_int_equal(err.kind, ERR_NOT_FOUND);

    start_ready(f, "t-a");
    struct core_start_request dup = {.session_id = "t-a"};
    assert_int_equal(core_session_start(f->core, &dup, on_started, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_ALREADY_EXISTS);
    start_ready(f, "t-b");
    struct core_start_request third = {.session_id = "t-c"};
    assert_int_equal(core_session_start(f->core, &third, on_started, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_RESOURCE_EXHAUSTED);
    /* Oversize input is refused before anything reaches the guest. */
    char *huge = malloc(70000);
    memset(huge, 'a', 69999);
    huge[69999] = '\0';
    struct waiter h = {0};
    exec_sh(f, "t-a", huge, 0, &h, -1);
    assert_int_equal(h.err.kind, ERR_RESOURCE_EXHAUSTED);
    free(huge);
}

static void test_gate_denial_forwards_nothing(void **state)
{
    struct fixture *f = *state;
    start_ready(f, "t-deny");
    char marker[300];
    snprintf(marker, sizeof(marker), "%s/denied-marker", run_root);
    unlink(marker);
    chmod(run_root, 0777);
    char script[400];
    snprintf(script, sizeof(script), "touch %s", marker);

    deny_only("exec");
    int events = tally().events;
    struct waiter w = {0};
    exec_sh(f, "t-deny", script, 0, &w, -1);
    assert_int_equal(w.err.kind, ERR_PERMISSION_DENIED);
    assert_non_null(strstr(w.err.message, "test policy refuses exec"));
    /* The denial is on record, and nothing ran (no TOOL:EXEC). */
    struct tally t = tally();
    assert_string_equal(t.action, "exec");
    assert_string_equal(t.decision, "deny");
    assert_non_null(strstr(t.reasons, "test policy refuses exec"));
    assert_int_equal(t.events, events);
    /* Give a forwarded request every chance to run: nothing must appear. */
    struct waiter idle = {0};
    struct timeval tv = {0, 300000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
    (void)idle;
    assert_int_equal(access(marker, F_OK), -1);

    /* An allow that the audit log cannot take is refused as well: the log
     * (real SQLite) refuses every insert through a trigger. */
    use_policy(ALLOW_ALL);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(audit_db, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER no_more BEFORE INSERT ON records "
                                  "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    struct waiter u = {0};
    exec_sh(f, "t-deny", script, 0, &u, -1);
    assert_int_equal(u.err.kind, ERR_UNAVAILABLE);
    assert_non_null(strstr(u.err.message, "cannot record the decision"));
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER no_more", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    tv = (struct timeval){0, 300000};
    event_base_loopexit(f->base, &tv);
    event_base_dispatch(f->base);
    assert_int_equal(access(marker, F_OK), -1);

    /* The same request, allowed and recorded, does reach the guest: the
     * checks above are real. */
    struct waiter ok = {0};
    exec_sh(f, "t-deny", script, 0, &ok, 0);
    assert_false(ok.failed);
    assert_int_equal(access(marker, F_OK), 0);
    unlink(marker);

    deny_only("session.start");
    struct core_start_request req = {.session_id = "t-deny2"};
    struct error err;
    assert_int_equal(core_session_start(f->core, &req, on_started, NULL, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    assert_int_equal(core_session_count(f->core), 1);
}

static void test_obligation_tightens_timeout(void **state)
{
    struct fixture *f = *state;
    start_ready(f, "t-ob");
    use_policy("package enclave\ndecision := {\"allow\": true, \"obligations\": {\"timeout_s\": 1}}\n");
    struct waiter w = {0};
    exec_sh(f, "t-ob", "sleep 30", 20, &w, 0);
    assert_false(w.failed);
    assert_true(w.timed_out);
}

static void test_vmm_dies_while_booting(void **state)
{
    struct fixture *f = *state;
    fake_mode = 1;
    struct waiter w = {0};
    start_and_wait(f, "t-dies", &w, 10);
    assert_true(w.failed);
    assert_int_equal(w.err.kind, ERR_UNAVAILABLE);
    assert_non_null(strstr(w.err.message, "exited while booting"));
    assert_int_equal(core_session_count(f->core), 0);
}

static void test_boot_timeout(void **state)
{
    struct fixture *f = *state;
    core_free(f->core);
    char vms[300];
    snprintf(vms, sizeof(vms), "%s/vms", run_root);
    struct core_config cfg = {
        .base = f->base, .driver = &fake_driver, .kernel = "k", .initrd = "i", .vms_dir = vms,
        .default_vcpus = 1, .max_vcpus = 1, .default_mem_mb = 256, .min_mem_mb = 128,
        .max_mem_mb = 256, .max_sessions = 1, .boot_timeout_ms = 300, .default_exec_timeout_s = 1,
        .max_exec_timeout_s = 1, .max_output_bytes = 1024, .max_input_bytes = 1024, .gate = gate,
    };
    struct error err;
    assert_int_equal(core_new(&cfg, &f->core, &err), 0);
    fake_mode = 2;
    struct waiter w = {0};
    start_and_wait(f, "t-slow", &w, 10);
    assert_true(w.failed);
    assert_int_equal(w.err.kind, ERR_DEADLINE_EXCEEDED);
    /* The stand-in VMM is stopped and reaped; the session goes away. */
    for (int i = 0; i < 500 && core_session_count(f->core) > 0; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
    }
    assert_int_equal(core_session_count(f->core), 0);
}

static void note_state(const struct core_session_info *info, void *ctx)
{
    *(enum core_session_state *)ctx = info->state;
}

/* A VMM that dies under a READY session leaves it FAILED; stopping it must
 * finish (there is nothing left to reap) and free its slot. */
static void test_stop_after_vmm_died(void **state)
{
    struct fixture *f = *state;
    start_ready(f, "t-died");
    kill(last_pid, SIGKILL);
    enum core_session_state st = CORE_SESSION_READY;
    for (int i = 0; i < 500 && st != CORE_SESSION_FAILED; i++) {
        struct timeval tv = {0, 10000};
        event_base_loopexit(f->base, &tv);
        event_base_dispatch(f->base);
        core_session_foreach(f->core, note_state, &st);
    }
    assert_int_equal(st, CORE_SESSION_FAILED);
    struct waiter s = {0};
    struct error err;
    assert_int_equal(core_session_stop(f->core, "t-died", NULL, on_stopped, &s, &err), 0);
    run_until(f->base, &s, 5);
    assert_false(s.failed);
    assert_int_equal(core_session_count(f->core), 0);
}

/* A context_json that is not an object is refused, and nothing built for the
 * policy input is left behind (LeakSanitizer checks). */
static void test_bad_context_refused(void **state)
{
    struct fixture *f = *state;
    start_ready(f, "t-ctx");
    char *argv[] = {"true", NULL};
    char *names[] = {"A"};
    char *values[] = {"1"};
    struct core_exec_request req = {.session_id = "t-ctx", .argv = argv, .argc = 1,
                                    .env_names = names, .env_values = values, .n_env = 1,
                                    .context_json = "[1]"};
    struct error err;
    struct waiter w = {0};
    assert_int_equal(core_exec(f->core, &req, on_exec, &w, &err), -1);
    assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
}

/* No gate, no core: a core that would allow everything cannot be made. */
static void test_core_needs_a_gate(void **state)
{
    struct event_base *base = event_base_new();
    struct core_config cfg = {
        .base = base, .driver = &fake_driver, .kernel = "k", .initrd = "i", .vms_dir = "/nonexistent",
        .default_vcpus = 1, .max_vcpus = 1, .default_mem_mb = 256, .min_mem_mb = 128,
        .max_mem_mb = 256, .max_sessions = 1, .boot_timeout_ms = 300, .default_exec_timeout_s = 1,
        .max_exec_timeout_s = 1, .max_output_bytes = 1024, .max_input_bytes = 1024,
    };
    struct core *core = (struct core *)1;
    struct error err;
    assert_int_equal(core_new(&cfg, &core, &err), -1);
    assert_null(core);
    assert_non_null(strstr(err.message, "needs a gate"));
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest always[] = {cmocka_unit_test(test_core_needs_a_gate)};
    if (cmocka_run_group_tests(always, NULL, NULL) != 0)
        return 1;
    if (geteuid() != 0) {
        fprintf(stderr, "core_test: needs root (workloads run as uid 1000); skipped\n");
        return 0;
    }
    init_bin = getenv("ENCLAVE_INIT_BIN");
    if (init_bin == NULL)
        init_bin = "build/enclave-init";
    if (access(init_bin, X_OK) != 0) {
        fprintf(stderr, "core_test: %s not built\n", init_bin);
        return 1;
    }
    snprintf(run_root, sizeof(run_root), "/tmp/enclave-core-test-%d", (int)getpid());
    mkdir(run_root, 0700);
    /* The audit log and the gate every core in this test uses. */
    char home[300], keys[600];
    snprintf(home, sizeof(home), "%s/home", run_root);
    setenv("ENCLAVE_HOME", home, 1);
    struct error err;
    if (audit_default_db_path(audit_db, sizeof(audit_db), &err) < 0 ||
        audit_default_key_dir(keys, sizeof(keys), &err) < 0 ||
        audit_open(audit_db, keys, NULL, &audit_log, &err) < 0) {
        fprintf(stderr, "core_test: %s\n", err.message);
        return 1;
    }
    struct gate_config gc = {.audit = audit_log};
    if (gate_new(&gc, &gate, &err) < 0) {
        fprintf(stderr, "core_test: %s\n", err.message);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_boot_exec_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_cap_applied_on_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_text_is_made_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listing_capped_on_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_output_capped_on_the_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_kernel_release_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gate_denial_forwards_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_obligation_tightens_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vmm_dies_while_booting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_boot_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_after_vmm_died, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_context_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_restore_and_fallback, setup_snapshots, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gate_free(gate);
    audit_close(audit_log, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", run_root);
    if (system(cmd) != 0)
        fprintf(stderr, "core_test: could not remove %s\n", run_root);
    return rc;
}
