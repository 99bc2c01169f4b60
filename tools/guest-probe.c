/* guest-probe: boots one VM from the current image with the QEMU driver and
 * talks to its guest channel directly, as a hostile host would: a garbage
 * frame, a truncated frame, an absurd length. After each, a Health request on
 * a fresh or the same connection must still be answered, and the VM must
 * still be running. Before that, the handshake: a connection that sends no
 * HelloRequest, or one with a wrong key, must get no answer at all. Used by
 * the end-to-end tests; prints one line per step.
 *
 *   guest-probe RUN_DIR        exit 0 when every step passed */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "vmm/vmm.h"
#include "wire/frame.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The VM's channel key (vmm_vm_channel(vm)->key). */
static const unsigned char *probe_key;

static int send_hello(int fd, uint64_t id, const unsigned char *key, size_t key_len)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HelloRequest hr = GUEST__V1__HELLO_REQUEST__INIT;
    hr.key.data = (uint8_t *)key;
    hr.key.len = key_len;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_HELLO_REQUEST;
    f.hello_request = &hr;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(&f, &buf, &len) < 0)
        return -1;
    int r = send_all(fd, buf, len);
    free(buf);
    return r;
}

static int send_health(int fd, uint64_t id)
{
    Guest__V1__Frame f = GUEST__V1__FRAME__INIT;
    Guest__V1__HealthRequest hr = GUEST__V1__HEALTH_REQUEST__INIT;
    f.id = id;
    f.body_case = GUEST__V1__FRAME__BODY_HEALTH_REQUEST;
    f.health_request = &hr;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (wire_encode(&f, &buf, &len) < 0)
        return -1;
    int r = send_all(fd, buf, len);
    free(buf);
    return r;
}

/* Waits for a frame with the given id and body; skips others (printing them). */
static int wait_for(int fd, uint64_t id, Guest__V1__Frame__BodyCase body, int timeout_ms)
{
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    long long deadline = now_ms() + timeout_ms;
    uint8_t buf[65536];
    int result = -1;
    while (now_ms() < deadline) {
        Guest__V1__Frame *f = NULL;
        int r = wire_decoder_next(&d, &f);
        if (r == 1) {
            int match = f->id == id && f->body_case == body;
            if (!match && f->body_case != GUEST__V1__FRAME__BODY_HELLO_RESPONSE)
                printf("  (frame id %llu body %d%s%s)\n", (unsigned long long)f->id, f->body_case,
                       f->body_case == GUEST__V1__FRAME__BODY_ERROR ? ": " : "",
                       f->body_case == GUEST__V1__FRAME__BODY_ERROR && f->error->message ? f->error->message : "");
            guest__v1__frame__free_unpacked(f, NULL);
            if (match) {
                result = 0;
                break;
            }
            continue;
        }
        if (r < 0 && r != WIRE_ERR_BAD_FRAME)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0)
            continue;
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n <= 0)
            break;
        if (wire_decoder_feed(&d, buf, (size_t)n) < 0)
            break;
    }
    wire_decoder_release(&d);
    return result;
}

static int connect_and_health(const char *path, uint64_t id, int timeout_ms)
{
    long long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        int fd = dial(path);
        if (fd < 0) {
            usleep(50000);
            continue;
        }
        /* Each attempt is short: like the daemon, a host that gets no answer
         * hangs up and dials again, which tells the guest to start afresh. */
        int attempt_ms = (int)(deadline - now_ms());
        if (attempt_ms > 5000)
            attempt_ms = 5000;
        static const uint8_t sync_marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
        if (send_all(fd, sync_marker, sizeof(sync_marker)) == 0 &&
            send_hello(fd, 1000000 + id, probe_key, VMM_CHANNEL_KEY_LEN) == 0 && send_health(fd, id) == 0 &&
            wait_for(fd, id, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE, attempt_ms) == 0)
            return fd;
        close(fd);
        usleep(100000);
    }
    return -1;
}

/* Reads for ms milliseconds: 1 when anything at all came back, 0 when
 * nothing did (the connection closed, or stayed silent). */
static int anything_back(int fd, int ms)
{
    long long deadline = now_ms() + ms;
    while (now_ms() < deadline) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        uint8_t b[256];
        ssize_t n = recv(fd, b, sizeof(b), 0);
        if (n > 0)
            return 1;
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            return 0; /* closed without a word */
    }
    return 0;
}

/* A connection that does not prove the key: the guest must send nothing.
 * On virtio-serial the guest cannot close the port; it ignores the host
 * until the host reconnects, so silence is the answer. */
static int unauthenticated_gets_nothing(const char *path, const unsigned char *key, size_t key_len, uint64_t id)
{
    int fd = dial(path);
    if (fd < 0)
        return 0;
    static const uint8_t sync_marker[WIRE_SYNC_LEN] = WIRE_SYNC_MARKER;
    int ok = send_all(fd, sync_marker, sizeof(sync_marker)) == 0 &&
             (!key || send_hello(fd, id + 1000000, key, key_len) == 0) && send_health(fd, id) == 0 &&
             !anything_back(fd, 4000);
    close(fd);
    return ok;
}

