#include "core/core.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/encode.h"
#include "common/file.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/text.h"
#include "core/internal.h"
#include "egress/egress.h"
#include "proxy/proxy.h"

#define CONNECT_RETRY_MS 50
/* A restored guest answers within a few hundred ms of its VMM's start:
 * retry sooner, so the session is not READY up to 50 ms late. */
#define RESTORE_CONNECT_RETRY_MS 10
#define STOP_GRACE_MS 2000
/* How long past an exec's timeout the guest may take to answer: it kills
 * the workload, reaps it, reads the rest of its output and answers, which
 * under TCG on a busy host (a sliver of a CPU for the VM) took over 10 s. */
#define EXEC_REPLY_GRACE_MS 30000
#define HEALTH_TIMEOUT_MS 5000

struct waiter {
    struct waiter *next;
    core_done_fn cb;
    void *ctx;
};

struct session {
    struct session *next;
    struct core *core;
    char id[CORE_MAX_SESSION_ID + 1];
    enum core_session_state state;
    struct vmm_vm *vm;
    struct proxy_conn *conn;
    char run_dir[4096];
    unsigned vcpus, mem_mb;
    unsigned workspace_mb; /* the size of the guest's /workspace (kernel argument) */
    int64_t created_ns;
    unsigned execs_running;
    bool gate_open; /* the gate tracks this session (gate_session_open) */
    /* Egress: asked for at start (and allowed); the streams, once READY;
     * the session's limits from the session.start decision. */
    bool egress_wanted;
    struct egress *egress;
    uint64_t egress_max_bytes;
    unsigned egress_timeout_s;
    /* Warm pool: pool is set while the VM waits in one (id "pool-..."), and
     * stays set after a claim for GetInfo; in_pool only while it waits. */
    struct pool *pool;
    bool in_pool, pooled;
    /* Snapshot: template_vm boots to be saved (it waits in the pooled list,
     * with the snapshot's dummy pool); restoring while a restore boots,
     * restored once it answered. */
    bool template_vm, restoring, restored;
    char vm_id[CORE_MAX_SESSION_ID + 1]; /* the id it booted under */
    /* lifetime */
    unsigned idle_timeout_s, max_lifetime_s;
    int64_t last_active_ns; /* unix ns */
    int64_t ready_ns;       /* unix ns; 0 while booting */
    char stop_reason[32];   /* why it is stopping: "requested", "idle_timeout", ... */
    /* booting */
    core_session_fn start_cb;
    void *start_ctx;
    struct event *boot_timer;
    struct event *retry_timer;
    bool health_in_flight;
    char last_connect_error[sizeof(((struct error *)0)->message)];
    /* stopping */
    struct waiter *stop_waiters;
    struct event *kill_timer;
};

struct pool {
    char *image, *kernel, *initrd, *rootfs; /* kernel/initrd NULL: the core's (rootfs too) */
    unsigned vcpus, mem_mb, size;
    uint64_t claimed, boots, failures;
    unsigned backoff_s; /* after a failed boot: wait before the next (0: none) */
    int64_t not_before_ns;
};

#define POOL_BACKOFF_MAX_S 60

/* IDENTIFYING: the VMM's --version runs (the identity needs it). */
enum snap_state { SNAP_OFF, SNAP_IDENTIFYING, SNAP_NONE, SNAP_BUILDING, SNAP_SAVING, SNAP_READY, SNAP_FAILED };

struct snap {
    enum snap_state state;
    char identity[DIGEST_SHA256_HEX_SIZE];
    char dir[4200];
    char state_path[4300], tmp_path[4300], meta_path[4300];
    unsigned char key[VMM_CHANNEL_KEY_LEN]; /* the channel key the saved guest holds */
    uint64_t size;
    struct pool pool;         /* the template's (never in core->pools) */
    struct session *template; /* booting or saving */
    struct event *timer;      /* the next build, or polling a save */
    struct vmm_version_run *version_run; /* while IDENTIFYING */
    int64_t save_started_ns;
    uint64_t restores, fallbacks, builds;
};

/* A restore that has not answered by then falls back to a cold boot (a
 * restore QEMU cannot read fails at once; this is for one that hangs). On
 * a host loaded enough for a restore to take this long a cold boot takes
 * longer still, so the bound is generous: 20 s was passed under TCG on two
 * busy cores, and the fallback only made the session later. */
#define RESTORE_TIMEOUT_MS 60000
#define SNAP_SAVE_TIMEOUT_MS 60000
#define SNAP_POLL_MS 20

struct core {
    struct core_config cfg;
    char *kernel, *initrd, *rootfs, *cmdline, *vms_dir; /* rootfs NULL: none */
    char *snapshot_dir, *image_digest;                  /* copies of cfg's */
    struct session *sessions;
    unsigned n_sessions;
    struct session *pooled; /* VMs waiting in the pools (not sessions) */
    struct pool pools[CORE_MAX_POOLS];
    size_t n_pools;
    struct event *pool_timer; /* starts the next pool boot from the loop */
    struct event *sigchld;
    struct event *lifetime_timer; /* once a second: idle and lifetime limits */
    struct egress_resolver *resolver; /* made with the first session with egress */
    struct snap snap;
};

static int64_t now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *core_session_state_name(enum core_session_state s)
{
    switch (s) {
    case CORE_SESSION_BOOTING:
        return "BOOTING";
    case CORE_SESSION_READY:
        return "READY";
    case CORE_SESSION_STOPPING:
        return "STOPPING";
    case CORE_SESSION_FAILED:
        return "FAILED";
    }
    return "?";
}

bool core_session_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CORE_MAX_SESSION_ID || id[0] == '.' || id[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static struct session *find_session(struct core *core, const char *id)
{
    for (struct session *s = core->sessions; s; s = s->next)
        if (strcmp(s->id, id) == 0)
            return s;
    return NULL;
}

static void session_info(const struct session *s, struct core_session_info *info)
{
    memset(info, 0, sizeof(*info));
    info->id = s->id;
    info->state = s->state;
    const struct vmm_channel *ch = s->vm ? vmm_vm_channel(s->vm) : NULL;
    info->channel_path = ch && ch->kind != VMM_CHANNEL_VSOCK ? ch->path : "";
    info->vcpus = s->vcpus;
    info->mem_mb = s->mem_mb;
    info->workspace_mb = s->workspace_mb;
    info->kvm = s->vm ? vmm_vm_uses_kvm(s->vm) : false;
    info->created_unix_ns = s->created_ns;
    info->pooled = s->pooled;
    info->restored = s->restored;
    info->execs_running = s->execs_running;
    info->idle_timeout_s = s->idle_timeout_s;
    info->max_lifetime_s = s->max_lifetime_s;
    info->last_active_unix_ns = s->last_active_ns;
    info->egress = s->egress_wanted;
    info->deadline_unix_ns =
        s->max_lifetime_s && s->ready_ns ? s->ready_ns + (int64_t)s->max_lifetime_s * 1000000000 : 0;
}

/* The last bytes of a log file, for error messages (a boot that failed says why). */
static void read_tail(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t start = end > (off_t)(size - 1) ? end - (off_t)(size - 1) : 0;
    ssize_t n = pread(fd, buf, size - 1, start);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
            buf[i] = ' ';
}

/* Records an event through the gate; details is consumed. An event that
 * cannot be recorded is logged (it happened already). */
static void record(struct core *core, enum audit_kind kind, const char *session_id, json_t *details)
{
    struct error err;
    if (gate_record(core->cfg.gate, kind, session_id, details, &err) < 0)
        log_error("cannot record %s for %s: %s", audit_kind_name(kind),
                  session_id ? session_id : "-", err.message);
}

/* Records an event of a session; a VM waiting in a pool is no session yet
 * (its claim is recorded), so its events are only logged. */
static void srecord(struct session *s, enum audit_kind kind, json_t *details)
{
    if (s->in_pool) {
        char *text = details ? json_dumps(details, JSON_COMPACT) : NULL;
        log_info("%s %s: %s %s", s->template_vm ? "snapshot VM" : "pool VM", s->id, audit_kind_name(kind),
                 text ? text : "");
        free(text);
        json_decref(details);
        return;
    }
    record(s->core, kind, s->id, details);
}

static void pool_kick(struct core *core, unsigned delay_ms);
static void snap_template_gone(struct core *core);
static void snap_save_begin(struct session *s);
static void restore_fallback(struct session *s, const char *why);

/* A pool VM failed to boot or died idle: the next boot of that pool waits
 * 2, 4, ... 60 s, so a broken image does not boot in a loop. */
static void pool_failed(struct pool *p)
{
    p->failures++;
    p->backoff_s = p->backoff_s ? p->backoff_s * 2 : 2;
    if (p->backoff_s > POOL_BACKOFF_MAX_S)
        p->backoff_s = POOL_BACKOFF_MAX_S;
    p->not_before_ns = now_unix_ns() + (int64_t)p->backoff_s * 1000000000;
}

static const char *const egress_env_names[CORE_EGRESS_ENV_COUNT] = {
    "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "PIP_PROXY",
};

bool core_egress_env_name(const char *name)
{
    for (size_t i = 0; i < CORE_EGRESS_ENV_COUNT; i++)
        if (strcmp(name, egress_env_names[i]) == 0)
            return true;
    return false;
}

size_t core_egress_env(Guest__V1__EnvVar *store, Guest__V1__EnvVar **ptrs)
{
    for (size_t i = 0; i < CORE_EGRESS_ENV_COUNT; i++) {
        guest__v1__env_var__init(&store[i]);
        store[i].name = (char *)egress_env_names[i];
        store[i].value = (char *)EGRESS_PROXY_URL;
        ptrs[i] = &store[i];
    }
    return CORE_EGRESS_ENV_COUNT;
}

bool core_session_has_egress(struct core *core, const char *session_id)
{
    struct session *s = find_session(core, session_id ? session_id : "");
    return s != NULL && s->egress_wanted;
}

json_t *core_caller_json(const struct core_caller *caller)
{
    return json_pack("{s:s, s:s, s:s}", "transport",
                     caller && caller->transport ? caller->transport : "", "peer",
                     caller && caller->peer ? caller->peer : "", "principal",
                     caller && caller->principal ? caller->principal : "");
}

/* ------------------------------------------------------------------ teardown */

/* The guest channel goes: the egress streams on it first. */
static void drop_conn(struct session *s)
{
    if (s->egress)
        egress_detach(s->egress);
    if (s->conn) {
        proxy_conn_free(s->conn);
        s->conn = NULL;
    }
}

/* A READY session with egress: its streams are served on the channel. An
 * egress that cannot start is logged; the session goes on without it. */
static void egress_start(struct session *s)
{
    if (!s->egress_wanted || s->in_pool || s->conn == NULL)
        return;
    struct core *core = s->core;
    struct error err;
    if (core->resolver == NULL &&
        egress_resolver_new(core->cfg.base, 256, NULL, &core->resolver, &err) < 0) {
        log_error("session %s: egress cannot start: %s", s->id, err.message);
        return;
    }
    if (s->egress == NULL) {
        struct egress_config ec = {
            .base = core->cfg.base,
            .gate = core->cfg.gate,
            .resolver = core->resolver,
            .session_id = s->id,
            .session_max_bytes = s->egress_max_bytes,
            .session_timeout_s = s->egress_timeout_s,
        };
        if (egress_new(&ec, &s->egress, &err) < 0) {
            log_error("session %s: egress cannot start: %s", s->id, err.message);
            return;
        }
    }
    if (egress_attach(s->egress, s->conn, &err) < 0)
        log_error("session %s: egress cannot start: %s", s->id, err.message);
}

static void remove_run_dir(const char *dir)
{
    remove_tree(dir, NULL);
}

static void session_destroy(struct session *s)
{
    struct core *core = s->core;
    bool waited_in_pool = s->in_pool;
    for (struct session **pp = s->in_pool ? &core->pooled : &core->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            if (!s->in_pool)
                core->n_sessions--;
            break;
        }
    }
    if (s->boot_timer)
        event_free(s->boot_timer);
    if (s->retry_timer)
        event_free(s->retry_timer);
    if (s->kill_timer)
        event_free(s->kill_timer);
    drop_conn(s);
    egress_free(s->egress);
    s->egress = NULL;
    vmm_vm_free(s->vm);
    remove_run_dir(s->run_dir);
    if (s->gate_open)
        gate_session_close(core->cfg.gate, s->id);
    bool was_template = s->template_vm;
    free(s);
    if (was_template)
        snap_template_gone(core);
    if (waited_in_pool)
        pool_kick(core, 0); /* a pool VM is gone: boot its replacement */
}

