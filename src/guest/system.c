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
#include <ftw.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <linux/random.h>
#include <time.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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

/* The workload's home and default working directory, owned by it: a tmpfs
 * of its own size (bytes), so that filling it fails with ENOSPC instead of
 * taking the VM's memory. */
static void workspace_setup(uint64_t size)
{
    if (mkdir(GUEST_WORKSPACE, 0755) < 0 && errno != EEXIST) {
        guest_log("mkdir %s: %s", GUEST_WORKSPACE, strerror(errno));
        return;
    }
    char data[96];
    snprintf(data, sizeof(data), "mode=0755,uid=%d,gid=%d,size=%llu", GUEST_WORKLOAD_UID, GUEST_WORKLOAD_GID,
             (unsigned long long)size);
    mount_one("tmpfs", GUEST_WORKSPACE, "tmpfs", MS_NOSUID | MS_NODEV, data);
}

uint64_t guest_workspace_size(const char *cmdline, uint64_t mem_total_kb)
{
    uint64_t share = guest_tmpfs_size(mem_total_kb, GUEST_WORKSPACE_SHARE);
    const char *arg = NULL;
    for (const char *p = cmdline; p && (p = strstr(p, GUEST_WORKSPACE_ARG)) != NULL; p++)
        if (p == cmdline || p[-1] == ' ')
            arg = p + strlen(GUEST_WORKSPACE_ARG);
    if (arg == NULL || *arg < '0' || *arg > '9')
        return share;
    uint64_t mb = 0;
    for (; *arg >= '0' && *arg <= '9'; arg++) {
        if (mb > (UINT64_MAX >> 20) / 10)
            return share;
        mb = mb * 10 + (uint64_t)(*arg - '0');
    }
    if (*arg != '\0' && *arg != ' ' && *arg != '\n')
        return share;
    uint64_t bytes = mb << 20;
    uint64_t most = guest_tmpfs_size(mem_total_kb, 2);
    if (bytes < GUEST_TMPFS_MIN)
        bytes = GUEST_TMPFS_MIN;
    return bytes > most ? most : bytes;
}

uint64_t guest_tmpfs_size(uint64_t mem_total_kb, unsigned divisor)
{
    if (divisor == 0)
        divisor = 1;
    uint64_t bytes = mem_total_kb / divisor;
    bytes = bytes > UINT64_MAX / 1024u ? UINT64_MAX : bytes * 1024u;
    return bytes < GUEST_TMPFS_MIN ? GUEST_TMPFS_MIN : bytes;
}

