#include "daemon/daemon.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/paths.h"
#include "common/version.h"
#include "daemon/internal.h"
#include "image/image.h"
#include "oci/oci.h"

void daemon_options_defaults(struct daemon_options *o)
{
    memset(o, 0, sizeof(*o));
    o->listen = "127.0.0.1:7339";
    o->vcpus = 1;
    o->mem_mb = 512;
    o->max_sessions = 16;
    o->boot_timeout_s = 60;
    o->default_exec_timeout_s = 30;
    o->max_exec_timeout_s = 3600;
    o->max_output_bytes = 1u << 20;
    o->max_stream_output_bytes = 16u << 20;
    o->session_idle_timeout_s = 15 * 60;
    o->session_max_lifetime_s = 24 * 3600;
    o->max_input_bytes = 1u << 20;
    o->provider = VMM_PROVIDER_AUTO;
    o->accel = VMM_ACCEL_AUTO;
    o->ready_fd = -1;
    o->restore = true;
}

unsigned daemon_auto_pool(uint64_t mem_available_mb, long cpus, unsigned mem_mb, char *why,
                          size_t why_size)
{
    /* A pool VM costs its memory (the guest may touch all of it) plus the
     * VMM; keep 4 GiB for everything else and let the pool take at most an
     * eighth of the rest. Its background boots take one CPU: with fewer
     * than 4 they would slow the running sessions (and CI's daemons). */
    if (cpus < 4) {
        snprintf(why, why_size, "%ld CPUs (a pool needs 4 or more)", cpus);
        return 0;
    }
    if (mem_available_mb < 4096 + (uint64_t)mem_mb) {
        snprintf(why, why_size, "%llu MiB available (a pool needs %u or more)",
                 (unsigned long long)mem_available_mb, 4096 + mem_mb);
        return 0;
    }
    uint64_t n = (mem_available_mb - 4096) / 8 / ((uint64_t)mem_mb + 128);
    if (n > 4)
        n = 4;
    snprintf(why, why_size, "%llu MiB available, %ld CPUs", (unsigned long long)mem_available_mb, cpus);
    return (unsigned)n;
}

static uint64_t mem_available_mb(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb / 1024;
}

static void report_ready(int *fd, const char *line)
{
    if (*fd < 0)
        return;
    ssize_t n = write(*fd, line, strlen(line));
    (void)n;
    close(*fd);
    *fd = -1;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct daemon_state *d = arg;
    log_info("received %s; stopping every VM", sig == SIGINT ? "SIGINT" : "SIGTERM");
    event_base_loopexit(d->base, NULL);
}

static void on_hangup(evutil_socket_t sig, short what, void *arg)
{
    struct daemon_state *d = arg;
    struct error err;
    if (gate_reload(d->gate, &err) < 0)
        log_error("%s", err.message);
}

int daemon_record(struct daemon_state *d, const char *event, const char *session_id,
                  const char *details_json, struct error *err)
{
    enum audit_kind kind = audit_kind_from_name(event);
    if (kind == AUDIT_KIND_UNKNOWN)
        return error_set(err, ERR_INTERNAL, "no audit event kind named %s", event);
    json_t *details = json_object(); /* none given: {} */
    if (details_json && details_json[0]) {
        json_decref(details);
        details = json_loads(details_json, 0, NULL);
        if (!json_is_object(details)) {
            json_decref(details);
            return error_set(err, ERR_INTERNAL, "the details of %s are not a JSON object", event);
        }
    }
    return gate_record(d->gate, kind, session_id, details, err);
}

static void on_ping(struct api_exchange *x, void *ctx)
{
    api_exchange_reply(x, 200, "text/plain; charset=utf-8", "pong", 4);
}

int daemon_record_image(void *ctx, const struct oci_event *event, struct error *err)
{
    struct audit_log *audit = ctx;
    cleanup_free char *details = oci_event_details_json(event);
    if (details == NULL)
        return error_set(err, ERR_RESOURCE_EXHAUSTED, "out of memory");
    struct audit_record_in rec = {
        .kind = event->kind == OCI_EVENT_UNVERIFIED_INSTALL ? AUDIT_IMAGE_UNVERIFIED_INSTALL
                                                            : AUDIT_IMAGE_VERIFIED,
        .details_json = details,
    };
    return audit_append(audit, &rec, NULL, err);
}