/* The timers of a start in progress: the boot deadline and the retry. */
static void free_start_timers(struct session *s)
{
    if (s->boot_timer) {
        event_free(s->boot_timer);
        s->boot_timer = NULL;
    }
    if (s->retry_timer) {
        event_free(s->retry_timer);
        s->retry_timer = NULL;
    }
}

static void finish_start(struct session *s, const struct error *err)
{
    core_session_fn cb = s->start_cb;
    void *ctx = s->start_ctx;
    s->start_cb = NULL;
    free_start_timers(s);
    if (cb == NULL)
        return;
    struct core_session_info info;
    session_info(s, &info);
    cb(&info, err, ctx);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    log_warn("session %s: VM did not stop in time; killing it", s->id);
    s->core->cfg.driver->kill(s->vm);
}

/* Begins stopping: asks the VMM to quit and arms the kill timer. The session is
 * destroyed when the VMM process is reaped. */
static void session_begin_stop(struct session *s)
{
    s->state = CORE_SESSION_STOPPING;
    drop_conn(s);
    if (s->vm == NULL || vmm_vm_exited(s->vm))
        return;
    struct error err;
    if (s->core->cfg.driver->request_stop(s->vm, &err) < 0) {
        log_debug("session %s: graceful stop failed (%s); killing", s->id, err.message);
        s->core->cfg.driver->kill(s->vm);
        return;
    }
    if (s->kill_timer == NULL) {
        s->kill_timer = evtimer_new(s->core->cfg.base, on_kill_timer, s);
        struct timeval tv = {.tv_sec = STOP_GRACE_MS / 1000, .tv_usec = (STOP_GRACE_MS % 1000) * 1000};
        if (s->kill_timer)
            evtimer_add(s->kill_timer, &tv);
        else
            s->core->cfg.driver->kill(s->vm);
    }
}

/* A STOPPING session whose VMM is gone: record it, free it, answer the stops. */
static void session_finish_stop(struct session *s, const char *vmm_status)
{
    srecord(s, AUDIT_SESSION_STOP,
           json_pack("{s:s, s:s}", "vmm", vmm_status, "reason",
                     s->stop_reason[0] ? s->stop_reason : "requested"));
    struct waiter *w = s->stop_waiters;
    s->stop_waiters = NULL;
    session_destroy(s);
    while (w) {
        struct waiter *next = w->next;
        w->cb(NULL, w->ctx);
        free(w);
        w = next;
    }
}

static void session_vm_exited(struct session *s, int status)
{
    struct core *core = s->core;
    char why[64];
    if (WIFSIGNALED(status))
        snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
    else
        snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));

    if (s->state == CORE_SESSION_BOOTING) {
        /* The driver may have ended it itself, saying why (a step of the
         * VMM's configuration failed); else the VMM's own last words. */
        const struct error *start_err = vmm_vm_start_error(s->vm);
        char log_tail[1024];
        read_tail(vmm_vm_log(s->vm), log_tail, sizeof(log_tail));
        if (s->restoring) {
            char reason[1200];
            if (start_err != NULL)
                snprintf(reason, sizeof(reason), "%s", start_err->message);
            else
                snprintf(reason, sizeof(reason), "the VMM ended (%s)%s%s", why, log_tail[0] ? ": " : "",
                         log_tail);
            restore_fallback(s, reason);
            return;
        }
        struct error err;
        if (start_err != NULL)
            err = *start_err;
        else
            error_set(&err, ERR_UNAVAILABLE, "the VM exited while booting (%s)%s%s", why,
                      log_tail[0] ? ": " : "", log_tail);
        s->state = CORE_SESSION_FAILED;
        if (s->in_pool)
            pool_failed(s->pool);
        srecord(s, AUDIT_SESSION_FAILED, json_pack("{s:s}", "reason", err.message));
        finish_start(s, &err);
        session_destroy(s);
        return;
    }
    if (s->state == CORE_SESSION_STOPPING) {
        session_finish_stop(s, why);
        return;
    }
    log_warn("session %s: VM exited unexpectedly (%s)", s->id, why);
    if (s->in_pool) {
        /* An idle pool VM died: drop it (the pool boots another). */
        pool_failed(s->pool);
        srecord(s, AUDIT_SESSION_FAILED, json_pack("{s:s}", "reason", why));
        session_destroy(s);
        return;
    }
    record(core, AUDIT_SESSION_FAILED, s->id, json_pack("{s:s}", "reason", why));
    s->state = CORE_SESSION_FAILED;
    drop_conn(s);
}

/* Every VM: the sessions', then those waiting in pools. */
static struct session *first_vm(struct core *core)
{
    return core->sessions ? core->sessions : core->pooled;
}

