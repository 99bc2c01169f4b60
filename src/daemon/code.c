/* enclave.v1.Enclave/RunCode (server streaming): a cell of Python in the
 * session's interpreter; its output, result and error as events, then done.
 *
 * Core caps a cell's events (16 MiB of output, 6 MiB of results, whatever
 * the guest says) and the call's buffer is larger than both, so a slow
 * client cannot make the daemon hold more; a buffer that fills anyway (JSON
 * makes a control character six bytes) ends the call (resource_exhausted)
 * and interrupts the cell. */
#include <stdlib.h>
#include <string.h>

#include "daemon/internal.h"
#include "enclave/v1/enclave.pb-c.h"

struct code_call {
    struct api_call *call;
    struct core_code_run *run; /* NULL once it ended */
    bool failed;
};

/* Returns false when the call was ended (and c freed): the caller must not
 * touch c again. */
static bool send_or_fail(struct code_call *c, Enclave__V1__RunCodeEvent *ev)
{
    if (api_call_send(c->call, &ev->base) < 0 && !api_call_is_abandoned(c->call)) {
        /* Full although the cap should have prevented it: stop here. */
        c->failed = true;
        core_code_abandon(c->run);
        c->run = NULL;
        struct error e;
        error_set(&e, ERR_RESOURCE_EXHAUSTED, "the client does not read the cell's output");
        api_call_finish(c->call, &e);
        free(c);
        return false;
    }
    return true;
}

static void on_event(const struct core_code_event *ev, void *ctx)
{
    struct code_call *c = ctx;
    Enclave__V1__RunCodeEvent m = ENCLAVE__V1__RUN_CODE_EVENT__INIT;
    if (strcmp(ev->kind, "stdout") == 0) {
        m.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_STDOUT;
        m.stdout = (char *)ev->text;
    } else if (strcmp(ev->kind, "stderr") == 0) {
        m.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_STDERR;
        m.stderr = (char *)ev->text;
    } else if (strcmp(ev->kind, "error") == 0) {
        Enclave__V1__CodeError e = ENCLAVE__V1__CODE_ERROR__INIT;
        e.name = (char *)ev->name;
        e.value = (char *)ev->value;
        e.traceback = (char *)ev->traceback;
        m.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_ERROR;
        m.error = &e;
        send_or_fail(c, &m);
        return;
    } else {
        m.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_TEXT;
        m.text = (char *)ev->text;
        if (!send_or_fail(c, &m))
            return;
        /* Each rich form is an event of its own. */
        for (size_t i = 0; i < ev->n_data; i++) {
            Enclave__V1__MimeBundle b = ENCLAVE__V1__MIME_BUNDLE__INIT;
            b.mime_type = (char *)ev->mime_types[i];
            b.data.data = (uint8_t *)ev->data[i];
            b.data.len = ev->data_len[i];
            Enclave__V1__RunCodeEvent d = ENCLAVE__V1__RUN_CODE_EVENT__INIT;
            d.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_DATA;
            d.data = &b;
            if (!send_or_fail(c, &d))
                return;
        }
        return;
    }
    send_or_fail(c, &m);
}

static void on_done(const struct core_code_result *res, const struct error *err, void *ctx)
{
    struct code_call *c = ctx;
    c->run = NULL;
    if (c->failed)
        return;
    if (err != NULL) {
        api_call_finish(c->call, err);
        free(c);
        return;
    }
    Enclave__V1__CodeDone done = ENCLAVE__V1__CODE_DONE__INIT;
    done.error = res->error;
    done.timed_out = res->timed_out;
    done.interrupted = res->interrupted;
    done.restarted = res->restarted;
    done.duration_ms = (int64_t)(res->duration_us / 1000);
    done.execution_count = (int32_t)res->execution_count;
    done.truncated = res->truncated;
    done.timeout_seconds = (int32_t)res->timeout_s;
    Enclave__V1__RunCodeEvent m = ENCLAVE__V1__RUN_CODE_EVENT__INIT;
    m.event_case = ENCLAVE__V1__RUN_CODE_EVENT__EVENT_DONE;
    m.done = &done;
    api_call_send(c->call, &m.base);
    api_call_finish(c->call, NULL);
    free(c);
}

static void on_cancel(struct api_call *call, void *ctx)
{
    struct code_call *c = ctx;
    core_code_abandon(c->run);
    c->run = NULL;
    daemon_finish_canceled(call);
    free(c);
}

void daemon_handle_run_code(struct api_call *call, const ProtobufCMessage *msg, void *ctx)
{
    struct daemon_state *d = ctx;
    const Enclave__V1__RunCodeRequest *r = (const Enclave__V1__RunCodeRequest *)msg;
    struct error err;
    if (r->timeout_seconds < 0) {
        error_set(&err, ERR_INVALID_ARGUMENT, "timeout_seconds may not be negative");
        api_call_fail(call, &err);
        return;
    }
    struct code_call *c = daemon_call_calloc(call, sizeof(*c));
    if (c == NULL)
        return;
    c->call = call;
    struct core_code_request req = {
        .session_id = r->session_id,
        .context_id = r->context_id,
        .code = r->code,
        .timeout_s = (unsigned)r->timeout_seconds,
        .caller = daemon_caller_of(call),
    };
    static const struct api_call_callbacks cbs = {.on_cancel = on_cancel};
    api_call_set_callbacks(call, &cbs, c);
    if (core_code(d->core, &req, on_event, on_done, c, &c->run, &err) < 0) {
        api_call_set_callbacks(call, NULL, NULL);
        api_call_fail(call, &err);
        free(c);
    }
}