/* The current guest image; with none installed, --image REF is pulled,
 * verified and installed (IMAGE:VERIFIED lands in the daemon's own log),
 * and without --image the error names the commands that make one. */
static int load_image(const struct daemon_options *opts, struct audit_log *audit,
                      struct image_manifest **image, struct error *err)
{
    if (image_manifest_load_current(image, err) == 0) {
        if (opts->image_ref != NULL)
            log_info("an image is installed (%s): --image %s applies only when there is none "
                     "('enclave image install %s' replaces it)",
                     (*image)->source ? (*image)->source : "?", opts->image_ref, opts->image_ref);
        return 0;
    }
    if (err->kind != ERR_NOT_FOUND)
        return -1;
    if (opts->image_ref == NULL)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "no guest image is installed. Build one here with 'enclave image build', "
                         "or install a signed one with 'enclave image install REF' (or start with "
                         "'enclave up --image REF')");
    log_info("no guest image is installed: pulling, verifying and installing %s", opts->image_ref);
    struct oci_install_options io = {
        .progress = isatty(STDERR_FILENO) != 0,
        .record = daemon_record_image,
        .record_ctx = audit,
    };
    /* With info, the IMAGE:VERIFIED record names the key that signed it. */
    struct oci_image_info info;
    memset(&info, 0, sizeof(info));
    if (oci_install_info(opts->image_ref, &io, &info, err) < 0) {
        error_prefix(err, "--image %s", opts->image_ref);
        return -1;
    }
    log_info("installed %s (%s), signature verified with %s", info.reference, info.manifest_digest,
             info.signer_key);
    if (image_manifest_load_current(image, err) < 0) {
        error_prefix(err, "after installing %s", opts->image_ref);
        return -1;
    }
    return 0;
}

/* One daemon per ENCLAVE_HOME: an flock on run/daemon.lock, which holds its pid. */
static int take_lock(const char *run_dir, int *lock_fd, struct error *err)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/daemon.lock", run_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return error_set_errno(err, ERR_INTERNAL, "opening %s", path);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "?";
        ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
        if (n > 0) {
            pid[n] = '\0';
            pid[strcspn(pid, "\n")] = '\0';
        }
        close(fd);
        return error_set(err, ERR_ALREADY_EXISTS,
                         "another enclave daemon (pid %s) is running with this ENCLAVE_HOME", pid);
    }
    if (ftruncate(fd, 0) == 0)
        dprintf(fd, "%d\n", (int)getpid());
    *lock_fd = fd;
    return 0;
}