static struct session *next_vm(struct core *core, struct session *s)
{
    if (s->next)
        return s->next;
    return s->in_pool ? NULL : core->pooled;
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    bool again = true;
    while (again) {
        again = false;
        for (struct session *s = first_vm(core); s; s = next_vm(core, s)) {
            if (s->state == CORE_SESSION_STOPPING && (s->vm == NULL || vmm_vm_exited(s->vm))) {
                /* Stopped after its VMM had already died and been reaped
                 * (a FAILED session): nothing is left to wait for. */
                session_finish_stop(s, "had already exited");
                again = true;
                break;
            }
            if (s->vm == NULL || vmm_vm_exited(s->vm))
                continue;
            int status = 0;
            pid_t r = waitpid(vmm_vm_pid(s->vm), &status, WNOHANG);
            if (r == vmm_vm_pid(s->vm)) {
                vmm_vm_mark_exited(s->vm, status);
                session_vm_exited(s, status); /* may free s: restart the scan */
                again = true;
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------ booting */

static void schedule_connect(struct session *s);

static void on_health(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct session *s = ctx;
    s->health_in_flight = false;
    if (s->state != CORE_SESSION_BOOTING)
        return;
    if (err != NULL || reply == NULL ||
        reply->body_case != GUEST__V1__FRAME__BODY_HEALTH_RESPONSE) {
        snprintf(s->last_connect_error, sizeof(s->last_connect_error), "%s",
                 err ? err->message : "unexpected reply to Health");
        /* The channel went away or answered nonsense: start over. */
        if (err == NULL || err->kind != ERR_CANCELED) {
            drop_conn(s);
            schedule_connect(s);
        }
        return;
    }
    s->state = CORE_SESSION_READY;
    /* The lifetime and the idle time count from here (booting is bounded by
     * the boot timeout). */
    s->ready_ns = s->last_active_ns = now_unix_ns();
    int64_t boot_ms = (now_unix_ns() - s->created_ns) / 1000000;
    if (s->restoring) {
        /* The guest took its own key (the proxy checked its HelloResponse)
         * and reseeded its RNG before it answered Health. */
        vmm_vm_resumed(s->vm);
        s->restoring = false;
        s->restored = true;
        s->core->snap.restores++;
    }
    log_info("%s %s ready in %lld ms (%s%s)", s->template_vm ? "snapshot VM" : s->in_pool ? "pool VM" : "session",
             s->id, (long long)boot_ms, vmm_vm_uses_kvm(s->vm) ? "kvm" : "tcg",
             s->restored ? ", restored from the snapshot" : "");
    if (s->template_vm) {
        snap_save_begin(s);
        return;
    }
    if (s->in_pool) {
        s->pool->backoff_s = 0;
        pool_kick(s->core, 0); /* the next pool boot, if any is missing */
    }
    /* The guest's words: bounded, and valid UTF-8 for the audit record. */
    char kernel[128];
    text_utf8_copy(kernel, sizeof(kernel),
                   reply->health_response->kernel_release ? reply->health_response->kernel_release : "");
    srecord(s, AUDIT_SESSION_READY,
           json_pack("{s:I, s:s, s:s, s:b}", "boot_ms", (json_int_t)boot_ms, "accel",
                     vmm_vm_uses_kvm(s->vm) ? "kvm" : "tcg", "kernel", kernel, "restored",
                     s->restored));
    egress_start(s);
    finish_start(s, NULL);
}

static void on_conn_lost(const struct error *why, void *ctx)
{
    struct session *s = ctx;
    /* The proxy has failed its pending requests already. */
    drop_conn(s);
    if (s->state == CORE_SESSION_BOOTING) {
        schedule_connect(s);
    } else if (s->state == CORE_SESSION_READY) {
        log_warn("session %s: guest channel lost (%s); reconnecting", s->id, why->message);
        schedule_connect(s);
    }
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    if (s->conn != NULL || (s->state != CORE_SESSION_BOOTING && s->state != CORE_SESSION_READY))
        return;
    struct error err;
    if (proxy_connect(s->core->cfg.base, vmm_vm_channel(s->vm), on_conn_lost, s, &s->conn, &err) < 0) {
        snprintf(s->last_connect_error, sizeof(s->last_connect_error), "%s", err.message);
        schedule_connect(s);
        return;
    }
    if (s->state != CORE_SESSION_BOOTING) {
        egress_start(s); /* reconnected a READY session: its proxy again */
        return;
    }
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest hr = GUEST__V1__HEALTH_REQUEST__INIT;
    f.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    f.health_request = &hr;
    /* A Health that gets no answer is retried on a new connection: hanging up
     * also tells the guest to drop anything half-received. */
    if (proxy_request(s->conn, &f, HEALTH_TIMEOUT_MS, on_health, NULL, s, NULL, &err) < 0) {
        drop_conn(s);
        schedule_connect(s);
        return;
    }
    s->health_in_flight = true;
}

static void schedule_connect(struct session *s)
{
    if (s->retry_timer == NULL)
        s->retry_timer = evtimer_new(s->core->cfg.base, try_connect, s);
    if (s->retry_timer == NULL)
        return;
    unsigned ms = s->restoring ? RESTORE_CONNECT_RETRY_MS : CONNECT_RETRY_MS;
    struct timeval tv = {.tv_sec = 0, .tv_usec = ms * 1000};
    evtimer_add(s->retry_timer, &tv);
}

static void on_boot_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    if (s->state != CORE_SESSION_BOOTING)
        return;
    if (s->restoring) {
        /* Killed; when it is reaped the session boots cold. */
        log_warn("session %s: the restored VM did not answer within %u ms; killing it", s->id,
                 RESTORE_TIMEOUT_MS);
        s->core->cfg.driver->kill(s->vm);
        return;
    }
    char console[1024];
    read_tail(vmm_vm_console_log(s->vm), console, sizeof(console));
    struct error err;
    if (vmm_vm_start_error(s->vm) != NULL) /* the driver gave up first, and said why */
        err = *vmm_vm_start_error(s->vm);
    else if (vmm_vm_start_step(s->vm) != NULL) /* the driver was still configuring it */
        error_set(&err, ERR_DEADLINE_EXCEEDED,
                  "the VM did not start within %u ms: its VMM was still being configured, waiting for "
                  "%s; console: %s",
                  s->core->cfg.boot_timeout_ms, vmm_vm_start_step(s->vm), console[0] ? console : "(empty)");
    else
        error_set(&err, ERR_DEADLINE_EXCEEDED,
                  "the VM did not answer within %u ms (last channel error: %s); console: %s",
                  s->core->cfg.boot_timeout_ms, s->last_connect_error[0] ? s->last_connect_error : "none",
                  console[0] ? console : "(empty)");
    if (s->in_pool)
        pool_failed(s->pool);
    srecord(s, AUDIT_SESSION_FAILED, json_pack("{s:s}", "reason", "boot timeout"));
    s->state = CORE_SESSION_STOPPING; /* destroyed when the VMM is reaped */
    finish_start(s, &err);
    session_begin_stop(s);
}

/* Starts the VM of s (its id, size and created time set): run folder, VMM,
 * boot timer, first connect. */
/* kernel NULL: the core's own image (its initrd and rootfs too). */
static int session_boot(struct session *s, const char *kernel, const char *initrd, const char *rootfs,
                        struct error *err)
{
    struct core *core = s->core;
    snprintf(s->run_dir, sizeof(s->run_dir), "%s/%s", core->vms_dir, s->id);
    remove_run_dir(s->run_dir);
    if (mkdir(s->run_dir, 0700) < 0)
        return error_set_errno(err, ERR_INTERNAL, "creating %s", s->run_dir);
    /* The guest sizes its /workspace tmpfs from this argument (pool and
     * snapshot VMs: the default size). */
    if (s->workspace_mb == 0)
        s->workspace_mb = core_workspace_default_mb(s->mem_mb);
    char cmdline[4096];
    if ((size_t)snprintf(cmdline, sizeof(cmdline), "%s enclave.workspace_mb=%u", core->cmdline,
                         s->workspace_mb) >= sizeof(cmdline)) {
        remove_run_dir(s->run_dir);
        return error_set(err, ERR_INVALID_ARGUMENT, "the kernel command line is too long");
    }
    struct vmm_config vc = {
        .id = s->id,
        .run_dir = s->run_dir,
        .kernel = kernel ? kernel : core->kernel,
        .initrd = initrd ? initrd : core->initrd,
        .rootfs = kernel ? rootfs : core->rootfs,
        .cmdline = cmdline,
        .vcpus = s->vcpus,
        .mem_mb = s->mem_mb,
        .accel = core->cfg.accel,
    };
    if (s->template_vm)
        vc.save_to = core->snap.tmp_path;
    if (s->restoring) {
        vc.restore_from = core->snap.state_path;
        vc.restore_key = core->snap.key;
    }
    unsigned timeout_ms = core->cfg.boot_timeout_ms;
    if (s->restoring && timeout_ms > RESTORE_TIMEOUT_MS)
        timeout_ms = RESTORE_TIMEOUT_MS;
    /* A driver that configures its VMM on the loop does so within the boot
     * timeout too (vmm.h). */
    vc.base = core->cfg.base;
    vc.start_timeout_ms = timeout_ms;
    if (core->cfg.driver->start(&vc, &s->vm, err) < 0) {
        remove_run_dir(s->run_dir);
        return -1;
    }
    s->boot_timer = evtimer_new(core->cfg.base, on_boot_timeout, s);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    if (s->boot_timer)
        evtimer_add(s->boot_timer, &tv);
    schedule_connect(s);
    return 0;
}

/* ------------------------------------------------------------------ snapshot */

static void make_session_id(char *buf, size_t size);

static void snap_kick(struct core *core, unsigned delay_ms)
{
    if (core->snap.timer == NULL)
        return;
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    evtimer_add(core->snap.timer, &tv);
}

/* A driver may keep the guest's memory next to the state (Firecracker:
 * <state>.mem); it goes and comes with it. */
static void companion(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s.mem", path);
}

static void snap_unlink(struct snap *sn)
{
    char mem[4400];
    unlink(sn->meta_path);
    unlink(sn->state_path);
    companion(sn->state_path, mem, sizeof(mem));
    unlink(mem);
}

/* Whether a start of these files and this size restores the snapshot. */
static bool snap_usable(struct core *core, const char *kernel, const char *initrd, unsigned vcpus,
                        unsigned mem_mb, unsigned workspace_mb)
{
    const struct snap *sn = &core->snap;
    /* The saved VM has the default /workspace for its memory (a kernel
     * argument it booted with). */
    return sn->state == SNAP_READY && (kernel == NULL || strcmp(kernel, core->kernel) == 0) &&
           (initrd == NULL || strcmp(initrd, core->initrd) == 0) && vcpus == sn->pool.vcpus &&
           mem_mb == sn->pool.mem_mb && workspace_mb == core_workspace_default_mb(mem_mb);
}

/* The snapshot failed to restore: it goes, and is built again. */
static void snap_invalidate(struct core *core, const char *why)
{
    struct snap *sn = &core->snap;
    if (sn->state != SNAP_READY)
        return;
    log_warn("snapshot %.12s: removed (%s); it is built again", sn->identity, why);
    snap_unlink(sn);
    sn->state = SNAP_NONE;
    snap_kick(core, 0);
}

/* A restore failed (its VMM ended, or it did not answer in time): the same
 * session boots cold, with a reason in the log. */
static void restore_fallback(struct session *s, const char *why)
{
    struct core *core = s->core;
    log_warn("session %s: restoring the snapshot failed: %s; booting it cold", s->id, why);
    core->snap.fallbacks++;
    snap_invalidate(core, "a restore failed");
    s->restoring = false;
    free_start_timers(s);
    if (s->conn) {
        proxy_conn_free(s->conn);
        s->conn = NULL;
    }
    vmm_vm_free(s->vm);
    s->vm = NULL;
    s->last_connect_error[0] = '\0';
    struct error err;
    if (session_boot(s, NULL, NULL, NULL, &err) < 0) {
        s->state = CORE_SESSION_FAILED;
        srecord(s, AUDIT_SESSION_FAILED, json_pack("{s:s}", "reason", err.message));
        finish_start(s, &err);
        session_destroy(s);
    }
}

static int write_text_file(const char *path, const char *text, struct error *err)
{
    struct file_replace_options opt = {.mode = 0600};
    return file_replace(path, text, strlen(text), &opt, err);
}

/* The template VM is saved: record the key and size, then stop it. */
static void snap_saved(struct core *core)
{
    struct snap *sn = &core->snap;
    struct session *t = sn->template;
    struct stat st;
    struct error err;
    if (stat(sn->tmp_path, &st) < 0 || st.st_size <= 0) {
        error_set_errno(&err, ERR_INTERNAL, "%s", sn->tmp_path);
        goto fail;
    }
    memcpy(sn->key, vmm_vm_channel(t->vm)->key, sizeof(sn->key));
    char key_hex[2 * VMM_CHANNEL_KEY_LEN + 1];
    encode_hex(sn->key, sizeof(sn->key), key_hex);
    json_t *meta = json_pack("{s:i, s:s, s:s, s:I, s:i, s:i, s:I}", "schema", 1, "identity",
                             sn->identity, "key", key_hex, "size", (json_int_t)st.st_size, "vcpu",
                             (int)sn->pool.vcpus, "memory_mb", (int)sn->pool.mem_mb, "created_unix_ns",
                             (json_int_t)now_unix_ns());
    explicit_bzero(key_hex, sizeof(key_hex));
    char *text = meta ? json_dumps(meta, JSON_INDENT(2)) : NULL;
    json_decref(meta);
    if (text == NULL) {
        error_set(&err, ERR_INTERNAL, "out of memory");
        goto fail;
    }
    /* The state first, its new names made to last (the folder synced),
     * then the record that makes it usable (file_replace: synced, and
     * the folder again). A state whose bytes a crash lost fails its
     * restore, which boots cold and builds the snapshot again. */
    char mem_from[4400], mem_to[4400];
    companion(sn->tmp_path, mem_from, sizeof(mem_from));
    companion(sn->state_path, mem_to, sizeof(mem_to));
    int r = rename(sn->tmp_path, sn->state_path) < 0
                ? error_set_errno(&err, ERR_INTERNAL, "renaming %s", sn->tmp_path)
            : rename(mem_from, mem_to) < 0 && errno != ENOENT
                ? error_set_errno(&err, ERR_INTERNAL, "renaming %s", mem_from)
            : file_sync_dir(sn->dir) < 0
                ? error_set_errno(&err, ERR_INTERNAL, "syncing %s", sn->dir)
                : write_text_file(sn->meta_path, text, &err);
    explicit_bzero(text, strlen(text));
    free(text);
    if (r < 0)
        goto fail;
    sn->size = (uint64_t)st.st_size;
    sn->state = SNAP_READY;
    sn->pool.backoff_s = 0;
    log_info("snapshot %.12s ready: %.1f MiB saved in %lld ms (%u vCPU / %u MiB); sessions of this "
             "image and size restore it",
             sn->identity, (double)st.st_size / (1 << 20),
             (long long)((now_unix_ns() - sn->save_started_ns) / 1000000), sn->pool.vcpus,
             sn->pool.mem_mb);
    session_begin_stop(t);
    return;
fail:
    log_warn("snapshot: cannot keep the saved state: %s", err.message);
    session_begin_stop(t);
}

static void snap_save_begin(struct session *s)
{
    struct core *core = s->core;
    struct snap *sn = &core->snap;
    struct error err;
    /* Nothing more goes to this guest: its state is what a restored VM
     * starts from. */
    if (s->conn) {
        proxy_conn_free(s->conn);
        s->conn = NULL;
    }
    sn->save_started_ns = now_unix_ns();
    if (core->cfg.driver->snapshot_begin(s->vm, &err) < 0) {
        log_warn("snapshot: %s", err.message);
        pool_failed(&sn->pool);
        session_begin_stop(s);
        return;
    }
    sn->state = SNAP_SAVING;
    snap_kick(core, SNAP_POLL_MS);
}

/* A new booting VM of pool p, not yet booted, with the id "<prefix>+" and 12
 * hex digits: '+' is in no session id, so its run folder never meets a
 * session's. NULL when out of memory. */
static struct session *pool_session_new(struct core *core, struct pool *p, const char *prefix)
{
    struct session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->core = core;
    s->pool = p;
    s->in_pool = true;
    char rnd[16];
    make_session_id(rnd, sizeof(rnd));
    snprintf(s->id, sizeof(s->id), "%s+%s", prefix, rnd + 2);
    snprintf(s->vm_id, sizeof(s->vm_id), "%s", s->id);
    s->state = CORE_SESSION_BOOTING;
    s->vcpus = p->vcpus;
    s->mem_mb = p->mem_mb;
    s->workspace_mb = core_workspace_default_mb(p->mem_mb);
    s->created_ns = s->last_active_ns = now_unix_ns();
    return s;
}

/* Boots the template VM (the default image and size, saved once it serves). */
static void snap_build(struct core *core)
{
    struct snap *sn = &core->snap;
    struct session *s = pool_session_new(core, &sn->pool, "snap");
    if (s == NULL)
        return;
    s->template_vm = true;
    unlink(sn->tmp_path);
    struct error err;
    if (session_boot(s, NULL, NULL, NULL, &err) < 0) {
        free(s);
        log_warn("snapshot: cannot boot the VM to save: %s", err.message);
        pool_failed(&sn->pool);
        sn->state = SNAP_FAILED;
        snap_kick(core, sn->pool.backoff_s * 1000);
        return;
    }
    sn->builds++;
    sn->template = s;
    sn->state = SNAP_BUILDING;
    s->next = core->pooled;
    core->pooled = s;
    log_info("snapshot %.12s: booting a VM to save (%u vCPU / %u MiB)", sn->identity, s->vcpus,
             s->mem_mb);
}

/* The template VM is gone (saved and stopped, or failed). */
static void snap_template_gone(struct core *core)
{
    struct snap *sn = &core->snap;
    sn->template = NULL;
    if (sn->state == SNAP_BUILDING || sn->state == SNAP_SAVING) {
        unlink(sn->tmp_path);
        if (sn->pool.backoff_s == 0)
            pool_failed(&sn->pool);
        sn->state = SNAP_FAILED;
        log_warn("snapshot %.12s: the VM to save failed; trying again in %u s", sn->identity,
                 sn->pool.backoff_s);
        snap_kick(core, sn->pool.backoff_s * 1000);
    }
}

static void on_snap_timer(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    struct snap *sn = &core->snap;
    if (sn->state == SNAP_SAVING && sn->template != NULL) {
        struct error err;
        int r = core->cfg.driver->snapshot_poll(sn->template->vm, &err);
        if (r == 1) {
            snap_saved(core);
        } else if (r == 0 && now_unix_ns() - sn->save_started_ns < (int64_t)SNAP_SAVE_TIMEOUT_MS * 1000000) {
            snap_kick(core, SNAP_POLL_MS);
        } else {
            log_warn("snapshot: %s", r < 0 ? err.message : "saving took too long");
            session_begin_stop(sn->template); /* snap_template_gone retries */
        }
        return;
    }
    if ((sn->state == SNAP_NONE || sn->state == SNAP_FAILED) && sn->template == NULL)
        snap_build(core);
}

/* What the snapshot is bound to, hashed: the image, its command line, the
 * size, the VMM's version and the channel device. */
static int snap_identity(struct core *core, const char *version, char out[DIGEST_SHA256_HEX_SIZE],
                         struct error *err)
{
    const char *channel = getenv("ENCLAVE_CHANNEL");
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "enclave-snapshot-v1\nimage=%s\ncmdline=%s\nvcpus=%u\nmemory_mb=%u\nvmm=%s\n"
                     "driver=%s\nchannel=%s,%s\n",
                     core->cfg.image_digest ? core->cfg.image_digest : "", core->cmdline,
                     core->snap.pool.vcpus, core->snap.pool.mem_mb, version, core->cfg.driver->name,
                     channel ? channel : "", access("/dev/vhost-vsock", R_OK | W_OK) == 0 ? "vsock" : "serial");
    if (n < 0 || (size_t)n >= sizeof(text))
        return error_set(err, ERR_INVALID_ARGUMENT, "the snapshot's identity is too long");
    digest_sha256_hex(text, (size_t)n, out);
    return 0;
}

/* Loads <dir>/meta.json when it is this identity's and its state file has
 * the size it records. */
static bool snap_load(struct snap *sn)
{
    json_error_t jerr;
    json_t *meta = json_load_file(sn->meta_path, JSON_REJECT_DUPLICATES, &jerr);
    if (meta == NULL) {
        if (access(sn->meta_path, F_OK) == 0)
            log_warn("snapshot %.12s: %s does not describe %s (%s); it is built again", sn->identity,
                     sn->meta_path, sn->state_path, jerr.text);
        return false;
    }
    const char *identity = json_string_value(json_object_get(meta, "identity"));
    const char *key = json_string_value(json_object_get(meta, "key"));
    json_int_t size = json_integer_value(json_object_get(meta, "size"));
    struct stat st;
    bool ok = identity && strcmp(identity, sn->identity) == 0 && key && strlen(key) == 64 &&
              decode_hex(key, sn->key, sizeof(sn->key)) && size > 0 &&
              stat(sn->state_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size;
    json_decref(meta);
    if (!ok) {
        log_warn("snapshot %.12s: %s does not describe %s; it is built again", sn->identity,
                 sn->meta_path, sn->state_path);
        explicit_bzero(sn->key, sizeof(sn->key));
        return false;
    }
    sn->size = (uint64_t)size;
    return true;
}

/* The rest of snap_init, once the VMM said its version. */
static int snap_identified(struct core *core, const char *version, struct error *err)
{
    struct snap *sn = &core->snap;
    if (snap_identity(core, version, sn->identity, err) < 0)
        return -1;
    const char *root = core->cfg.snapshot_dir;
    if (paths_mkdir_p(root, 0700, err) < 0)
        return -1;
    /* Snapshots of anything else (another image, size, command line or
     * VMM) are stale: this daemon would never restore them. */
    DIR *d = opendir(root);
    if (d == NULL)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", root);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, sn->identity) == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
        log_info("snapshot: removing %s (the image, size, command line or VMM changed)", path);
        remove_tree(path, NULL);
    }
    closedir(d);
    if ((size_t)snprintf(sn->dir, sizeof(sn->dir), "%s/%s", root, sn->identity) >= sizeof(sn->dir))
        return error_set(err, ERR_INVALID_ARGUMENT, "snapshot folder path too long");
    if (strchr(sn->dir, ',') != NULL)
        return error_set(err, ERR_INVALID_ARGUMENT, "the snapshot folder may not contain ','");
    if (paths_mkdir_p(sn->dir, 0700, err) < 0)
        return -1;
    snprintf(sn->state_path, sizeof(sn->state_path), "%s/state", sn->dir);
    snprintf(sn->tmp_path, sizeof(sn->tmp_path), "%s/state.partial", sn->dir);
    snprintf(sn->meta_path, sizeof(sn->meta_path), "%s/meta.json", sn->dir);
    unlink(sn->tmp_path);
    if (snap_load(sn)) {
        sn->state = SNAP_READY;
        log_info("snapshot %.12s: %.1f MiB, %u vCPU / %u MiB: sessions of this image and size "
                 "restore it",
                 sn->identity, (double)sn->size / (1 << 20), sn->pool.vcpus, sn->pool.mem_mb);
    } else {
        snap_unlink(sn);
        sn->state = SNAP_NONE;
        snap_kick(core, 0);
    }
    return 0;
}

static void snap_off(struct core *core, const struct error *why)
{
    struct snap *sn = &core->snap;
    log_warn("snapshot restore is off: %s", why->message);
    if (sn->timer) {
        event_free(sn->timer);
        sn->timer = NULL;
    }
    sn->state = SNAP_OFF;
}

static void on_snap_version(void *ctx, const char *version, const struct error *verr)
{
    struct core *core = ctx;
    struct snap *sn = &core->snap;
    struct error err;
    if (verr != NULL)
        snap_off(core, verr);
    else if (snap_identified(core, version, &err) < 0)
        snap_off(core, &err);
    vmm_version_run_free(sn->version_run); /* version is in it */
    sn->version_run = NULL;
}

/* Asks the VMM for its version, on the loop: the daemon serves meanwhile
 * (sessions boot cold until a snapshot is ready), and the snapshot folder
 * is looked at once the identity is known. A VMM that is missing turns
 * snapshots off at once, saying why. */
static int snap_init(struct core *core, struct error *err)
{
    struct snap *sn = &core->snap;
    sn->pool.vcpus = core->cfg.default_vcpus;
    sn->pool.mem_mb = core->cfg.default_mem_mb;
    sn->pool.size = 1;
    sn->timer = evtimer_new(core->cfg.base, on_snap_timer, core);
    if (sn->timer == NULL)
        return error_set(err, ERR_INTERNAL, "cannot arm the snapshot timer");
    sn->state = SNAP_IDENTIFYING;
    if (core->cfg.driver->version_start(NULL, core->cfg.base, on_snap_version, core, &sn->version_run, err) < 0) {
        sn->state = SNAP_OFF;
        return -1;
    }
    return 0;
}

void core_snapshot_get(struct core *core, struct core_snapshot_info *info)
{
    const struct snap *sn = &core->snap;
    memset(info, 0, sizeof(*info));
    static const char *const names[] = {"off", "building", "building", "building", "building", "ready", "failed"};
    info->state = names[sn->state];
    info->identity = sn->state == SNAP_OFF ? "" : sn->identity;
    info->vcpus = sn->pool.vcpus;
    info->mem_mb = sn->pool.mem_mb;
    info->size_bytes = sn->state == SNAP_READY ? sn->size : 0;
    info->restores = sn->restores;
    info->fallbacks = sn->fallbacks;
    info->builds = sn->builds;
}

static void on_claimed(evutil_socket_t fd, short what, void *arg);
static struct session *pool_take(struct core *core, const char *kernel, const char *initrd,
                                 unsigned vcpus, unsigned mem_mb, unsigned workspace_mb);

static void make_session_id(char *buf, size_t size)
{
    unsigned char r[6];
    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        memset(r, 0, sizeof(r));
    snprintf(buf, size, "s-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

int core_session_start(struct core *core, const struct core_start_request *req,
                       core_session_fn cb, void *ctx, struct error *err)
{
    char id[CORE_MAX_SESSION_ID + 1];
    if (req->session_id && req->session_id[0]) {
        if (!core_session_id_valid(req->session_id))
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "session_id must be 1-%d characters of A-Z a-z 0-9 . _ - "
                             "(not starting with . or -)",
                             CORE_MAX_SESSION_ID);
        snprintf(id, sizeof(id), "%s", req->session_id);
    } else {
        do
            make_session_id(id, sizeof(id));
        while (find_session(core, id));
    }
    if (find_session(core, id))
        return error_set(err, ERR_ALREADY_EXISTS, "session %s already exists", id);
    unsigned vcpus = req->vcpus ? req->vcpus : core->cfg.default_vcpus;
    unsigned mem = req->mem_mb ? req->mem_mb : core->cfg.default_mem_mb;
    if (vcpus > core->cfg.max_vcpus)
        return error_set(err, ERR_INVALID_ARGUMENT, "vcpu must be between 1 and %u", core->cfg.max_vcpus);
    if (mem < core->cfg.min_mem_mb || mem > core->cfg.max_mem_mb)
        return error_set(err, ERR_INVALID_ARGUMENT, "memory_mb must be between %u and %u",
                         core->cfg.min_mem_mb, core->cfg.max_mem_mb);
    unsigned workspace = req->workspace_mb ? req->workspace_mb : core_workspace_default_mb(mem);
    if (workspace < CORE_WORKSPACE_MIN_MB || workspace > core_workspace_max_mb(mem))
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "workspace_mb must be between %u and %u (half of memory_mb %u)",
                         CORE_WORKSPACE_MIN_MB, core_workspace_max_mb(mem), mem);
    json_t *intent = NULL;
    if (req->intent_json && req->intent_json[0]) {
        intent = json_loads(req->intent_json, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(intent)) {
            json_decref(intent);
            return error_set(err, ERR_INVALID_ARGUMENT, "the session intent must be a JSON object");
        }
    }

    json_t *input = json_pack("{s:{s:s, s:{}, s:o}, s:{s:i, s:i, s:I, s:I}, s:o}", "session",
                              "id", id, "labels", "intent",
                              intent ? json_incref(intent) : json_object(), "request", "vcpu",
                              (int)vcpus, "memory_mb", (int)mem, "idle_timeout_s",
                              (json_int_t)req->idle_timeout_s, "max_lifetime_s",
                              (json_int_t)req->max_lifetime_s, "caller",
                              core_caller_json(&req->caller));
    if (input != NULL) {
        json_object_set_new(json_object_get(input, "request"), "image",
                            json_string(req->image ? req->image : ""));
        json_object_set_new(json_object_get(input, "request"), "egress", json_boolean(req->egress));
        json_object_set_new(json_object_get(input, "request"), "workspace_mb",
                            json_integer(workspace));
    }
    struct gate_obligations ob;
    if (gate_decide(core->cfg.gate, "session.start", id, input, &ob, err) < 0) {
        json_decref(intent);
        return -1;
    }
    if (core->n_sessions >= core->cfg.max_sessions) {
        json_decref(intent);
        return error_set(err, ERR_RESOURCE_EXHAUSTED,
                         "%u sessions are running, the most this daemon allows (--max-sessions)",
                         core->n_sessions);
    }

    /* A warm VM of these files and this size, if a pool has one ready. */
    struct session *claimed = pool_take(core, req->kernel ? req->kernel : core->kernel,
                                        req->initrd ? req->initrd : core->initrd, vcpus, mem,
                                        workspace);
    struct session *s = claimed ? claimed : calloc(1, sizeof(*s));
    if (s == NULL) {
        json_decref(intent);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    s->core = core;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->state = CORE_SESSION_BOOTING;
    s->ready_ns = 0;
    s->vcpus = vcpus;
    s->mem_mb = mem;
    s->workspace_mb = workspace;
    s->created_ns = now_unix_ns();
    s->last_active_ns = s->created_ns;
    s->idle_timeout_s = req->idle_timeout_s;
    s->max_lifetime_s = req->max_lifetime_s;
    s->start_cb = cb;
    s->start_ctx = ctx;
    s->egress_wanted = req->egress;
    s->egress_max_bytes = ob.egress_max_bytes;
    s->egress_timeout_s = ob.egress_timeout_s;
    /* From here the gate holds the session's declared intent. */
    int opened = gate_session_open(core->cfg.gate, id, intent, err);
    json_decref(intent);
    if (opened < 0) {
        if (claimed) {
            /* Taken out of the pool already: it goes, never back. */
            s->start_cb = NULL;
            s->next = core->sessions;
            core->sessions = s;
            core->n_sessions++;
            snprintf(s->stop_reason, sizeof(s->stop_reason), "claim_failed");
            session_begin_stop(s);
            return -1;
        }
        free(s);
        return -1;
    }
    if (claimed != NULL) {
        s->gate_open = true;
        s->next = core->sessions;
        core->sessions = s;
        core->n_sessions++;
        record(core, AUDIT_SESSION_START, s->id,
               json_pack("{s:i, s:i, s:I, s:I, s:I, s:o, s:b, s:s, s:b}", "vcpu", (int)vcpus,
                         "memory_mb", (int)mem, "pid", (json_int_t)vmm_vm_pid(s->vm),
                         "idle_timeout_s", (json_int_t)s->idle_timeout_s, "max_lifetime_s",
                         (json_int_t)s->max_lifetime_s, "caller", core_caller_json(&req->caller),
                         "pooled", 1, "vm", s->vm_id, "egress", req->egress));
        /* READY from the loop (the callback never runs inside this call);
         * until then it is BOOTING, so a stop or a shutdown answers it. */
        s->boot_timer = evtimer_new(core->cfg.base, on_claimed, s);
        struct timeval now = {0, 0};
        if (s->boot_timer == NULL || evtimer_add(s->boot_timer, &now) < 0) {
            /* Cannot happen short of memory; the VM goes (never back to the pool). */
            snprintf(s->stop_reason, sizeof(s->stop_reason), "internal_error");
            s->start_cb = NULL;
            session_begin_stop(s);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        pool_kick(core, 0);
        return 0;
    }
    s->restoring = snap_usable(core, req->kernel, req->initrd, vcpus, mem, s->workspace_mb);
    if (session_boot(s, req->kernel, req->initrd, req->rootfs, err) < 0 && s->restoring) {
        log_warn("session %s: cannot restore the snapshot (%s); booting it cold", id, err->message);
        s->restoring = false;
        snap_invalidate(core, err->message);
        if (session_boot(s, req->kernel, req->initrd, req->rootfs, err) == 0)
            goto booted;
    } else if (s->vm != NULL) {
        goto booted;
    }
    {
        gate_session_close(core->cfg.gate, id);
        free(s);
        return -1;
    }
booted:
    s->gate_open = true;
    s->next = core->sessions;
    core->sessions = s;
    core->n_sessions++;
    record(core, AUDIT_SESSION_START, s->id,
           json_pack("{s:i, s:i, s:I, s:I, s:I, s:o, s:b, s:b, s:b}", "vcpu", (int)vcpus, "memory_mb", (int)mem,
                     "pid", (json_int_t)vmm_vm_pid(s->vm), "idle_timeout_s",
                     (json_int_t)s->idle_timeout_s, "max_lifetime_s",
                     (json_int_t)s->max_lifetime_s, "caller", core_caller_json(&req->caller),
                     "pooled", 0, "restore", s->restoring, "egress", req->egress));
    return 0;
}

/* ------------------------------------------------------------------ warm pools */

/* A claimed pool VM becomes READY (from the loop). */
static void on_claimed(evutil_socket_t fd, short what, void *arg)
{
    struct session *s = arg;
    if (s->state != CORE_SESSION_BOOTING)
        return;
    s->state = CORE_SESSION_READY;
    s->ready_ns = s->last_active_ns = now_unix_ns();
    int64_t claim_us = (s->ready_ns - s->created_ns) / 1000;
    log_info("session %s ready in %lld us (pool VM %s)", s->id, (long long)claim_us, s->vm_id);
    record(s->core, AUDIT_SESSION_READY, s->id,
           json_pack("{s:I, s:s, s:b, s:s}", "boot_ms", (json_int_t)(claim_us / 1000), "accel",
                     vmm_vm_uses_kvm(s->vm) ? "kvm" : "tcg", "pooled", 1, "vm", s->vm_id));
    egress_start(s);
    finish_start(s, NULL);
}

static bool same_path(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* An idle, READY pool VM of these files and size, taken out of its pool. */
static struct session *pool_take(struct core *core, const char *kernel, const char *initrd,
                                 unsigned vcpus, unsigned mem_mb, unsigned workspace_mb)
{
    for (struct session **pp = &core->pooled; *pp; pp = &(*pp)->next) {
        struct session *s = *pp;
        struct pool *p = s->pool;
        if (s->template_vm || s->state != CORE_SESSION_READY || s->conn == NULL || s->execs_running != 0 ||
            p->vcpus != vcpus || p->mem_mb != mem_mb || s->workspace_mb != workspace_mb ||
            !same_path(p->kernel ? p->kernel : core->kernel, kernel) ||
            !same_path(p->initrd ? p->initrd : core->initrd, initrd))
            continue;
        *pp = s->next;
        s->next = NULL;
        s->in_pool = false;
        s->pooled = true;
        p->claimed++;
        return s;
    }
    return NULL;
}

static unsigned pool_count(struct core *core, const struct pool *p, enum core_session_state state)
{
    unsigned n = 0;
    for (struct session *s = core->pooled; s; s = s->next)
        if (s->pool == p && s->state == state)
            n++;
    return n;
}

static unsigned pool_members(struct core *core, const struct pool *p)
{
    unsigned n = 0;
    for (struct session *s = core->pooled; s; s = s->next)
        if (s->pool == p)
            n++;
    return n;
}

/* Boots one VM into pool p. */
static int pool_boot(struct core *core, struct pool *p, struct error *err)
{
    struct session *s = pool_session_new(core, p, "pool");
    if (s == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    /* A refill restores the snapshot when it can (it falls back to a cold
     * boot as a session's restore does). */
    s->restoring = snap_usable(core, p->kernel, p->initrd, p->vcpus, p->mem_mb, s->workspace_mb);
    if (session_boot(s, p->kernel, p->initrd, p->rootfs, err) < 0) {
        free(s);
        return -1;
    }
    p->boots++;
    s->next = core->pooled;
    core->pooled = s;
    return 0;
}

/* Starts the next pool boot when none is booting: one at a time across all
 * pools, so refilling never takes more than one vCPU's worth of boot work
 * from the running sessions. */
static void on_pool_timer(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    for (struct session *s = core->pooled; s; s = s->next)
        if (s->state == CORE_SESSION_BOOTING)
            return; /* its READY or its failure kicks again */
    int64_t now = now_unix_ns(), wait_ns = 0;
    for (size_t i = 0; i < core->n_pools; i++) {
        struct pool *p = &core->pools[i];
        if (pool_members(core, p) >= p->size)
            continue;
        if (p->not_before_ns > now) {
            if (wait_ns == 0 || p->not_before_ns - now < wait_ns)
                wait_ns = p->not_before_ns - now;
            continue;
        }
        struct error err;
        if (pool_boot(core, p, &err) < 0) {
            log_warn("warm pool %s: cannot boot a VM: %s", p->image[0] ? p->image : "default",
                     err.message);
            pool_failed(p);
            wait_ns = (int64_t)p->backoff_s * 1000000000;
            break;
        }
        return;
    }
    if (wait_ns > 0)
        pool_kick(core, (unsigned)(wait_ns / 1000000) + 1);
}

static void pool_kick(struct core *core, unsigned delay_ms)
{
    if (core->pool_timer == NULL)
        return;
    struct timeval tv = {.tv_sec = delay_ms / 1000, .tv_usec = (delay_ms % 1000) * 1000};
    evtimer_add(core->pool_timer, &tv);
}

void core_pool_foreach(struct core *core, void (*fn)(const struct core_pool_info *, void *), void *ctx)
{
    for (size_t i = 0; i < core->n_pools; i++) {
        const struct pool *p = &core->pools[i];
        struct core_pool_info info = {
            .image = p->image,
            .vcpus = p->vcpus,
            .mem_mb = p->mem_mb,
            .size = p->size,
            .ready = pool_count(core, p, CORE_SESSION_READY),
            .booting = pool_count(core, p, CORE_SESSION_BOOTING),
            .claimed = p->claimed,
            .boots = p->boots,
            .failures = p->failures,
        };
        fn(&info, ctx);
    }
}

/* ------------------------------------------------------------------ exec */

struct exec_op {
    struct session *session;
    core_exec_fn cb;
    void *ctx;
    unsigned timeout_s;
    uint64_t cap;
    char tool[16];
    char session_id[CORE_MAX_SESSION_ID + 1];
    /* Streaming. */
    void (*on_output)(int stream, const uint8_t *data, size_t len, void *ctx);
    void (*on_stdin_written)(uint64_t bytes, void *ctx);
    uint64_t streamed[2];
    uint64_t guest_id;
};

static void on_exec_output(const Guest__V1__ExecOutput *chunk, void *ctx)
{
    struct exec_op *op = ctx;
    if (chunk->stdin_written > 0 && op->on_stdin_written != NULL)
        op->on_stdin_written(chunk->stdin_written, op->ctx);
    int which = chunk->stream == GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDERR ? 2 : 1;
    if (chunk->stream != GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDOUT &&
        chunk->stream != GUEST__V1__EXEC_OUTPUT__STREAM__STREAM_STDERR)
        return;
    /* The guest is a peer: it may not send past the cap it was given. */
    uint64_t room = op->cap > op->streamed[which - 1] ? op->cap - op->streamed[which - 1] : 0;
    size_t len = chunk->data.len < room ? chunk->data.len : (size_t)room;
    if (len == 0)
        return;
    op->streamed[which - 1] += len;
    op->on_output(which, chunk->data.data, len, op->ctx);
}

static void on_exec_reply(const Guest__V1__Frame *reply, const struct error *err, void *ctx)
{
    struct exec_op *op = ctx;
    struct core *core = op->session->core;
    op->session->execs_running--;
    struct core_exec_result res = {.timeout_s = op->timeout_s, .max_output_bytes = op->cap};
    struct error e;
    const struct error *fail = err;
    if (fail == NULL && reply->body_case == GUEST__V1__FRAME__BODY_ERROR) {
        char msg[512]; /* the guest's words: valid UTF-8 for replies and audit records */
        text_utf8_copy(msg, sizeof(msg), reply->error->message ? reply->error->message : "error");
        error_set(&e,
                  reply->error->code == GUEST__V1__ERROR_RESPONSE__CODE__CODE_BUSY
                      ? ERR_RESOURCE_EXHAUSTED
                  : reply->error->code == GUEST__V1__ERROR_RESPONSE__CODE__CODE_EXEC_FAILED
                      ? ERR_FAILED_PRECONDITION
                      : ERR_INTERNAL,
                  "guest: %s", msg);
        fail = &e;
    } else if (fail == NULL && reply->body_case != GUEST__V1__FRAME__BODY_EXEC_RESPONSE) {
        error_set(&e, ERR_INTERNAL, "guest answered an exec with something else");
        fail = &e;
    }
    if (fail != NULL) {
        record(core, AUDIT_TOOL_EXEC, op->session_id,
               json_pack("{s:s, s:s}", "tool", op->tool, "error", fail->message));
        op->cb(NULL, fail, op->ctx);
        free(op);
        return;
    }
    const Guest__V1__ExecResponse *r = reply->exec_response;
    res.exit_code = r->exit_code;
    res.signal = r->signal;
    res.timed_out = r->timed_out;
    res.out = r->stdout.data;
    res.out_len = r->stdout.len;
    res.out_truncated = r->stdout_truncated;
    res.err = r->stderr.data;
    res.err_len = r->stderr.len;
    res.err_truncated = r->stderr_truncated;
    res.duration_us = r->duration_us;
    /* The guest caps its output; one that does not is capped here all the same. */
    if (op->cap && res.out_len > op->cap) {
        res.out_len = (size_t)op->cap;
        res.out_truncated = true;
    }
    if (op->cap && res.err_len > op->cap) {
        res.err_len = (size_t)op->cap;
        res.err_truncated = true;
    }
    if (op->on_output != NULL) {
        res.out = res.err = NULL;
        res.out_len = (size_t)op->streamed[0];
        res.err_len = (size_t)op->streamed[1];
    }
    op->session->last_active_ns = now_unix_ns();
    record(core, AUDIT_TOOL_EXEC, op->session_id,
           json_pack("{s:s, s:i, s:i, s:b, s:I, s:I, s:I, s:b, s:b, s:b}", "tool", op->tool,
                     "exit_code", r->exit_code, "signal", r->signal, "timed_out", r->timed_out,
                     "duration_us", (json_int_t)r->duration_us, "stdout_bytes",
                     (json_int_t)res.out_len, "stderr_bytes", (json_int_t)res.err_len,
                     "stdout_truncated", res.out_truncated, "stderr_truncated",
                     res.err_truncated, "streamed", op->on_output != NULL));
    op->cb(&res, NULL, op->ctx);
    free(op);
}

static int exec_start(struct core *core, const struct core_exec_request *req, core_exec_fn cb,
                      void *ctx, struct exec_op **op_out, struct error *err)
{
    struct session *s = find_session(core, req->session_id ? req->session_id : "");
    if (s == NULL)
        return error_set(err, ERR_NOT_FOUND, "no session '%s'", req->session_id ? req->session_id : "");
    if (s->state != CORE_SESSION_READY)
        return error_set(err, ERR_FAILED_PRECONDITION, "session %s is %s, not READY", s->id,
                         core_session_state_name(s->state));
    if (req->argc == 0 || req->argc > CORE_MAX_ARGV)
        return error_set(err, ERR_INVALID_ARGUMENT, "argv must have 1 to %d entries", CORE_MAX_ARGV);
    size_t total = req->stdin_len;
    if (req->n_env > CORE_MAX_ENV)
        return error_set(err, ERR_INVALID_ARGUMENT, "at most %d environment variables",
                         CORE_MAX_ENV);
    for (size_t i = 0; i < req->n_env; i++)
        total += strlen(req->env_names[i]) + strlen(req->env_values[i]) + 2;
    for (size_t i = 0; i < req->argc; i++) {
        if (req->argv[i] == NULL)
            return error_set(err, ERR_INVALID_ARGUMENT, "argv[%zu] is missing", i);
        total += strlen(req->argv[i]) + 1;
    }
    if (total > core->cfg.max_input_bytes)
        return error_set(err, ERR_RESOURCE_EXHAUSTED,
                         "the input is %zu bytes; the most accepted is %zu", total,
                         core->cfg.max_input_bytes);
    unsigned timeout = req->timeout_s ? req->timeout_s : core->cfg.default_exec_timeout_s;
    if (timeout > core->cfg.max_exec_timeout_s)
        return error_set(err, ERR_INVALID_ARGUMENT, "timeout_seconds must be at most %u",
                         core->cfg.max_exec_timeout_s);
    bool stream = req->on_output != NULL;
    uint64_t cap = core->cfg.max_output_bytes;
    if (stream)
        cap = core->cfg.max_stream_output_bytes ? core->cfg.max_stream_output_bytes : (16u << 20);

    json_t *argv_json = json_array();
    for (size_t i = 0; i < req->argc; i++)
        json_array_append_new(argv_json, json_string(req->argv[i]));
    /* The policy sees the names of the variables asked for, not their values. */
    json_t *env_json = json_array();
    for (size_t i = 0; i < req->n_env; i++)
        json_array_append_new(env_json, json_string(req->env_names[i]));
    json_t *context = NULL;
    if (req->context_json && req->context_json[0]) {
        context = json_loads(req->context_json, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(context)) {
            json_decref(context);
            json_decref(argv_json);
            json_decref(env_json);
            return error_set(err, ERR_INVALID_ARGUMENT, "context_json must be a JSON object");
        }
    }
    /* The gate adds session.intent (the session's declared intent). */
    json_t *input = json_pack(
        "{s:{s:s, s:{}}, s:{s:s, s:o, s:o, s:s, s:i, s:I, s:o}, s:o}", "session", "id", s->id,
        "labels", "request", "tool",
        req->tool ? req->tool : "exec", "argv", argv_json, "env", env_json,
        "cwd", req->cwd ? req->cwd : "/workspace",
        "timeout_s", (int)timeout, "stdin_bytes", (json_int_t)req->stdin_len, "context",
        context ? context : json_object(), "caller", core_caller_json(&req->caller));
    struct gate_obligations ob;
    if (core_decide_exec(core, s->id, input, &timeout, &ob, err) < 0)
        return -1;
    if (ob.max_output_bytes && ob.max_output_bytes < cap)
        cap = ob.max_output_bytes;

    struct exec_op *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    op->session = s;
    op->cb = cb;
    op->ctx = ctx;
    op->timeout_s = timeout;
    op->cap = cap;
    snprintf(op->tool, sizeof(op->tool), "%s", req->tool ? req->tool : "exec");
    snprintf(op->session_id, sizeof(op->session_id), "%s", s->id);
    op->on_output = req->on_output;
    op->on_stdin_written = req->on_stdin_written;

    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__ExecRequest er = GUEST__V1__EXEC_REQUEST__INIT;
    Guest__V1__Limits lim = GUEST__V1__LIMITS__INIT;
    lim.max_processes = 256;
    lim.max_file_size = 256ull << 20;
    lim.max_open_files = 1024;
    er.argv = (char **)req->argv;
    er.n_argv = req->argc;
    /* Only the variables the obligations let through reach the guest. */
    Guest__V1__EnvVar env_store[CORE_MAX_ENV + CORE_EGRESS_ENV_COUNT];
    Guest__V1__EnvVar *env_ptrs[CORE_MAX_ENV + CORE_EGRESS_ENV_COUNT];
    size_t n_env = 0;
    for (size_t i = 0; i < req->n_env; i++) {
        /* With egress the proxy variables are the host's, whatever was asked. */
        if (s->egress_wanted && core_egress_env_name(req->env_names[i]))
            continue;
        bool allowed = !ob.env_restricted;
        for (unsigned j = 0; j < ob.n_env_allow && !allowed; j++)
            allowed = strcmp(ob.env_allow[j], req->env_names[i]) == 0;
        if (!allowed)
            continue;
        guest__v1__env_var__init(&env_store[n_env]);
        env_store[n_env].name = req->env_names[i];
        env_store[n_env].value = req->env_values[i];
        env_ptrs[n_env] = &env_store[n_env];
        n_env++;
    }
    if (s->egress_wanted)
        n_env += core_egress_env(env_store + n_env, env_ptrs + n_env);
    er.env = env_ptrs;
    er.n_env = n_env;
    er.cwd = (char *)(req->cwd ? req->cwd : "/workspace");
    er.stdin.data = (uint8_t *)req->stdin_data;
    er.stdin.len = req->stdin_len;
    er.timeout_ms = timeout * 1000;
    er.max_output_bytes = cap;
    er.stream_output = stream;
    er.stream_window = stream ? req->stream_window : 0;
    er.stdin_open = stream && req->stdin_open;
    er.limits = &lim;
    f.body_case = GUEST__V1__FRAME__BODY_EXEC_REQUEST;
    f.exec_request = &er;
    if (s->conn == NULL) {
        free(op);
        return error_set(err, ERR_UNAVAILABLE, "session %s: the guest channel is reconnecting", s->id);
    }
    /* A paused stream is still bounded by the exec's timeout in the guest;
     * the reply may come that much later. */
    if (proxy_request(s->conn, &f, timeout * 1000 + EXEC_REPLY_GRACE_MS, on_exec_reply,
                      stream ? on_exec_output : NULL, op, &op->guest_id, err) < 0) {
        free(op);
        return -1;
    }
    s->execs_running++;
    s->last_active_ns = now_unix_ns();
    if (op_out != NULL)
        *op_out = op;
    return 0;
}

int core_exec(struct core *core, const struct core_exec_request *req, core_exec_fn cb, void *ctx,
              struct error *err)
{
    if (req->on_output != NULL)
        return error_set(err, ERR_INTERNAL, "a streamed exec goes through core_exec_stream");
    return exec_start(core, req, cb, ctx, NULL, err);
}

int core_exec_stream(struct core *core, const struct core_exec_request *req, core_exec_fn cb,
                     void *ctx, struct core_exec_handle **handle, struct error *err)
{
    if (req->on_output == NULL)
        return error_set(err, ERR_INTERNAL, "a streamed exec needs on_output");
    struct exec_op *op = NULL;
    if (exec_start(core, req, cb, ctx, &op, err) < 0)
        return -1;
    *handle = (struct core_exec_handle *)op;
    return 0;
}

void core_exec_credit(struct core_exec_handle *handle, uint64_t bytes)
{
    struct exec_op *op = (struct exec_op *)handle;
    if (op->session->conn != NULL)
        proxy_exec_credit(op->session->conn, op->guest_id, bytes);
}

int core_exec_stdin(struct core_exec_handle *handle, const uint8_t *data, size_t len, bool close,
                    struct error *err)
{
    struct exec_op *op = (struct exec_op *)handle;
    if (op->session->conn == NULL)
        return error_set(err, ERR_UNAVAILABLE, "the guest channel is reconnecting");
    return proxy_exec_stdin(op->session->conn, op->guest_id, data, len, close, err);
}

void core_exec_abandon(struct core_exec_handle *handle)
{
    struct exec_op *op = (struct exec_op *)handle;
    struct session *s = op->session;
    if (s->conn != NULL)
        proxy_cancel(s->conn, op->guest_id);
    s->execs_running--;
    s->last_active_ns = now_unix_ns();
    record(s->core, AUDIT_TOOL_EXEC, op->session_id,
           json_pack("{s:s, s:b, s:I, s:I, s:b}", "tool", op->tool, "abandoned", 1, "stdout_bytes",
                     (json_int_t)op->streamed[0], "stderr_bytes", (json_int_t)op->streamed[1],
                     "streamed", 1));
    free(op);
}

/* ------------------------------------------------------------------ stop */

int core_session_stop(struct core *core, const char *session_id, const struct core_caller *caller,
                      core_done_fn cb, void *ctx, struct error *err)
{
    struct session *s = find_session(core, session_id ? session_id : "");
    if (s == NULL)
        return error_set(err, ERR_NOT_FOUND, "no session '%s'", session_id ? session_id : "");
    json_t *input = json_pack("{s:{s:s, s:{}}, s:{}, s:o}", "session", "id", s->id, "labels",
                              "request", "caller", core_caller_json(caller));
    struct gate_obligations ob;
    if (gate_decide(core->cfg.gate, "session.stop", s->id, input, &ob, err) < 0)
        return -1;
    struct waiter *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    if (s->stop_reason[0] == '\0')
        snprintf(s->stop_reason, sizeof(s->stop_reason), "requested");
    w->cb = cb;
    w->ctx = ctx;
    w->next = s->stop_waiters;
    s->stop_waiters = w;
    if (s->state == CORE_SESSION_BOOTING) {
        struct error e;
        error_set(&e, ERR_ABORTED, "session %s was stopped while booting", s->id);
        finish_start(s, &e);
    }
    if (s->state != CORE_SESSION_STOPPING || s->kill_timer == NULL)
        session_begin_stop(s);
    if (s->vm == NULL || vmm_vm_exited(s->vm)) {
        /* Nothing to wait for: finish from the loop, not from inside this call. */
        event_active(core->sigchld, EV_SIGNAL, 1);
    }
    return 0;
}

/* ------------------------------------------------------------------ lifetime */

void core_session_touch(struct core *core, const char *session_id)
{
    struct session *s = find_session(core, session_id ? session_id : "");
    if (s != NULL)
        s->last_active_ns = now_unix_ns();
}

/* A limit passed: the session stops as if asked to, without a policy
 * decision (the limit is the decision), and SESSION:STOP says why. */
static void session_expire(struct session *s, const char *reason, int64_t limit_s)
{
    struct core *core = s->core;
    snprintf(s->stop_reason, sizeof(s->stop_reason), "%s", reason);
    log_info("session %s: %s of %lld s reached; stopping", s->id, reason, (long long)limit_s);
    if (s->state == CORE_SESSION_BOOTING) {
        struct error e;
        error_set(&e, ERR_DEADLINE_EXCEEDED, "session %s reached its %s while booting", s->id,
                  reason);
        finish_start(s, &e);
    }
    if (s->state != CORE_SESSION_STOPPING || s->kill_timer == NULL)
        session_begin_stop(s);
    if (s->vm == NULL || vmm_vm_exited(s->vm))
        event_active(core->sigchld, EV_SIGNAL, 1);
}

static void on_lifetime_tick(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    int64_t now = now_unix_ns();
    for (struct session *s = core->sessions; s; s = s->next) {
        if (s->state != CORE_SESSION_READY)
            continue;
        if (s->max_lifetime_s && now - s->ready_ns >= (int64_t)s->max_lifetime_s * 1000000000) {
            session_expire(s, "max_lifetime", s->max_lifetime_s);
            continue;
        }
        if (s->idle_timeout_s && s->state == CORE_SESSION_READY && s->execs_running == 0 &&
            now - s->last_active_ns >= (int64_t)s->idle_timeout_s * 1000000000)
            session_expire(s, "idle_timeout", s->idle_timeout_s);
    }
}

/* ------------------------------------------------------------------ lifecycle */

void core_session_foreach(struct core *core, void (*fn)(const struct core_session_info *, void *),
                          void *ctx)
{
    for (struct session *s = core->sessions; s; s = s->next) {
        struct core_session_info info;
        session_info(s, &info);
        fn(&info, ctx);
    }
}

unsigned core_session_count(const struct core *core)
{
    return core->n_sessions;
}

int core_new(const struct core_config *config, struct core **out, struct error *err)
{
    *out = NULL;
    /* No gate, no core: nothing may reach a VM without a recorded decision. */
    if (config->gate == NULL)
        return error_set(err, ERR_INVALID_ARGUMENT,
                         "a core needs a gate: every action must be decided and recorded");
    struct core *core = calloc(1, sizeof(*core));
    if (core == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    core->cfg = *config;
    core->kernel = strdup(config->kernel);
    core->initrd = strdup(config->initrd);
    core->rootfs = config->rootfs ? strdup(config->rootfs) : NULL;
    core->cmdline = strdup(config->cmdline ? config->cmdline : "console=ttyS0");
    core->vms_dir = strdup(config->vms_dir);
    /* Read when the VMM has said its version, after core_new returned. */
    core->cfg.snapshot_dir = core->snapshot_dir = config->snapshot_dir ? strdup(config->snapshot_dir) : NULL;
    core->cfg.image_digest = core->image_digest = config->image_digest ? strdup(config->image_digest) : NULL;
    if (!core->kernel || !core->initrd || !core->cmdline || !core->vms_dir || (config->rootfs && !core->rootfs) ||
        (config->snapshot_dir && !core->snapshot_dir) || (config->image_digest && !core->image_digest)) {
        core_free(core);
        return error_set(err, ERR_INTERNAL, "out of memory");
    }
    if (paths_mkdir_p(core->vms_dir, 0700, err) < 0) {
        core_free(core);
        return -1;
    }
    core->sigchld = evsignal_new(config->base, SIGCHLD, on_sigchld, core);
    if (core->sigchld == NULL || evsignal_add(core->sigchld, NULL) < 0) {
        core_free(core);
        return error_set(err, ERR_INTERNAL, "cannot watch SIGCHLD");
    }
    if (config->n_pools > CORE_MAX_POOLS) {
        core_free(core);
        return error_set(err, ERR_INVALID_ARGUMENT, "at most %d warm pools", CORE_MAX_POOLS);
    }
    for (size_t i = 0; i < config->n_pools; i++) {
        const struct core_pool_spec *ps = &config->pools[i];
        struct pool *p = &core->pools[core->n_pools++];
        p->image = strdup(ps->image && strcmp(ps->image, "default") != 0 ? ps->image : "");
        p->kernel = ps->kernel ? strdup(ps->kernel) : NULL;
        p->initrd = ps->initrd ? strdup(ps->initrd) : NULL;
        p->rootfs = ps->kernel && ps->rootfs ? strdup(ps->rootfs) : NULL;
        p->vcpus = ps->vcpus ? ps->vcpus : config->default_vcpus;
        p->mem_mb = ps->mem_mb ? ps->mem_mb : config->default_mem_mb;
        p->size = ps->size;
        if (p->image == NULL || (ps->kernel && !p->kernel) || (ps->initrd && !p->initrd) ||
            (ps->kernel && ps->rootfs && !p->rootfs)) {
            core_free(core);
            return error_set(err, ERR_INTERNAL, "out of memory");
        }
        if (p->size > CORE_MAX_POOL_SIZE || p->vcpus > config->max_vcpus ||
            p->mem_mb < config->min_mem_mb || p->mem_mb > config->max_mem_mb) {
            core_free(core);
            return error_set(err, ERR_INVALID_ARGUMENT,
                             "warm pool %s: size at most %d, vcpu 1-%u, memory %u-%u MiB",
                             ps->image && ps->image[0] ? ps->image : "default", CORE_MAX_POOL_SIZE,
                             config->max_vcpus, config->min_mem_mb, config->max_mem_mb);
        }
    }
    core->pool_timer = evtimer_new(config->base, on_pool_timer, core);
    if (core->pool_timer == NULL) {
        core_free(core);
        return error_set(err, ERR_INTERNAL, "cannot arm the pool timer");
    }
    pool_kick(core, 0);
    if (config->snapshot_dir && config->driver->snapshot_begin && config->driver->snapshot_poll &&
        config->driver->version_start) {
        struct error serr;
        if (snap_init(core, &serr) < 0)
            snap_off(core, &serr);
    }
    core->lifetime_timer = event_new(config->base, -1, EV_PERSIST, on_lifetime_tick, core);
    struct timeval tick = {.tv_sec = 1, .tv_usec = 0};
    if (core->lifetime_timer == NULL || event_add(core->lifetime_timer, &tick) < 0) {
        core_free(core);
        return error_set(err, ERR_INTERNAL, "cannot arm the lifetime timer");
    }
    *out = core;
    return 0;
}

void core_free(struct core *core)
{
    if (core == NULL)
        return;
    if (core->pool_timer) {
        event_free(core->pool_timer);
        core->pool_timer = NULL; /* no refills from here */
    }
    if (core->snap.timer) {
        event_free(core->snap.timer);
        core->snap.timer = NULL; /* no builds from here */
    }
    vmm_version_run_free(core->snap.version_run);
    core->snap.version_run = NULL;
    /* Ask every VMM to quit, give them a moment together, then kill the rest. */
    for (struct session *s = first_vm(core); s; s = next_vm(core, s)) {
        if (s->start_cb) {
            struct error e;
            error_set(&e, ERR_UNAVAILABLE, "the daemon is shutting down");
            finish_start(s, &e);
        }
        drop_conn(s);
        if (s->vm && !vmm_vm_exited(s->vm)) {
            struct error e;
            if (core->cfg.driver->request_stop(s->vm, &e) < 0)
                core->cfg.driver->kill(s->vm);
        }
    }
    for (int i = 0; i < STOP_GRACE_MS / 20; i++) {
        bool all_gone = true;
        for (struct session *s = first_vm(core); s; s = next_vm(core, s)) {
            if (s->vm == NULL || vmm_vm_exited(s->vm))
                continue;
            int status;
            if (waitpid(vmm_vm_pid(s->vm), &status, WNOHANG) == vmm_vm_pid(s->vm))
                vmm_vm_mark_exited(s->vm, status);
            else
                all_gone = false;
        }
        if (all_gone)
            break;
        usleep(20000);
    }
    while (core->sessions) {
        struct session *s = core->sessions;
        struct waiter *w = s->stop_waiters;
        s->stop_waiters = NULL;
        record(core, AUDIT_SESSION_STOP, s->id, json_pack("{s:s}", "reason", "daemon shutdown"));
        session_destroy(s); /* kills and reaps a VMM that is still there */
        while (w) {
            struct waiter *next = w->next;
            w->cb(NULL, w->ctx);
            free(w);
            w = next;
        }
    }
    while (core->pooled)
        session_destroy(core->pooled); /* not sessions: nothing to record */
    for (size_t i = 0; i < core->n_pools; i++) {
        free(core->pools[i].image);
        free(core->pools[i].kernel);
        free(core->pools[i].initrd);
        free(core->pools[i].rootfs);
    }
    if (core->sigchld)
        event_free(core->sigchld);
    if (core->lifetime_timer)
        event_free(core->lifetime_timer);
    egress_resolver_free(core->resolver);
    free(core->kernel);
    free(core->initrd);
    free(core->rootfs);
    free(core->cmdline);
    free(core->vms_dir);
    free(core->snapshot_dir);
    free(core->image_digest);
    free(core);
}

/* ------------------------------------------------------------------ for files.c and code.c */

struct proxy_conn *core_session_channel(struct core *core, const char *session_id, json_t **session_json,
                                        struct error *err)
{
    struct session *s = find_session(core, session_id ? session_id : "");
    if (s == NULL) {
        error_set(err, ERR_NOT_FOUND, "no session '%s'", session_id ? session_id : "");
        return NULL;
    }
    if (s->state != CORE_SESSION_READY) {
        error_set(err, ERR_FAILED_PRECONDITION, "session %s is %s, not READY", s->id,
                  core_session_state_name(s->state));
        return NULL;
    }
    if (s->conn == NULL) {
        error_set(err, ERR_UNAVAILABLE, "session %s: the guest channel is reconnecting", s->id);
        return NULL;
    }
    /* The gate adds the session's intent itself. */
    if (session_json != NULL)
        *session_json = json_pack("{s:s, s:{}}", "id", s->id, "labels");
    return s->conn;
}

void core_record_event(struct core *core, enum audit_kind kind, const char *session_id, json_t *details)
{
    record(core, kind, session_id, details);
}

struct gate *core_gate_of(struct core *core)
{
    return core->cfg.gate;
}

int core_decide_exec(struct core *core, const char *session_id, json_t *input, unsigned *timeout_s,
                     struct gate_obligations *ob, struct error *err)
{
    if (gate_decide(core->cfg.gate, "exec", session_id, input, ob, err) < 0)
        return -1;
    if (ob->timeout_s && ob->timeout_s < *timeout_s)
        *timeout_s = ob->timeout_s;
    return 0;
}
