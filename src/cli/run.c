#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/exec_common.h"

int cli_run(int argc, char **argv)
{
    struct run_args a;
    struct error err;
    int r = args_parse_run(argc, argv, &a, &err);
    if (r == 1)
        return 0;
    if (r < 0)
        return cli_usage_error("run", "%s", err.message);

    char session_id[128];
    bool own_session = a.session_id == NULL;
    if (own_session) {
        json_t *req = json_object();
        if (a.vcpus)
            json_object_set_new(req, "vcpu", json_integer(a.vcpus));
        if (a.mem_mb)
            json_object_set_new(req, "memoryMb", json_integer(a.mem_mb));
        json_t *resp = NULL;
        int rc = client_call(&a.target, "agent.v1.AgentService", "StartSession", req, 300, &resp, &err);
        json_decref(req);
        if (rc < 0) {
            fprintf(stderr, "enclave run: cannot start a session: %s\n", err.message);
            return 125;
        }
        const char *id = json_string_value(json_object_get(resp, "sessionId"));
        snprintf(session_id, sizeof(session_id), "%s", id ? id : "");
        json_decref(resp);
    } else {
        snprintf(session_id, sizeof(session_id), "%s", a.session_id);
    }

    int rc = 125;
    json_t *tool = cli_tool_request("run", session_id, a.python_file, a.command, a.command_len,
                                    a.timeout_s);
    if (tool != NULL) {
        rc = cli_execute("run", &a.target, tool, a.timeout_s);
        json_decref(tool);
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
