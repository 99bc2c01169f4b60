/* Argument parsing for the verbs that talk to the daemon, kept apart from
 * the verbs so it can be unit-tested. Parsers return 0, 1 for --help (the
 * help text was printed to stdout), or -1 with a message in err. */
#ifndef ENCLAVE_CLI_ARGS_H
#define ENCLAVE_CLI_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/client.h"
#include "common/error.h"
#include "daemon/daemon.h"

/* A verb's getopt_long loop: its options start at argv[1] and stop at the
 * first operand ("+"), getopt prints nothing (the verb words its own
 * errors), and -h/--help prints help to stdout and returns 'h'. The first
 * call starts over (optind, opterr); -1 after the last option. */
struct option;
struct args_getopt {
    int argc;
    char **argv;
    const struct option *opts; /* with {"help", no_argument, NULL, 'h'} */
    const char *help;
    int *longindex; /* or NULL */
    bool started;
};
int args_getopt_next(struct args_getopt *g);

/* "42" within [min, max]. */
int args_parse_uint(const char *s, const char *name, unsigned min, unsigned max, unsigned *out,
                    struct error *err);
/* "90" (seconds), "90s", "15m", "24h", "7d"; at most max seconds. */
int args_parse_duration(const char *s, const char *name, unsigned max, unsigned *out,
                        struct error *err);
/* "1048576", "512K", "64M", "1G" (binary units). */
int args_parse_size(const char *s, const char *name, uint64_t *out, struct error *err);

/* One --pool value: "N", "IMAGE=N" or "IMAGE:VCPUSxMEM_MB=N" (IMAGE
 * "default" is the daemon's own image). */
int args_parse_pool(const char *s, struct daemon_pool *out, struct error *err);
/* The options `up`, `run` and `session` share, parsed and bounded here only:
 * --cpu (1-16 vCPUs), --mem (128-16384 MiB), --timeout (1-86400 s),
 * --python FILE, and --addr HOST:PORT / --socket PATH (the daemon to talk to;
 * the later of the two wins). Each destination that is NULL is an option the
 * verb does not take. */
struct args_shared {
    unsigned *vcpus, *mem_mb, *timeout_s;
    const char **python_file;
    struct client_target *target;
};
/* name: the option's long name ("cpu"). 0, or -1 with err. */
int args_parse_shared(const char *name, const char *value, const struct args_shared *to,
                      struct error *err);

struct up_args {
    struct daemon_options daemon;
    bool detach;
};
int args_parse_up(int argc, char **argv, struct up_args *out, struct error *err);

struct run_args {
    struct client_target target;
    const char *python_file;  /* --python FILE ("-" for stdin) */
    char **command;           /* after "--" (or the first non-option) */
    int command_len;
    unsigned timeout_s;       /* 0: the daemon's default */
    unsigned vcpus, mem_mb;   /* 0: the daemon's default */
    const char *session_id;   /* run in an existing session instead of a fresh one */
    bool egress;              /* the new session has egress (--egress) */
};
int args_parse_run(int argc, char **argv, struct run_args *out, struct error *err);

#endif
