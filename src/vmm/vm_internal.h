/* The VM record, shared by the drivers in src/vmm/ only. */
#ifndef ENCLAVE_VMM_VM_INTERNAL_H
#define ENCLAVE_VMM_VM_INTERNAL_H

#include "vmm/vmm.h"

struct vmm_vm {
    pid_t pid;
    bool kvm;
    char cpu_model[64]; /* -cpu with KVM */
    bool exited;
    int wait_status;
    struct vmm_channel channel;
    char run_dir[4096];
    char qmp_path[108];  /* qemu: QMP socket */
    char api_path[108];  /* firecracker: API socket */
    char console_log[4200];
    char pidfile[4200];
};

#endif
