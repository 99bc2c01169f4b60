#include <signal.h>
#include <sys/random.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/exec_common.h"
#include "common/exit_code.h"

static volatile sig_atomic_t run_signal;

static void on_signal(int sig)
{
    run_signal = sig;
    client_interrupt();
}

int cli_run(int argc, char **argv)
{
    struct run_args a;
    struct error err;
    int r = args_parse_run(argc, argv, &a, &err);
    if (r == 1)
        return 0;
    if (r < 0)
        return cli_usage_error("run", "%s", err.message);

    /* Ctrl-C or SIGTERM: stop waiting, but still stop the session we started. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char session_id[128];
    bool own_session = a.session_id == NULL;
    if (own_session) {
        /* The id is made here, so an interrupted start can still be stopped. */
        unsigned char rnd[6] = {0};
        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
            memset(rnd, 0, sizeof(rnd));
        snprintf(session_id, sizeof(session_id), "run-%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
                 rnd[2], rnd[3], rnd[4], rnd[5]);
    } else {
        snprintf(session_id, sizeof(session_id), "%s", a.session_id);
    }
    /* The program (--python FILE) is read and the command checked before
     * anything starts: a file that cannot be read boots no VM. */
    json_t *tool = cli_exec_request("run", session_id, a.python_file, a.command, a.command_len,
                                    a.timeout_s);
    if (tool == NULL)
        return CLI_EXIT_FAILED;

    if (own_session) {
        json_t *req = json_pack("{s:s}", "sessionId", session_id);
        cli_start_request_add(req, a.vcpus, a.mem_mb, a.egress);
        json_t *resp = NULL;
        int rc = client_call(&a.target, "agent.v1.AgentService", "StartSession", req, 300, &resp, &err);
        json_decref(req);
        if (rc < 0) {
            if (run_signal) {
                client_clear_interrupt();
                fprintf(stderr, "enclave run: interrupted; stopping the session\n");
                json_t *stop = json_pack("{s:s}", "sessionId", session_id);
                json_t *ignored = NULL;
                client_call(&a.target, "agent.v1.AgentService", "StopSession", stop, 60, &ignored,
                            &err);
                json_decref(stop);
                json_decref(ignored);
                json_decref(tool);
                return exit_code_for_signal(run_signal);
            }
            fprintf(stderr, "enclave run: cannot start a session: %s\n", err.message);
            json_decref(tool);
            return cli_exit_for_error(err.kind); /* 126 when the policy refused the session */
        }
        json_decref(resp);
    }

    int rc = cli_exec_stream("run", &a.target, tool, a.timeout_s);
    json_decref(tool);
    if (run_signal) {
        client_clear_interrupt();
        fprintf(stderr, "enclave run: interrupted%s\n", own_session ? "; stopping the session" : "");
        rc = exit_code_for_signal(run_signal);
    }
    if (own_session) {
        json_t *req = json_pack("{s:s}", "sessionId", session_id);
        json_t *resp = NULL;
        if (client_call(&a.target, "agent.v1.AgentService", "StopSession", req, 60, &resp, &err) < 0)
            fprintf(stderr, "enclave run: stopping session %s: %s\n", session_id, err.message);
        json_decref(req);
        json_decref(resp);
    }
    return rc;
}