int daemon_run(const struct daemon_options *opts)
{
    struct daemon_state d;
    memset(&d, 0, sizeof(d));
    d.opts = *opts;
    int ready_fd = opts->ready_fd;
    struct error err;
    int rc = 1;
    cleanup_close int lock_fd = -1;
    struct image_manifest *image = NULL;
    char run_dir[4096], vms_dir[4200];
    struct event *sig_int = NULL, *sig_term = NULL, *sig_hup = NULL;

    signal(SIGPIPE, SIG_IGN);
    if (geteuid() == 0 && !opts->allow_root) {
        error_set(&err, ERR_FAILED_PRECONDITION,
                  "refusing to run as root: run the daemon as an ordinary user, or pass "
                  "--allow-root (the VMMs then run as the unprivileged user '%s')",
                  VMM_USER);
        goto fail;
    }
    {
        struct vmm_confinement conf;
        char note[512];
        if (vmm_confinement_default(&conf, note, sizeof(note), &err) < 0)
            goto fail;
        if (note[0])
            log_warn("%s", note);
        vmm_set_confinement(&conf);
        log_info("VMMs run as %s%s, console and VMM logs capped at %llu bytes",
                 conf.switch_user ? conf.user : "the daemon's user",
                 conf.landlock ? ", confined by Landlock" : "",
                 (unsigned long long)conf.max_file_bytes);
    }
    if (paths_check_home(&err) < 0 || paths_home(run_dir, sizeof(run_dir), "run", &err) < 0 ||
        paths_mkdir_p(run_dir, 0700, &err) < 0)
        goto fail;
    if (take_lock(run_dir, &lock_fd, &err) < 0)
        goto fail;
    snprintf(vms_dir, sizeof(vms_dir), "%s/vms", run_dir);
    int reaped = vmm_reap_orphans(vms_dir, &err);
    if (reaped < 0)
        goto fail;
    if (reaped > 0)
        log_warn("killed %d VM(s) left behind by an earlier daemon", reaped);

    if (vmm_detect_host(opts->provider, &d.host, &err) < 0)
        goto fail;
    if (opts->accel == VMM_ACCEL_KVM && !d.host.kvm_usable) {
        error_set(&err, ERR_FAILED_PRECONDITION, "--accel=kvm: %s", d.host.explain);
        goto fail;
    }
    /* The log opens first: installing an image (--image) is audited. */
    {
        char db[4200], keys[4200];
        if (audit_default_db_path(db, sizeof(db), &err) < 0 ||
            audit_default_key_dir(keys, sizeof(keys), &err) < 0)
            goto fail;
        struct audit_options ao = {.witness_path = opts->audit_witness};
        if (audit_open(db, keys, &ao, &d.audit, &err) < 0) {
            error_prefix(&err, "opening the audit log %s (check it with 'enclave audit verify')", db);
            goto fail;
        }
    }
    /* The policy (--policy DIR) is read before an image is pulled and
     * installed (--image): a policy that cannot be loaded changes nothing. */
    {
        struct gate_config gc = {.audit = d.audit, .policy_dir = opts->policy_dir};
        if (gate_new(&gc, &d.gate, &err) < 0)
            goto fail;
    }
    if (load_image(opts, d.audit, &image, &err) < 0)
        goto fail;
    const struct image_artifact *kernel = image_manifest_artifact(image, "kernel");
    const struct image_artifact *initrd = image_manifest_artifact(image, "initramfs");
    /* An image with a root filesystem disk boots from it (the initramfs
     * then holds only enclave-init and its modules); one without boots from
     * its initramfs alone, as images built before did. */
    const struct image_artifact *rootfs = image_manifest_artifact(image, "rootfs");
    if (kernel == NULL || initrd == NULL || kernel->abs_path == NULL || initrd->abs_path == NULL ||
        (rootfs != NULL && rootfs->abs_path == NULL)) {
        error_set(&err, ERR_FAILED_PRECONDITION, "the current image lacks a kernel or an initramfs");
        goto fail;
    }
    if (image_manifest_verify(image, &err) < 0) {
        error_prefix(&err, "the current guest image does not match its manifest (run 'enclave image status')");
        goto fail;
    }
    snprintf(d.image_source, sizeof(d.image_source), "%s", image->source ? image->source : "");

    const struct vmm_driver *driver = opts->vmm_driver ? opts->vmm_driver : &vmm_qemu_driver;
    if (driver == &vmm_firecracker_driver) {
        /* Firecracker is KVM or nothing; it says so itself when /dev/kvm fails. */
        if (opts->accel == VMM_ACCEL_TCG) {
            error_set(&err, ERR_INVALID_ARGUMENT, "--vmm firecracker needs KVM; --accel tcg is QEMU's");
            goto fail;
        }
        d.kvm = true;
        if (geteuid() == 0)
            log_info("--vmm firecracker: Firecracker runs under its jailer ($ENCLAVE_JAILER, or a "
                     "jailer next to the firecracker binary), else confined as QEMU is "
                     "(docs/firecracker.md)");
        if (!d.host.kvm_usable)
            log_warn("--vmm firecracker: KVM does not look usable here (%s); VMs will fail to start",
                     d.host.explain);
    } else {
        const char *forced = getenv("ENCLAVE_ACCEL");
        bool tcg_asked = opts->accel == VMM_ACCEL_TCG || (forced && strcmp(forced, "tcg") == 0);
        char why[512] = "";
        d.kvm = !tcg_asked && d.host.kvm_usable && vmm_qemu_probe_kvm(NULL, kernel->abs_path, why, sizeof(why)) == 0;
        if (opts->accel == VMM_ACCEL_KVM && !d.kvm) {
            error_set(&err, ERR_FAILED_PRECONDITION, "--accel=kvm: QEMU cannot use KVM here: %s",
                      why[0] ? why : d.host.explain);
            goto fail;
        }
        if (!d.kvm && geteuid() == 0 && strstr(why, "Permission denied") != NULL)
            log_warn("the VMM user cannot open /dev/kvm: give /dev/kvm to a group it is in "
                     "(Debian: group kvm, mode 0660; scripts/install-deps adds %s to kvm)",
                     VMM_USER);
        if (!d.kvm)
            log_warn("no KVM: VMs run under QEMU's TCG emulation, so isolation is emulated and "
                     "slow (%s)",
                     tcg_asked ? "TCG was asked for" : (why[0] ? why : d.host.explain));
    }

    d.base = event_base_new();
    if (d.base == NULL) {
        error_set(&err, ERR_INTERNAL, "cannot create the event loop");
        goto fail;
    }
    struct core_config cc = {
        .base = d.base,
        .driver = driver,
        .accel = opts->accel,
        .kernel = kernel->abs_path,
        .initrd = initrd->abs_path,
        .rootfs = rootfs ? rootfs->abs_path : NULL,
        .cmdline = image->kernel_cmdline,
        .vms_dir = vms_dir,
        .default_vcpus = opts->vcpus,
        .max_vcpus = 16,
        .default_mem_mb = opts->mem_mb,
        .min_mem_mb = 128,
        .max_mem_mb = 16384,
        .max_sessions = opts->max_sessions,
        .boot_timeout_ms = opts->boot_timeout_s * 1000,
        .default_exec_timeout_s = opts->default_exec_timeout_s,
        .max_exec_timeout_s = opts->max_exec_timeout_s,
        .max_output_bytes = opts->max_output_bytes,
        .max_stream_output_bytes = opts->max_stream_output_bytes,
        .max_input_bytes = opts->max_input_bytes + 4096,
    };
    cc.gate = d.gate;
    /* Snapshot restore, bound to the image's digests and the accelerator
     * (the core adds the command line, the size and the VMM's version). */
    char snapshot_dir[4200], image_digest[512];
    if (opts->restore && driver->snapshot_begin != NULL) {
        if (paths_home(snapshot_dir, sizeof(snapshot_dir), "snapshots", &err) < 0)
            goto fail;
        /* the root filesystem disk too: a change of packages changes only it */
        snprintf(image_digest, sizeof(image_digest), "kernel=%s initramfs=%s rootfs=%s accel=%s",
                 kernel->sha256, initrd->sha256, rootfs ? rootfs->sha256 : "-",
                 d.kvm ? "kvm" : "tcg");
        cc.snapshot_dir = snapshot_dir;
        cc.image_digest = image_digest;
    } else {
        log_info("snapshot restore: off (%s)", opts->restore ? "the VMM has no snapshots" : "--restore off");
    }
    {
        /* Warm pools: as asked, or sized from this machine. */
        struct daemon_pool pools[DAEMON_MAX_POOLS];
        size_t n_pools = opts->n_pools;
        memcpy(pools, opts->pools, sizeof(pools));
        char why[160] = "";
        if (!opts->pools_set) {
            memset(pools, 0, sizeof(pools));
            pools[0].size = daemon_auto_pool(mem_available_mb(), sysconf(_SC_NPROCESSORS_ONLN),
                                             opts->mem_mb, why, sizeof(why));
            n_pools = pools[0].size ? 1 : 0;
        }
        struct core_pool_spec specs[DAEMON_MAX_POOLS];
        struct image_manifest *holds[DAEMON_MAX_POOLS] = {0};
        int pool_rc = 0;
        for (size_t i = 0; i < n_pools && pool_rc == 0; i++) {
            const char *name = strcmp(pools[i].image, "default") == 0 ? "" : pools[i].image;
            struct core_start_request sr = {0};
            pool_rc = daemon_image_for_start(name, &sr, &holds[i], &err);
            specs[i] = (struct core_pool_spec){.image = name, .kernel = sr.kernel, .initrd = sr.initrd,
                                                     .rootfs = sr.rootfs,
                                               .vcpus = pools[i].vcpus, .mem_mb = pools[i].mem_mb,
                                               .size = pools[i].size};
        }
        if (pool_rc == 0) {
            cc.pools = specs;
            cc.n_pools = n_pools;
            pool_rc = core_new(&cc, &d.core, &err);
        }
        for (size_t i = 0; i < n_pools; i++)
            image_manifest_free(holds[i]);
        if (pool_rc < 0)
            goto fail;
        if (n_pools == 0)
            log_info("warm pool: none (%s)", opts->pools_set ? "--pool 0" : why);
        for (size_t i = 0; i < n_pools; i++)
            log_info("warm pool: %u VM(s) of image %s, %u vCPU / %u MiB%s%s%s", specs[i].size,
                     specs[i].image[0] ? specs[i].image : "default",
                     specs[i].vcpus ? specs[i].vcpus : opts->vcpus,
                     specs[i].mem_mb ? specs[i].mem_mb : opts->mem_mb,
                     opts->pools_set ? "" : " (chosen from ", why, opts->pools_set ? "" : "; --pool N to change)");
    }

    struct api_config ac = {
        .listen = opts->listen,
        .socket_path = opts->socket_path,
        .max_request_bytes = opts->max_input_bytes + 64 * 1024,
    };
    if (api_server_new(d.base, &ac, &d.api, &err) < 0 || daemon_credentials_init(&d, &err) < 0)
        goto fail;
    d.agent_service = daemon_agent_service;
    d.agent_service.ctx = &d;
    d.enclave_service = daemon_enclave_service;
    d.enclave_service.ctx = &d;
    if (api_server_add_service(d.api, &d.agent_service, &err) < 0 ||
        api_server_add_service(d.api, &d.enclave_service, &err) < 0 ||
        api_server_add_route(d.api, "GET", "/ping", on_ping, &d, &err) < 0 ||
        daemon_streams_init(&d, &err) < 0 || daemon_files_init(&d, &err) < 0 ||
        daemon_ui_init(&d, &err) < 0)
        goto fail;

    sig_int = evsignal_new(d.base, SIGINT, on_stop_signal, &d);
    sig_term = evsignal_new(d.base, SIGTERM, on_stop_signal, &d);
    sig_hup = evsignal_new(d.base, SIGHUP, on_hangup, &d); /* reload the policy bundle */
    if (!sig_int || !sig_term || !sig_hup || evsignal_add(sig_int, NULL) < 0 ||
        evsignal_add(sig_term, NULL) < 0 || evsignal_add(sig_hup, NULL) < 0) {
        error_set(&err, ERR_INTERNAL, "cannot watch SIGINT/SIGTERM/SIGHUP");
        goto fail;
    }

    log_info("enclave %s listening on %s (%s, %s, %u vCPU / %u MiB per VM by default)",
             ENCLAVE_VERSION, api_server_address(d.api), driver->name, d.kvm ? "kvm" : "tcg",
             opts->vcpus, opts->mem_mb);
    {
        json_t *details = json_pack("{s:s, s:s, s:s, s:s}", "version", ENCLAVE_VERSION, "listen",
                                    api_server_address(d.api), "accel", d.kvm ? "kvm" : "tcg",
                                    "image", d.image_source);
        if (gate_record(d.gate, AUDIT_DAEMON_START, "", details, &err) < 0)
            goto fail;
    }
    report_ready(&ready_fd, "ready\n");
    event_base_dispatch(d.base);
    rc = 0;
    goto out;

fail:
    log_error("%s", err.message);
    {
        char line[1100];
        snprintf(line, sizeof(line), "error: %s\n", err.message);
        report_ready(&ready_fd, line);
    }
out:
    if (d.api)
        api_server_free(d.api);
    daemon_streams_free(&d);
    if (d.core)
        core_free(d.core); /* stops every VM (and records it) */
    if (d.gate) {
        struct error cerr;
        if (rc == 0 && gate_record(d.gate, AUDIT_DAEMON_STOP, "", json_object(), &cerr) < 0)
            log_error("cannot record the daemon's stop: %s", cerr.message);
    }
    gate_free(d.gate); /* after core, before the log it records to */
    if (d.audit) {
        struct error cerr;
        if (audit_close(d.audit, &cerr) < 0) /* signs a checkpoint over the head */
            log_error("closing the audit log: %s", cerr.message);
    }
    if (sig_int)
        event_free(sig_int);
    if (sig_term)
        event_free(sig_term);
    if (sig_hup)
        event_free(sig_hup);
    if (d.base)
        event_base_free(d.base);
    image_manifest_free(image);
    log_info("stopped");
    return rc;
}
