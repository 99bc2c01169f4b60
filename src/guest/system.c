/* What PID 1 does to the VM before it serves: filesystems, console,
 * hostname, loopback, kernel modules; and powering off at the end.
 *
 * Modules. Debian's cloud kernel (linux-image-cloud-amd64, 6.1) builds the
 * virtio stack as modules, and on QEMU's microvm every virtio device is
 * virtio-mmio, so nothing appears before these load. The order, from each
 * module's "depends=" (modinfo), which the image builder writes into
 * /lib/modules/enclave/load-order:
 *
 *   virtio_ring
 *   virtio                              (depends on virtio_ring)
 *   virtio_mmio                         (virtio, virtio_ring: the bus)
 *   virtio_console                      (virtio-serial ports)
 *   vsock
 *   vmw_vsock_virtio_transport_common   (vsock)
 *   vmw_vsock_virtio_transport          (virtio, virtio_ring, vsock, ..._common)
 *
 * virtio-rng (virtio, virtio_ring) may follow for entropy; it is optional. */
#include "guest/guest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define GUEST_HOSTNAME "enclave"
#define MODULE_NAME_MAX 64

static void mount_one(const char *source, const char *target, const char *type, unsigned long flags,
                      const char *data)
{
    if (mkdir(target, 0755) < 0 && errno != EEXIST)
        guest_log("mkdir %s: %s", target, strerror(errno));
    if (mount(source, target, type, flags, data) < 0 && errno != EBUSY)
        guest_log("mount %s on %s: %s", type, target, strerror(errno));
}

/* With an initramfs that has no /dev/console the kernel starts init with no
 * stdin/stdout/stderr; take the console once devtmpfs is there. */
static void ensure_console(void)
{
    if (fcntl(STDERR_FILENO, F_GETFD) >= 0)
        return;
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        if (fd != i && fcntl(i, F_GETFD) < 0)
            dup2(fd, i);
    if (fd > 2)
        close(fd);
}

static void loopback_up(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        guest_log("loopback: socket: %s", strerror(errno));
        return;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        guest_log("loopback: SIOCGIFFLAGS: %s", strerror(errno));
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            guest_log("loopback: SIOCSIFFLAGS: %s", strerror(errno));
    }
    close(fd);
}

/* The workload's home and default working directory, owned by it. On a
 * read-only root (erofs, a read-only ext4) it becomes a tmpfs. */
static void workspace_setup(void)
{
    if (mkdir(GUEST_WORKSPACE, 0755) < 0 && errno != EEXIST) {
        guest_log("mkdir %s: %s", GUEST_WORKSPACE, strerror(errno));
        return;
    }
    if (chown(GUEST_WORKSPACE, GUEST_WORKLOAD_UID, GUEST_WORKLOAD_GID) == 0)
        return;
    if (errno != EROFS) {
        guest_log("chown %s: %s", GUEST_WORKSPACE, strerror(errno));
        return;
    }
    if (mount("tmpfs", GUEST_WORKSPACE, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,uid=1000,gid=1000") < 0)
        guest_log("mount tmpfs on %s: %s", GUEST_WORKSPACE, strerror(errno));
}

void guest_system_setup(void)
{
    mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
    ensure_console();
    mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_one("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    mount_one("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
    if (sethostname(GUEST_HOSTNAME, strlen(GUEST_HOSTNAME)) < 0)
        guest_log("sethostname: %s", strerror(errno));
    loopback_up();
    workspace_setup();
}

static bool module_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MODULE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-'))
            return false;
    }
    return true;
}

static int load_module(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.ko", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        guest_log("module %s: %s: %s", name, path, strerror(errno));
        return -1;
    }
    long r = syscall(SYS_finit_module, fd, "", 0);
    int err = errno;
    close(fd);
    if (r < 0 && err != EEXIST) {
        guest_log("module %s: finit_module: %s", name, strerror(err));
        return -1;
    }
    return 0;
}

int guest_load_modules(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/load-order", dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno != ENOENT)
            guest_log("%s: %s", path, strerror(errno));
        return 0;
    }
    int failed = 0, loaded = 0;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        size_t n = strcspn(line, "\r\n");
        if (line[n] == '\0' && !feof(f)) {
            guest_log("%s: line too long; skipped", path);
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
            failed++;
            continue;
        }
        line[n] = '\0';
        char *name = line;
        while (*name == ' ' || *name == '\t')
            name++;
        char *end = name + strlen(name);
        while (end > name && (end[-1] == ' ' || end[-1] == '\t'))
            *--end = '\0';
        if (*name == '\0' || *name == '#')
            continue;
        if (!module_name_ok(name)) {
            guest_log("%s: bad module name '%s'; skipped", path, name);
            failed++;
            continue;
        }
        if (load_module(dir, name) < 0)
            failed++;
        else
            loaded++;
    }
    fclose(f);
    guest_log("modules: %d loaded, %d failed", loaded, failed);
    return failed;
}

int guest_find_serial_port(const char *sysfs_dir, const char *name, char *path, size_t path_len)
{
    DIR *d = opendir(sysfs_dir);
    if (!d)
        return -ENOENT;
    int r = -ENOENT;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) > 64)
            continue;
        char file[512];
        snprintf(file, sizeof(file), "%s/%s/name", sysfs_dir, de->d_name);
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        char buf[128];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (strcmp(buf, name) == 0) {
            snprintf(path, path_len, "/dev/%s", de->d_name);
            r = 0;
            break;
        }
    }
    closedir(d);
    return r;
}

void guest_poweroff(void)
{
    /* Workloads first, so nothing writes after the sync. */
    kill(-1, SIGKILL);
    sync();
    reboot(RB_POWER_OFF);
}
