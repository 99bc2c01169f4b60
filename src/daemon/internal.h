/* State shared by the daemon's files. */
#ifndef ENCLAVE_DAEMON_INTERNAL_H
#define ENCLAVE_DAEMON_INTERNAL_H

#include "api/api.h"
#include "core/core.h"
#include "daemon/daemon.h"

struct daemon_state {
    struct event_base *base;
    struct api_server *api;
    struct core *core;
    struct daemon_options opts;
    struct vmm_host host;
    bool kvm; /* VMs get KVM (else TCG) */
    char image_source[512];
    char policy_digest[72];
    struct api_service agent_service;   /* copies of the tables below, with ctx set */
    struct api_service enclave_service;
};

extern const struct api_service daemon_agent_service;
extern const struct api_service daemon_enclave_service;

#endif
