/* Where KVM comes from: the host itself, a Lima VM on macOS, or WSL2 on Windows.
 * Detection only reads files; nothing is changed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "vmm/vmm.h"

int vmm_parse_provider(const char *s, enum vmm_provider *out)
{
    static const struct {
        const char *name;
        enum vmm_provider p;
    } names[] = {{"auto", VMM_PROVIDER_AUTO},
                 {"native", VMM_PROVIDER_NATIVE},
                 {"lima", VMM_PROVIDER_LIMA},
                 {"wsl2", VMM_PROVIDER_WSL2}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].p;
            return 0;
        }
    }
    return -1;
}

const char *vmm_provider_name(enum vmm_provider p)
{
    switch (p) {
    case VMM_PROVIDER_AUTO:
        return "auto";
    case VMM_PROVIDER_NATIVE:
        return "native";
    case VMM_PROVIDER_LIMA:
        return "lima";
    case VMM_PROVIDER_WSL2:
        return "wsl2";
    }
    return "?";
}

static bool file_contains(const char *path, const char *needle)
{
    char buf[512] = {0};
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    return strcasestr(buf, needle) != NULL;
}

static bool running_in_wsl2(void)
{
    return file_contains("/proc/sys/kernel/osrelease", "microsoft") ||
           access("/proc/sys/fs/binfmt_misc/WSLInterop", F_OK) == 0;
}

static bool running_in_lima(void)
{
    return access("/mnt/lima-cidata", F_OK) == 0 || getenv("LIMA_INSTANCE") != NULL;
}

/* Opening /dev/kvm is not enough (a container may expose a dead node): make a VM. */
static int kvm_probe(char *why, size_t why_len)
{
    cleanup_close int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
        return -1;
    }
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
        snprintf(why, why_len, "/dev/kvm answers API version %d, expected %d", version,
                 KVM_API_VERSION);
        return -1;
    }
    int vm = ioctl(fd, KVM_CREATE_VM, 0);
    if (vm < 0) {
        snprintf(why, why_len, "/dev/kvm cannot create a VM: %s", strerror(errno));
        return -1;
    }
    close(vm);
    return 0;
}

int vmm_detect_host(enum vmm_provider requested, struct vmm_host *out, struct error *err)
{
    memset(out, 0, sizeof(*out));
    enum vmm_provider detected = VMM_PROVIDER_NATIVE;
    if (running_in_wsl2())
        detected = VMM_PROVIDER_WSL2;
    else if (running_in_lima())
        detected = VMM_PROVIDER_LIMA;
    if (requested != VMM_PROVIDER_AUTO && requested != detected)
        return error_set(err, ERR_FAILED_PRECONDITION,
                         "--provider=%s was asked for, but this host looks like %s "
                         "(use --provider=auto or --provider=%s)",
                         vmm_provider_name(requested), vmm_provider_name(detected),
                         vmm_provider_name(detected));
    out->provider = detected;

    char why[256] = "";
    out->kvm_usable = kvm_probe(why, sizeof(why)) == 0;
    int vfd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
    out->vhost_vsock = vfd >= 0;
    if (vfd >= 0)
        close(vfd);

    if (out->kvm_usable)
        return 0;
    switch (detected) {
    case VMM_PROVIDER_WSL2:
        snprintf(out->explain, sizeof(out->explain),
                 "KVM is not usable (%s). On WSL2, nested virtualization must be on: add "
                 "'nestedVirtualization=true' under [wsl2] in %%UserProfile%%\\.wslconfig, run "
                 "'wsl --shutdown', and make sure your user can open /dev/kvm "
                 "(sudo usermod -aG kvm $USER).",
                 why);
        break;
    case VMM_PROVIDER_LIMA:
        snprintf(out->explain, sizeof(out->explain),
                 "KVM is not usable (%s). In a Lima VM, KVM needs nested virtualization: on "
                 "Apple silicon M3 or later with macOS 15, create the instance with "
                 "'limactl create --vm-type=vz --nested-virt'; on Intel Macs use the qemu "
                 "vm type with a CPU that exposes VMX.",
                 why);
        break;
    default:
        snprintf(out->explain, sizeof(out->explain),
                 "KVM is not usable (%s). Enable virtualization (VT-x/AMD-V) in the firmware, "
                 "load the kvm_intel or kvm_amd module, and give your user access to "
                 "/dev/kvm (group kvm); in a cloud VM, pick an instance type with nested "
                 "virtualization.",
                 why);
        break;
    }
    return 0;
}
