/* enclave-init: PID 1 of an Enclave VM, or a protocol server for tests. */
#include "guest/guest.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MODULE_DIR "/lib/modules/enclave"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: enclave-init                 (as PID 1 in an Enclave VM)\n"
            "       enclave-init --key-file FILE --serve-stdio\n"
            "                                    serve one guest-protocol connection on stdin/stdout\n"
            "       enclave-init --key-file FILE --serve-unix PATH\n"
            "                                    serve connections on a Unix socket at PATH\n"
            "\n"
            "As PID 1 it mounts /proc, /sys and /dev, loads the modules listed in\n"
            MODULE_DIR "/load-order, reads the channel key (fw_cfg opt/org.enclave/key,\n"
            "else " GUEST_KEY_INITRD "), mounts the image's read-only erofs disk " GUEST_ROOTFS_DEVICE "\n"
            "as the root when the initramfs has " GUEST_ROOTFS_MARKER ", then /tmp and /dev/shm\n"
            "(and /workspace on that root) as tmpfs sized from the VM's memory,\n"
            "checks that nothing outside /workspace and /tmp is writable by uid %d,\n"
            "and serves the guest protocol on vsock port %u and on the virtio-serial\n"
            "port named %s. If the key or the check fails it says why on the console\n"
            "and serves nothing. Workloads run as uid %d.\n"
            "\n"
            "Every connection must first send a HelloRequest with the key (%u bytes,\n"
            "in the test modes the raw contents of --key-file); anything else closes it.\n"
            "The test modes skip the VM setup; they must run as root to run workloads.\n",
            GUEST_WORKLOAD_UID, GUEST_VSOCK_PORT, GUEST_SERIAL_PORT_NAME, GUEST_WORKLOAD_UID, GUEST_KEY_LEN);
}

/* PID 1 never returns: if the kernel's init exits, the kernel panics. */
/* Serving nothing is the safe failure: the host's boot timeout reports the
 * console, whose last line says why. */
__attribute__((noreturn)) static void refuse_to_serve(const char *why)
{
    guest_log("refusing to serve: %s", why);
    for (;;)
        pause();
}

__attribute__((noreturn)) static void run_pid1(void)
{
    guest_system_early();
    guest_log("enclave-init %s starting", GUEST_INIT_VERSION);
    guest_load_modules(MODULE_DIR);
    guest_page_reporting_setup(GUEST_PAGE_REPORTING_PARAM);
    static uint8_t key[GUEST_KEY_LEN];
    char why[512];
    /* The key first: Firecracker's copy is a file in the initramfs. */
    if (guest_key_load(key, why, sizeof(why)) < 0)
        refuse_to_serve(why);
    int root = guest_mount_rootfs(why, sizeof(why));
    if (root < 0)
        refuse_to_serve(why);
    if (root > 0)
        guest_log("root filesystem: %s (erofs, read-only)", GUEST_ROOTFS_DEVICE);
    guest_system_setup();
    int bad = guest_check_readonly("/", why, sizeof(why));
    if (bad < 0)
        refuse_to_serve(why);
    if (bad > 0) {
        char line[640];
        snprintf(line, sizeof(line), "%d path(s) outside %s and /tmp are writable by uid %d; the first: %s", bad,
                 GUEST_WORKSPACE, GUEST_WORKLOAD_UID, why);
        refuse_to_serve(line);
    }
    guest_log("system files are read-only for uid %d", GUEST_WORKLOAD_UID);
    struct guest_server_options opts = {.pid1 = true, .key = key, .python_forkserver = true};
    for (;;) {
        struct guest_server *s = guest_server_new(&opts);
        if (!s) {
            guest_log("cannot start the server: %s; retrying", strerror(errno));
            sleep(1);
            continue;
        }
        guest_server_watch_vm_transports(s);
        int r = guest_server_run(s);
        guest_log("event loop stopped (%s); restarting it", r < 0 ? strerror(-r) : "shutdown");
        guest_server_free(s);
        sleep(1);
    }
}

static int listen_unix(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "enclave-init: socket path too long: %s\n", path);
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
        fprintf(stderr, "enclave-init: %s: %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    if (getpid() == 1)
        run_pid1();

    static const struct option options[] = {
        {"serve-stdio", no_argument, NULL, 's'},
        {"serve-unix", required_argument, NULL, 'u'},
        {"key-file", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    bool stdio = false;
    const char *unix_path = NULL;
    const char *key_file = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            stdio = true;
            break;
        case 'u':
            unix_path = optarg;
            break;
        case 'k':
            key_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("enclave-init %s (protocol %u)\n", GUEST_INIT_VERSION, GUEST_PROTOCOL_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (stdio == (unix_path != NULL))) {
        usage(stderr);
        return 2;
    }
    if (!key_file) {
        fprintf(stderr, "enclave-init: --key-file is required: nothing is served without the key\n");
        return 2;
    }
    uint8_t key[GUEST_KEY_LEN];
    int kr = guest_key_read(key_file, key);
    if (kr < 0) {
        fprintf(stderr, "enclave-init: %s: %s\n", key_file,
                kr == -EINVAL ? "not a key (it must hold exactly 32 bytes)" : strerror(-kr));
        return 2;
    }

    struct guest_server_options opts = {.exit_when_idle = stdio, .key = key};
    struct guest_server *s = guest_server_new(&opts);
    if (!s) {
        fprintf(stderr, "enclave-init: cannot start: %s\n", strerror(errno));
        return 1;
    }
    int r;
    if (stdio) {
        r = guest_server_add_stdio(s, STDIN_FILENO, STDOUT_FILENO);
    } else {
        int fd = listen_unix(unix_path);
        r = fd < 0 ? -1 : guest_server_add_listener(s, fd, "unix");
    }
    if (r == 0)
        r = guest_server_run(s);
    guest_server_free(s);
    if (unix_path)
        unlink(unix_path);
    return r < 0 ? 1 : 0;
}
