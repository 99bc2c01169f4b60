/* The daemon's own pieces with real collaborators: lifetimes a request may
 * ask for, events recorded through a real gate into a real audit log, and the
 * API credentials made and checked on disk for a real API server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"
#include "daemon/internal.h"
#include "gate/test_gate.h"

struct fixture {
    struct test_gate t;
    struct daemon_state d;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    test_gate_open(&f->t, NULL);
    f->d.audit = f->t.log;
    f->d.gate = f->t.gate;
    struct error err;
    f->d.base = event_base_new();
    struct api_config ac = {.listen = "127.0.0.1:0"};
    if (api_server_new(f->d.base, &ac, &f->d.api, &err) < 0)
        fail_msg("api_server_new: %s", err.message);
    f->d.opts.session_idle_timeout_s = 600;
    f->d.opts.session_max_lifetime_s = 3600;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    api_server_free(f->d.api);
    event_base_free(f->d.base);
    test_gate_close(&f->t);
    free(f);
    return 0;
}

static uint64_t head_seq(struct fixture *f)
{
    uint64_t seq;
    char hash[AUDIT_HASH_HEX_SIZE];
    struct error err;
    assert_int_equal(audit_head(f->d.audit, &seq, hash, &err), 0);
    return seq;
}

static void test_lifetime_resolve(void **state)
{
    struct fixture *f = *state;
    unsigned idle = 99, life = 99;
    struct error err;
    /* 0: the daemon's defaults. */
    assert_int_equal(daemon_lifetime_resolve(&f->d, 0, 0, &idle, &life, &err), 0);
    assert_int_equal(idle, 600);
    assert_int_equal(life, 3600);
    /* -1: none. */
    assert_int_equal(daemon_lifetime_resolve(&f->d, -1, -1, &idle, &life, &err), 0);
    assert_int_equal(idle, 0);
    assert_int_equal(life, 0);
    assert_int_equal(daemon_lifetime_resolve(&f->d, 5, 7, &idle, &life, &err), 0);
    assert_int_equal(idle, 5);
    assert_int_equal(life, 7);
    /* What a hostile request may send in an int32. */
    const int32_t bad[] = {-2, INT32_MIN};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(daemon_lifetime_resolve(&f->d, bad[i], 0, &idle, &life, &err), -1);
        assert_int_equal(err.kind, ERR_INVALID_ARGUMENT);
        assert_int_equal(daemon_lifetime_resolve(&f->d, 0, bad[i], &idle, &life, &err), -1);
    }
}

static void test_record(void **state)
{
    struct fixture *f = *state;
    struct error err;
    uint64_t before = head_seq(f);
    assert_int_equal(daemon_record(&f->d, "DAEMON:START", "", "{\"pid\": 1}", &err), 0);
    assert_int_equal(head_seq(f), before + 1);
    assert_int_equal(daemon_record(&f->d, "DAEMON:START", "", NULL, &err), 0);
    assert_int_equal(head_seq(f), before + 2);
    /* Refused, and nothing written. */
    assert_int_equal(daemon_record(&f->d, "NO:SUCH_KIND", "", NULL, &err), -1);
    assert_int_equal(daemon_record(&f->d, "DAEMON:START", "", "[1]", &err), -1);
    assert_int_equal(daemon_record(&f->d, "DAEMON:START", "", "{not json", &err), -1);
    assert_int_equal(head_seq(f), before + 2);
}

static void read_token(const char *path, char *out, size_t size)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char *text = NULL;
    size_t len = 0;
    struct error err;
    assert_int_equal(file_read_all(path, 4096, &text, &len, &err), 0);
    assert_true(len >= 2 && text[len - 1] == '\n');
    for (size_t i = 0; i + 1 < len; i++)
        assert_non_null(strchr("0123456789abcdef", text[i]));
    snprintf(out, size, "%s", text);
    free(text);
}

static void test_credentials(void **state)
{
    struct fixture *f = *state;
    struct error err;
    char agent_path[200], operator_path[200];
    snprintf(agent_path, sizeof(agent_path), "%s/run/api-token", f->t.home);
    snprintf(operator_path, sizeof(operator_path), "%s/run/operator-token", f->t.home);
    char run[200];
    snprintf(run, sizeof(run), "%s/run", f->t.home);
    assert_int_equal(mkdir(run, 0700), 0); /* as the daemon makes it at start */
    if (daemon_credentials_init(&f->d, &err) < 0)
        fail_msg("%s", err.message);
    char agent[200], operator[200];
    read_token(agent_path, agent, sizeof(agent));
    read_token(operator_path, operator, sizeof(operator));
    assert_string_not_equal(agent, operator);
    /* A restart keeps the tokens it finds. */
    if (daemon_credentials_init(&f->d, &err) < 0)
        fail_msg("%s", err.message);
    char again[200];
    read_token(agent_path, again, sizeof(again));
    assert_string_equal(again, agent);
    /* A token file others may read is refused, not used and not replaced. */
    assert_int_equal(chmod(agent_path, 0644), 0);
    assert_int_equal(daemon_credentials_init(&f->d, &err), -1);
    assert_int_equal(chmod(agent_path, 0600), 0);
    read_token(agent_path, again, sizeof(again));
    assert_string_equal(again, agent);
    /* As is one whose content is not a token. */
    FILE *t = fopen(operator_path, "w");
    assert_non_null(t);
    fputs("not a token\n", t);
    fclose(t);
    assert_int_equal(daemon_credentials_init(&f->d, &err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lifetime_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_credentials, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
