/* The `enclave` command's verbs. Each verb is one function taking the
 * arguments after the verb (argv[0] is the verb itself) and returning the
 * process exit code. Every verb answers --help.
 *
 * Verbs implemented in other files are declared weak here, so that the table
 * in main.c links while a verb is being written; main.c says so when one is
 * missing from a build. */
#ifndef ENCLAVE_CLI_CLI_H
#define ENCLAVE_CLI_CLI_H

#include <stdio.h>

typedef int (*cli_verb_fn)(int argc, char **argv);

struct cli_verb {
    const char *name;
    cli_verb_fn fn;
    const char *summary;
};

#define CLI_VERBS(X)                                                             \
    X(up, cli_up, "start the daemon (API on 127.0.0.1:7339)")                    \
    X(run, cli_run, "run one command or Python file in a fresh VM and print its output") \
    X(session, cli_session, "start, stop and list sessions; exec, run code and copy files in them") \
    X(image, cli_image, "build, pull, push, sign, verify, install and inspect guest images") \
    X(policy, cli_policy, "evaluate, test, benchmark, format and apply Rego policies") \
    X(audit, cli_audit, "read, export, verify and prove the audit log") \
    X(token, cli_token, "print the API token clients send (made when missing)") \
    X(secret, cli_secret, "store, list and remove credentials egress adds on the host") \
    X(ui, cli_ui, "print the Web UI's login URL and open it in a browser") \
    X(mcp, cli_mcp, "serve the Model Context Protocol on stdio (tools in one session)")

#define X(verb, fn, summary) int fn(int argc, char **argv) __attribute__((weak));
CLI_VERBS(X)
#undef X

/* `enclave image` sub-verbs, split by who implements them. */
#define CLI_IMAGE_VERBS(X)                                                             \
    X(build, cli_image_build, "assemble a guest image from Debian packages into the cache") \
    X(status, cli_image_status, "list the cached image files, sizes, digests and whether each matches") \
    X(pull, cli_image_pull, "download an image from an OCI registry into the blob store")        \
    X(verify, cli_image_verify, "check an image's signature and every blob's digest")            \
    X(install, cli_image_install, "pull, verify and install an image as the one VMs boot")        \
    X(push, cli_image_push, "upload the locally built image to an OCI registry")                 \
    X(sign, cli_image_sign, "sign an image in a registry with a cosign key")                     \
    X(keygen, cli_image_keygen, "write a cosign-format key pair (cosign.key, cosign.pub)")

#define X(verb, fn, summary) int fn(int argc, char **argv) __attribute__((weak));
CLI_IMAGE_VERBS(X)
#undef X

/* `enclave policy apply` (policy_apply.c). */
int cli_policy_apply(int argc, char **argv);
/* `enclave policy fmt` (policy_fmt.c). */
int cli_policy_fmt(int argc, char **argv);

/* enclave session cp / ls-files / code (cli/session_files.c); argv[1] is the sub-verb. */
int cli_session_files(int argc, char **argv);
/* Exit statuses (README.md, "Exit status"). Every verb: 0 done, 2 a bad
 * command line (nothing was done). The verbs whose status is otherwise a
 * workload's or that start one (run, session start, session exec, session
 * code) say why they failed above 123, as `docker run` does, so that a
 * workload's own 1 or 2 is never mistaken for Enclave's: CLI_EXIT_FAILED when
 * Enclave failed (no daemon, no session, an unreadable program),
 * CLI_EXIT_REFUSED when the policy refused the request; CLI_EXIT_TIMED_OUT
 * and 128 + N are the workload's (timed out, killed by signal N). The other
 * verbs exit 1 when they fail, refusals included. */
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_TIMED_OUT 124
#define CLI_EXIT_FAILED 125
#define CLI_EXIT_REFUSED 126

/* CLI_EXIT_REFUSED for a policy's refusal (ERR_PERMISSION_DENIED), else
 * CLI_EXIT_FAILED: the status of a run-like verb whose request failed. */
int cli_exit_for_error(int error_kind);

/* Prints "enclave VERB: message" to stderr; returns 2 (usage) for convenience. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Text the CLI did not write itself (from the daemon, a guest, a registry, a
 * log file) goes to the terminal through these, never raw: cli_put_escaped
 * writes text with its control and bidirectional formatting characters
 * escaped (text_escape_terminal); cli_put_json writes JSON text that stays
 * JSON parsing to the same values (text_escape_json_terminal). What a
 * workload writes to its own standard output and error is the exception,
 * passed on raw by design. Both return what fputs returns (EOF when out of
 * memory too). */
int cli_put_escaped(FILE *out, const char *text);
int cli_put_json(FILE *out, const char *json);

#endif