/* MemTotal from /proc/meminfo in kB, or 0. */
static uint64_t mem_total_kb(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* A tmpfs for everyone (sticky), its size a share of the VM's memory, so
 * that filling it cannot take the memory the init and the workload need. */
static void mount_shared_tmpfs(const char *target, uint64_t mem_kb, unsigned divisor)
{
    char data[64];
    snprintf(data, sizeof(data), "mode=1777,size=%llu", (unsigned long long)guest_tmpfs_size(mem_kb, divisor));
    mount_one("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, data);
}

/* Kernel files that are 0666 by default and that the workload has no use
 * for: pressure-stall triggers (each open one is kernel state and polling
 * work that uid 1000 could pile up). procfs keeps a chmod. */
static void restrict_kernel_files(void)
{
    static const char *const files[] = {"/proc/pressure/cpu", "/proc/pressure/io", "/proc/pressure/memory",
                                        "/proc/pressure/irq"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (chmod(files[i], 0444) < 0 && errno != ENOENT)
            guest_log("chmod %s: %s", files[i], strerror(errno));
}

void guest_system_early(void)
{
    mount_one("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755");
    ensure_console();
    mount_one("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_one("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

void guest_system_setup(void)
{
    restrict_kernel_files();
    uint64_t mem_kb = mem_total_kb();
    if (mem_kb == 0)
        guest_log("cannot read MemTotal; /tmp and /dev/shm get the minimum size");
    mount_shared_tmpfs("/tmp", mem_kb, GUEST_TMP_SHARE);
    mount_shared_tmpfs("/dev/shm", mem_kb, GUEST_SHM_SHARE);
    if (sethostname(GUEST_HOSTNAME, strlen(GUEST_HOSTNAME)) < 0)
        guest_log("sethostname: %s", strerror(errno));
    loopback_up();
    char cmdline[4096] = "";
    FILE *f = fopen("/proc/cmdline", "re");
    if (f) {
        if (!fgets(cmdline, sizeof(cmdline), f))
            cmdline[0] = '\0';
        fclose(f);
    }
    workspace_setup(guest_workspace_size(cmdline, mem_kb));
}

int guest_page_reporting_setup(const char *param)
{
    /* The balloon driver registers free page reporting with the page
     * block order (2 MiB blocks); most of what the guest frees after boot
     * is smaller, and stayed resident on the host. */
    char order[8];
    snprintf(order, sizeof(order), "%d", GUEST_PAGE_REPORTING_ORDER);
    int fd = open(param, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e != ENOENT) /* no balloon device: nothing to set */
            guest_log("%s: %s", param, strerror(e));
        return -e;
    }
    int r = write(fd, order, strlen(order)) == (ssize_t)strlen(order) ? 0 : -EIO;
    if (r < 0)
        guest_log("%s: %s", param, strerror(errno));
    close(fd);
    return r;
}

static int write_param(const char *dir, const char *name, const char *value)
{
    char path[512];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = write(fd, value, strlen(value)) == (ssize_t)strlen(value) ? 0 : -EIO;
    close(fd);
    return r;
}

int guest_memory_trim(const char *dir)
{
    int r = write_param(dir, "drop_caches", GUEST_TRIM_DROP);
    int c = write_param(dir, "compact_memory", "1");
    return r < 0 ? r : c;
}

/* ---------------------------------------------------------------- shared read-only root */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int guest_rootfs_check(const uint8_t *head, size_t len, uint64_t device_bytes, char *why, size_t why_len)
{
    /* struct erofs_super_block: magic at 0, blkszbits at 12, blocks at 36 */
    const size_t need = GUEST_EROFS_SB_OFFSET + 40;
    if (head == NULL || len < need || device_bytes < need) {
        snprintf(why, why_len, "the root filesystem disk is too small to be an erofs image (%llu bytes)",
                 (unsigned long long)device_bytes);
        return -EINVAL;
    }
    const uint8_t *sb = head + GUEST_EROFS_SB_OFFSET;
    if (le32(sb) != GUEST_EROFS_MAGIC) {
        snprintf(why, why_len, "the root filesystem disk is not an erofs image (magic %08x)", le32(sb));
        return -EINVAL;
    }
    unsigned bits = sb[12];
    if (bits < 9 || bits > 16) {
        snprintf(why, why_len, "the root filesystem's superblock is corrupt (block size 2^%u)", bits);
        return -EINVAL;
    }
    uint64_t want = (uint64_t)le32(sb + 36) << bits;
    if (want == 0 || want > device_bytes) {
        snprintf(why, why_len,
                 "the root filesystem image is truncated or corrupt: the superblock counts %llu bytes, the disk "
                 "has %llu",
                 (unsigned long long)want, (unsigned long long)device_bytes);
        return -EINVAL;
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The disk as it appears (devtmpfs makes the node when virtio_blk probes
 * the device, which may come a little after the module loads). */
static int open_root_device(char *why, size_t why_len)
{
    for (long waited = 0;; waited += 10) {
        int fd = open(GUEST_ROOTFS_DEVICE, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        if (errno != ENOENT && errno != ENXIO) {
            int e = errno;
            snprintf(why, why_len, "cannot open the root filesystem disk %s: %s", GUEST_ROOTFS_DEVICE, strerror(e));
            return -e;
        }
        if (waited >= GUEST_ROOTFS_WAIT_MS) {
            snprintf(why, why_len,
                     "the root filesystem disk %s did not appear within %d ms (does the VMM attach the image's "
                     "rootfs as a virtio block device?)",
                     GUEST_ROOTFS_DEVICE, GUEST_ROOTFS_WAIT_MS);
            return -ENODEV;
        }
        sleep_ms(10);
    }
}

int guest_mount_rootfs(char *why, size_t why_len)
{
    char type[16] = "";
    int mfd = open(GUEST_ROOTFS_MARKER, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (mfd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        snprintf(why, why_len, "%s: %s", GUEST_ROOTFS_MARKER, strerror(e));
        return -e;
    }
    ssize_t n = read(mfd, type, sizeof(type) - 1);
    close(mfd);
    type[n > 0 ? n : 0] = '\0';
    type[strcspn(type, "\r\n")] = '\0';
    if (strcmp(type, "erofs") != 0) {
        snprintf(why, why_len, "%s names an unknown root filesystem type '%.15s'", GUEST_ROOTFS_MARKER, type);
        return -EINVAL;
    }
    int fd = open_root_device(why, why_len);
    if (fd < 0)
        return fd;
    uint64_t bytes = 0;
    static uint8_t head[GUEST_EROFS_SB_OFFSET + 128];
    ssize_t got = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
        int e = errno;
        close(fd);
        snprintf(why, why_len, "%s: BLKGETSIZE64: %s", GUEST_ROOTFS_DEVICE, strerror(e));
        return -e;
    }
    while (got < (ssize_t)sizeof(head)) {
        ssize_t r = pread(fd, head + got, sizeof(head) - (size_t)got, got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += r;
    }
    close(fd);
    int rc = guest_rootfs_check(head, (size_t)got, bytes, why, why_len);
    if (rc < 0)
        return rc;
    if (mkdir(GUEST_ROOTFS_MOUNT, 0755) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(why, why_len, "mkdir %s: %s", GUEST_ROOTFS_MOUNT, strerror(e));
        return -e;
    }
    if (mount(GUEST_ROOTFS_DEVICE, GUEST_ROOTFS_MOUNT, "erofs", MS_RDONLY | MS_NODEV | MS_NOSUID, NULL) < 0) {
        int e = errno;
        snprintf(why, why_len, "cannot mount the root filesystem (%s, erofs, read-only): %s; the kernel's "
                 "messages above say more", GUEST_ROOTFS_DEVICE, strerror(e));
        return -e;
    }
    static const char *const moved[] = {"/dev", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
        char target[64];
        snprintf(target, sizeof(target), "%s%s", GUEST_ROOTFS_MOUNT, moved[i]);
        if (mount(moved[i], target, NULL, MS_MOVE, NULL) < 0) {
            int e = errno;
            snprintf(why, why_len, "moving %s onto the root filesystem: %s", moved[i], strerror(e));
            return -e;
        }
    }
    /* switch_root: the disk becomes /, the initramfs stays underneath, out
     * of reach of anything that cannot chroot (the workload cannot). */
    if (chdir(GUEST_ROOTFS_MOUNT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
        chdir("/") < 0) {
        int e = errno;
        snprintf(why, why_len, "switching to the root filesystem: %s", strerror(e));
        return -e;
    }
    return 1;
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

/* ---------------------------------------------------------------- read-only system */

/* nftw() takes no context: the walk's state lives here (PID 1 and the
 * tests are single-threaded). */
static struct {
    char skip[PATH_MAX];
    size_t skip_len;
    unsigned violations;
    char *why;
    size_t why_len;
} check;

static int check_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type == FTW_DNR || type == FTW_NS) {
        if (check.violations++ == 0)
            snprintf(check.why, check.why_len, "%s: cannot be read to check it", path);
        return FTW_CONTINUE;
    }
    if (strncmp(path, check.skip, check.skip_len) == 0 &&
        (path[check.skip_len] == '\0' || path[check.skip_len] == '/'))
        return FTW_SKIP_SUBTREE;
    if (type == FTW_SL || S_ISLNK(st->st_mode))
        return FTW_CONTINUE; /* its own mode means nothing; its folder's does */
    const char *problem = NULL;
    if (st->st_uid != 0)
        problem = "is not owned by root";
    else if (st->st_mode & S_IWOTH)
        problem = "is writable by everyone";
    else if ((st->st_mode & S_IWGRP) && st->st_gid == GUEST_WORKLOAD_GID)
        problem = "is writable by the workload's group";
    if (problem && check.violations++ == 0)
        snprintf(check.why, check.why_len, "%s %s (uid %u, gid %u, mode %04o)", path, problem,
                 (unsigned)st->st_uid, (unsigned)st->st_gid, (unsigned)(st->st_mode & 07777));
    return FTW_CONTINUE;
}

int guest_check_readonly(const char *root, char *why, size_t why_len)
{
    memset(&check, 0, sizeof(check));
    check.why = why;
    check.why_len = why_len;
    if (why_len > 0)
        why[0] = '\0';
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    int len = snprintf(check.skip, sizeof(check.skip), "%.*s%s", (int)n, root,
                       n == 1 && root[0] == '/' ? &GUEST_WORKSPACE[1] : GUEST_WORKSPACE);
    if (len < 0 || (size_t)len >= sizeof(check.skip))
        return -ENAMETOOLONG;
    check.skip_len = (size_t)len;
    /* FTW_MOUNT: the root filesystem only. /proc, /sys, /dev, /tmp and
     * /dev/shm are other file systems, mounted by the init. */
    if (nftw(root, check_entry, 32, FTW_PHYS | FTW_MOUNT | FTW_ACTIONRETVAL) < 0) {
        int err = errno;
        snprintf(why, why_len, "cannot walk %s: %s", root, strerror(err));
        return -err;
    }
    return (int)(check.violations > INT_MAX ? INT_MAX : check.violations);
}

/* ---------------------------------------------------------------- channel key */

int guest_key_read(const char *path, uint8_t key[GUEST_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    uint8_t buf[GUEST_KEY_LEN + 1];
    size_t got = 0;
    int r = 0;
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (r == 0 && got != GUEST_KEY_LEN)
        r = -EINVAL; /* exactly the key: not a prefix, not a longer file */
    if (r == 0)
        memcpy(key, buf, GUEST_KEY_LEN);
    explicit_bzero(buf, sizeof(buf));
    return r;
}

int guest_key_load(uint8_t key[GUEST_KEY_LEN], char *why, size_t why_len)
{
    int r = guest_key_read(GUEST_KEY_FW_CFG, key);
    const char *source = "fw_cfg";
    if (r == -ENOENT) {
        r = guest_key_read(GUEST_KEY_INITRD, key);
        source = "the initramfs";
    }
    /* Whatever happened, leave no copy where a workload could look. The
     * fw_cfg entries are root-only (0400) in sysfs; unloading the module
     * removes them altogether. */
    if (unlink(GUEST_KEY_INITRD) < 0 && errno != ENOENT)
        guest_log("cannot remove %s: %s", GUEST_KEY_INITRD, strerror(errno));
    if (syscall(SYS_delete_module, GUEST_FW_CFG_MODULE, O_NONBLOCK) < 0 && errno != ENOENT)
        guest_log("cannot unload %s: %s (its files stay root-only)", GUEST_FW_CFG_MODULE, strerror(errno));
    if (r < 0) {
        snprintf(why, why_len, "no channel key: neither %s nor %s holds %u bytes (%s)", GUEST_KEY_FW_CFG,
                 GUEST_KEY_INITRD, GUEST_KEY_LEN, strerror(-r));
        return r;
    }
    guest_log("channel key read from %s", source);
    return 0;
}

/* ---------------------------------------------------------------- resume */

int guest_resume_system(const uint8_t *entropy, size_t len, int64_t unix_time_ns, const char **step)
{
    *step = "/dev/urandom";
    int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* struct rand_pool_info ends in a flexible array: the request is the
     * header followed by the bytes, laid out in one int-aligned buffer. */
    int add[(sizeof(struct rand_pool_info) + GUEST_RESUME_MAX_ENTROPY) / sizeof(int) + 1];
    struct rand_pool_info *info = (struct rand_pool_info *)add;
    if (len > GUEST_RESUME_MAX_ENTROPY)
        len = GUEST_RESUME_MAX_ENTROPY;
    memset(add, 0, sizeof(add));
    info->entropy_count = (int)(len * 8);
    info->buf_size = (int)len;
    memcpy((uint8_t *)add + sizeof(struct rand_pool_info), entropy, len);
    int r = 0;
    *step = "RNDADDENTROPY";
    if (ioctl(fd, RNDADDENTROPY, info) < 0)
        r = -errno;
    explicit_bzero(add, sizeof(add));
    /* Mixing in is not enough: the kernel's CRNG keeps the state it was
     * restored with until its next reseed, which this forces now. */
    if (r == 0) {
        *step = "RNDRESEEDCRNG";
        if (ioctl(fd, RNDRESEEDCRNG) < 0)
            r = -errno;
    }
    close(fd);
    if (r < 0)
        return r;
    *step = "clock_settime";
    struct timespec ts = {.tv_sec = (time_t)(unix_time_ns / 1000000000),
                          .tv_nsec = (long)(unix_time_ns % 1000000000)};
    if (clock_settime(CLOCK_REALTIME, &ts) < 0)
        return -errno;
    return 0;
}

/* ---------------------------------------------------------------- the sweep with contexts */

struct proc_entry {
    pid_t pid, ppid;
    uid_t uid;
};

/* The real uid and parent of a process, from its status file. */
static bool read_proc_status(int proc_fd, const char *name, struct proc_entry *out)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/status", name);
    int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *pp = strstr(buf, "\nPPid:");
    const char *uid = strstr(buf, "\nUid:");
    const char *state = strstr(buf, "\nState:");
    if (pp == NULL || uid == NULL || state == NULL)
        return false;
    /* A zombie is dead already (killed in an earlier round, not reaped yet). */
    state += 7;
    while (*state == ' ' || *state == '\t')
        state++;
    if (*state == 'Z' || *state == 'X')
        return false;
    out->ppid = (pid_t)strtol(pp + 6, NULL, 10);
    out->uid = (uid_t)strtoul(uid + 5, NULL, 10);
    return true;
}

static bool kept(const struct proc_entry *all, size_t n, pid_t pid, const pid_t *keep, size_t n_keep)
{
    /* Up the parent links (bounded: a link may change while we read). */
    for (int depth = 0; depth < 256 && pid > 1; depth++) {
        for (size_t k = 0; k < n_keep; k++)
            if (keep[k] == pid)
                return true;
        pid_t parent = 0;
        for (size_t i = 0; i < n; i++)
            if (all[i].pid == pid) {
                parent = all[i].ppid;
                break;
            }
        pid = parent;
    }
    return false;
}

int guest_kill_user_except(const char *proc_root, const pid_t *keep, size_t n_keep)
{
    uid_t me = getuid();
    pid_t self = getpid();
    int killed = 0;
    for (int round = 0; round < 64; round++) {
        int proc_fd = open(proc_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (proc_fd < 0)
            return -errno;
        DIR *d = fdopendir(proc_fd);
        if (d == NULL) {
            int e = errno;
            close(proc_fd);
            return -e;
        }
        struct proc_entry *all = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char *end;
            long pid = strtol(de->d_name, &end, 10);
            if (*end != '\0' || pid <= 0)
                continue;
            struct proc_entry e = {.pid = (pid_t)pid};
            if (!read_proc_status(dirfd(d), de->d_name, &e))
                continue; /* gone meanwhile */
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 256;
                struct proc_entry *grown = realloc(all, ncap * sizeof(*all));
                if (grown == NULL)
                    break;
                all = grown;
                cap = ncap;
            }
            all[n++] = e;
        }
        closedir(d);
        int this_round = 0;
        for (size_t i = 0; i < n; i++) {
            if (all[i].uid != me || all[i].pid == self || kept(all, n, all[i].pid, keep, n_keep))
                continue;
            if (kill(all[i].pid, SIGKILL) == 0)
                this_round++;
        }
        free(all);
        killed += this_round;
        if (this_round == 0)
            break;
    }
    return killed;
}
