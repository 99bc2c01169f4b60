/* libFuzzer harness for what the init does with bytes from the host, short
 * of running anything: framing, the HelloRequest key check, request checks,
 * exec validation and the workload environment built from a valid request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"
#include "wire/frame.h"

/* The init's rule: nothing but a HelloRequest with the key is looked at
 * until the key was proved; a sync marker starts over. */
static const uint8_t fuzz_key[GUEST_KEY_LEN] = "enclave-fuzz-key-0123456789abcde";
static bool authed;
static unsigned syncs;

static void handle(const Guest__V1__Frame *f)
{
    if (f->body_case == GUEST__V1__FRAME__BODY_HELLO_REQUEST) {
        int ok = guest_hello_check(f, fuzz_key);
        const ProtobufCBinaryData *k = &f->hello_request->key;
        /* Right exactly when the bytes are the key. */
        if ((ok == 0) != (k->len == GUEST_KEY_LEN && memcmp(k->data, fuzz_key, GUEST_KEY_LEN) == 0))
            abort();
        authed = ok == 0;
        return;
    }
    if (guest_hello_check(f, fuzz_key) == 0)
        abort();
    if (!authed)
        return; /* the init closes the connection here */
    const char *why = NULL;
    if (guest_request_check(f, &why) != 0) {
        if (!why)
            abort();
        return;
    }
    if (f->body_case != GUEST__V1__FRAME__BODY_EXEC_REQUEST)
        return;
    struct guest_exec_params p;
    int code = guest_exec_validate(f->exec_request, &p, &why);
    if (code != 0) {
        if (!why)
            abort();
        return;
    }
    /* What validation lets through must be within the limits. Streamed
     * output is paced by the host's credit, so its cap is the stream limit;
     * buffered output must fit one reply. */
    uint64_t max_output = f->exec_request->stream_output ? GUEST_MAX_STREAM_OUTPUT : GUEST_MAX_OUTPUT;
    if (p.timeout_ms == 0 || p.timeout_ms > GUEST_MAX_TIMEOUT_MS || p.max_output == 0 ||
        p.max_output > max_output || p.stream_window > GUEST_MAX_STREAM_WINDOW ||
        (p.stream_window > 0 && !f->exec_request->stream_output) || !p.cwd || p.cwd[0] != '/' ||
        f->exec_request->stdin.len > GUEST_MAX_STDIN || f->exec_request->n_argv == 0)
        abort();
    char **env = guest_exec_build_env(f->exec_request);
    if (env) {
        size_t n = 0;
        for (char **e = env; *e; e++, n++)
            if (!strchr(*e, '='))
                abort();
        if (n > f->exec_request->n_env + 2)
            abort();
    }
    guest_env_free(env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_decoder d;
    wire_decoder_init(&d, 0);
    authed = false;
    syncs = 0;
    size_t off = 0;
    while (off < size) {
        long n = wire_decoder_feed(&d, data + off, size - off);
        if (n < 0)
            break;
        off += (size_t)n;
        Guest__V1__Frame *f = NULL;
        int r;
        /* As the init does: a bad body is skipped; after a length over the
         * limit the decoder drops input until a sync marker. */
        while ((r = wire_decoder_next(&d, &f)) == 1 || r == WIRE_ERR_BAD_FRAME ||
               (r == WIRE_ERR_TOO_LARGE && !d.broken)) {
            if (r == 1) {
                if (d.syncs != syncs) {
                    syncs = d.syncs; /* a new host connection proves the key again */
                    authed = false;
                }
                handle(f);
                guest__v1__frame__free_unpacked(f, NULL);
            }
        }
    }
    wire_decoder_release(&d);
    return 0;
}
