/* The API's credentials: the agent token ($ENCLAVE_HOME/run/api-token) and the
 * operator token (run/operator-token), made at start when missing, and the
 * audit record of every request the API refuses before a handler runs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/log.h"
#include "common/paths.h"
#include "daemon/internal.h"

static void on_refused(const struct api_refusal *r, void *ctx)
{
    struct daemon_state *d = ctx;
    json_t *details = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:I}", "peer", r->peer,
                                "transport", r->transport, "method", r->method, "path", r->path,
                                "status", r->status, "reason", r->reason, "suppressed",
                                (json_int_t)r->suppressed);
    char *text = details != NULL ? json_dumps(details, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(details);
    struct error err;
    if (text == NULL || daemon_record(d, "API:REFUSED", "", text, &err) < 0)
        log_error("cannot record a refused API request from %s: %s", r->peer,
                  text == NULL ? "out of memory" : err.message);
    free(text);
}

int daemon_credentials_init(struct daemon_state *d, struct error *err)
{
    char agent_path[4200], operator_path[4200];
    if (paths_home(agent_path, sizeof(agent_path), "run/api-token", err) < 0 ||
        paths_home(operator_path, sizeof(operator_path), "run/operator-token", err) < 0)
        return -1;
    char agent[API_TOKEN_MAX + 1], operator[API_TOKEN_MAX + 1];
    int rc = -1;
    if (api_token_load_or_create(agent_path, agent, sizeof(agent), err) < 0 ||
        api_token_load_or_create(operator_path, operator, sizeof(operator), err) < 0)
        goto out;
    struct api_auth auth = {
        .agent_token = agent,
        .operator_token = operator,
        .on_refused = on_refused,
        .ctx = d,
    };
    if (api_server_set_auth(d->api, &auth, err) < 0) {
        error_prefix(err, "%s and %s", agent_path, operator_path);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(agent, sizeof(agent));
    OPENSSL_cleanse(operator, sizeof(operator));
    return rc;
}