static int step(const char *name, int ok)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", name);
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: guest-probe RUN_DIR\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    setenv("ENCLAVE_CHANNEL", "virtio-serial", 1);
    struct error err;
    struct image_manifest *m = NULL;
    if (image_manifest_load_current(&m, &err) < 0) {
        fprintf(stderr, "guest-probe: %s\n", err.message);
        return 2;
    }
    mkdir(argv[1], 0700);
    /* An image with a read-only root filesystem disk boots from it. */
    const struct image_artifact *rootfs = image_manifest_artifact(m, "rootfs");
    struct vmm_config c = {
        .id = "probe",
        .run_dir = argv[1],
        .kernel = image_manifest_artifact(m, "kernel")->abs_path,
        .initrd = image_manifest_artifact(m, "initramfs")->abs_path,
        .rootfs = rootfs ? rootfs->abs_path : NULL,
        .cmdline = m->kernel_cmdline,
        .vcpus = 1,
        .mem_mb = 512,
    };
    struct vmm_vm *vm = NULL;
    if (vmm_qemu_driver.start(&c, &vm, &err) < 0) {
        fprintf(stderr, "guest-probe: %s\n", err.message);
        return 2;
    }
    const char *path = vmm_vm_channel(vm)->path;
    probe_key = vmm_vm_channel(vm)->key;
    int failures = 0;
    uint64_t id = 1;

    int fd = connect_and_health(path, id++, 90000);
    failures += step("boot and first Health", fd >= 0);
    if (fd < 0)
        goto out;

    /* 0. The handshake: nothing for a host without the key. */
    close(fd);
    failures += step("no HelloRequest: Health gets no answer", unauthenticated_gets_nothing(path, NULL, 0, id++));
    unsigned char wrong[VMM_CHANNEL_KEY_LEN];
    memcpy(wrong, probe_key, sizeof(wrong));
    wrong[0] ^= 0x80;
    failures += step("wrong key: Health gets no answer",
                     unauthenticated_gets_nothing(path, wrong, sizeof(wrong), id++));
    failures += step("key cut short: Health gets no answer",
                     unauthenticated_gets_nothing(path, probe_key, VMM_CHANNEL_KEY_LEN - 1, id++));
    fd = connect_and_health(path, id++, 15000);
    failures += step("the right key on a new connection: served", fd >= 0);
    if (fd < 0)
        goto out;

    /* 1. A frame whose body is garbage: an error reply, and the stream goes on. */
    uint8_t garbage[4 + 64] = {0, 0, 0, 64};
    for (int i = 0; i < 64; i++)
        garbage[4 + i] = (uint8_t)(0xff - i * 7);
    send_all(fd, garbage, sizeof(garbage));
    send_health(fd, id);
    failures += step("garbage body, then Health on the same connection",
                     wait_for(fd, id++, GUEST__V1__FRAME__BODY_HEALTH_RESPONSE, 10000) == 0);

    /* 2. A truncated frame, then the host goes away mid-frame. */
    uint8_t truncated[4 + 10] = {0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    send_all(fd, truncated, sizeof(truncated));
    close(fd);
    fd = connect_and_health(path, id++, 15000);
    failures += step("truncated frame and disconnect, then Health on a new connection", fd >= 0);
    if (fd < 0)
        goto out;

    /* 3. An absurd length: refused without allocating it. */
    uint8_t huge[4 + 16] = {0xff, 0xff, 0xff, 0xff};
    memset(huge + 4, 'A', 16);
    send_all(fd, huge, sizeof(huge));
    failures += step("length 4 GiB answered with an error",
                     wait_for(fd, 0, GUEST__V1__FRAME__BODY_ERROR, 10000) == 0);
    close(fd);
    fd = connect_and_health(path, id++, 15000);
    failures += step("Health on a new connection after the bad length", fd >= 0);

    /* 4. Random bytes of every kind. */
    if (fd >= 0) {
        uint8_t noise[4096];
        unsigned seed = 12345;
        for (size_t i = 0; i < sizeof(noise); i++) {
            seed = seed * 1103515245u + 12345u;
            noise[i] = (uint8_t)(seed >> 16);
        }
        send_all(fd, noise, sizeof(noise));
        close(fd);
        fd = connect_and_health(path, id++, 15000);
        failures += step("4 KiB of noise, then Health on a new connection", fd >= 0);
    }
    int status;
    failures += step("the VM is still running", waitpid(vmm_vm_pid(vm), &status, WNOHANG) == 0);
out:
    if (fd >= 0)
        close(fd);
    vmm_qemu_driver.kill(vm);
    int st;
    waitpid(vmm_vm_pid(vm), &st, 0);
    vmm_vm_mark_exited(vm, st);
    vmm_vm_free(vm);
    image_manifest_free(m);
    printf("%d failure(s)\n", failures);
    return failures ? 1 : 0;
}
