/* The session's CA: leaves for names and IP literals that a client trusting
 * only that CA accepts for exactly that name, ALPN never h2, and the client
 * side towards real servers refusing a chain or a name that does not verify. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "egress/egress.h"

static char trust[] = "/tmp/egress-tls-test-XXXXXX";

static void write_trust(const struct egress_ca *ca)
{
    FILE *f = fopen(trust, "w");
    assert_non_null(f);
    fputs(egress_ca_pem(ca), f);
    fclose(f);
    setenv(EGRESS_TRUST_ENV, trust, 1);
}

/* Runs a handshake between client and server in memory; true when both
 * finish. */
static bool handshake(SSL *client, SSL *server)
{
    BIO *cb, *sb;
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(client, cb, cb);
    SSL_set_bio(server, sb, sb);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    bool cdone = false, sdone = false;
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        if (!cdone) {
            int r = SSL_do_handshake(client);
            if (r == 1)
                cdone = true;
            else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
                return false;
        }
        if (!sdone) {
            int r = SSL_do_handshake(server);
            if (r == 1)
                sdone = true;
            else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
                return false;
        }
    }
    ERR_clear_error();
    return cdone && sdone;
}

static void test_leaf_verifies_for_its_name_only(void **state)
{
    (void)state;
    struct egress_ca *ca = NULL, *other = NULL;
    struct error err;
    assert_int_equal(egress_ca_new(3600, &ca, &err), 0);
    assert_int_equal(egress_ca_new(3600, &other, &err), 0);
    assert_non_null(strstr(egress_ca_pem(ca), "-----BEGIN CERTIFICATE-----"));
    assert_string_not_equal(egress_ca_pem(ca), egress_ca_pem(other));
    write_trust(ca);
    /* The client side trusts only the file: the session CA's leaf for the
     * name verifies... */
    SSL *c = egress_ca_client_ssl(ca, "api.example", &err);
    SSL *s = egress_ca_server_ssl(ca, "api.example", &err);
    assert_non_null(c);
    assert_non_null(s);
    assert_true(handshake(c, s));
    assert_int_equal(SSL_get_verify_result(c), X509_V_OK);
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(c, &proto, &plen);
    assert_int_equal(plen, 8);
    assert_memory_equal(proto, "http/1.1", 8);
    SSL_free(c);
    SSL_free(s);
    /* ... not for another name ... */
    c = egress_ca_client_ssl(ca, "other.example", &err);
    s = egress_ca_server_ssl(ca, "api.example", &err);
    assert_false(handshake(c, s));
    assert_int_equal(SSL_get_verify_result(c), X509_V_ERR_HOSTNAME_MISMATCH);
    SSL_free(c);
    SSL_free(s);
    /* ... and another CA's leaf not at all (an untrusted server). */
    c = egress_ca_client_ssl(ca, "api.example", &err);
    s = egress_ca_server_ssl(other, "api.example", &err);
    assert_false(handshake(c, s));
    assert_int_not_equal(SSL_get_verify_result(c), X509_V_OK);
    SSL_free(c);
    SSL_free(s);
    /* An IP literal gets an IP SAN. */
    c = egress_ca_client_ssl(ca, "127.0.0.1", &err);
    s = egress_ca_server_ssl(ca, "127.0.0.1", &err);
    assert_true(handshake(c, s));
    SSL_free(c);
    SSL_free(s);
    egress_ca_free(ca);
    egress_ca_free(other);
}

static void test_guest_side_never_h2(void **state)
{
    (void)state;
    struct egress_ca *ca = NULL;
    struct error err;
    assert_int_equal(egress_ca_new(0, &ca, &err), 0);
    write_trust(ca);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char h2only[] = "\x02h2";
    SSL *c = SSL_new(ctx);
    SSL_set_alpn_protos(c, h2only, sizeof(h2only) - 1);
    SSL *s = egress_ca_server_ssl(ca, "api.example", &err);
    assert_true(handshake(c, s));
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(c, &proto, &plen);
    assert_int_equal(plen, 0);
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(ctx);
    /* A trust file that does not exist: a clear error, no session. */
    setenv(EGRESS_TRUST_ENV, "/nonexistent/trust.pem", 1);
    struct egress_ca *fresh = NULL;
    assert_int_equal(egress_ca_new(0, &fresh, &err), 0);
    assert_null(egress_ca_client_ssl(fresh, "api.example", &err));
    assert_non_null(strstr(err.message, "trust store"));
    egress_ca_free(fresh);
    egress_ca_free(ca);
}

static int setup(void **state)
{
    (void)state;
    int fd = mkstemp(trust);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(trust);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaf_verifies_for_its_name_only),
        cmocka_unit_test(test_guest_side_never_h2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
