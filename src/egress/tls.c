/* TLS for secrets over HTTPS (egress.h, "the session's CA"): a per-session
 * certificate authority made in memory (EC P-256, never written anywhere),
 * leaf certificates it signs for the host a decision names, and the client
 * side towards the real server, which verifies the server's chain and name
 * against the host's trust store. Both sides speak HTTP/1.1 only (ALPN). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "egress/egress.h"

struct egress_ca {
    EVP_PKEY *key;      /* the CA's */
    X509 *cert;
    EVP_PKEY *leaf_key; /* one key for every leaf of the session */
    SSL_CTX *server;    /* towards the guest */
    SSL_CTX *client;    /* towards the real servers */
    char *pem;
    time_t not_after;
};

static int tls_error(struct error *err, const char *what)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return error_set(err, ERR_INTERNAL, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

static EVP_PKEY *new_p256(void)
{
    return EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int random_serial(X509 *cert)
{
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    raw[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

/* ALPN towards the guest: http/1.1 or nothing (never h2: the host injects
 * into HTTP/1.1 heads). */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        *out = sel;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

int egress_ca_new(unsigned valid_s, struct egress_ca **out, struct error *err)
{
    *out = NULL;
    if (valid_s == 0)
        valid_s = EGRESS_CA_DEFAULT_VALID_S;
    struct egress_ca *ca = calloc(1, sizeof(*ca));
    if (ca == NULL)
        return error_set(err, ERR_INTERNAL, "out of memory");
    ca->key = new_p256();
    ca->leaf_key = new_p256();
    ca->cert = X509_new();
    if (!ca->key || !ca->leaf_key || !ca->cert) {
        tls_error(err, "cannot make the session's CA key");
        goto fail;
    }
    X509 *c = ca->cert;
    time_t now = time(NULL);
    ca->not_after = now + (time_t)valid_s;
    X509_NAME *name = X509_NAME_new();
    if (name == NULL || X509_set_version(c, 2) != 1 || random_serial(c) < 0 ||
        !X509_time_adj(X509_getm_notBefore(c), -300, &now) ||
        !X509_time_adj(X509_getm_notAfter(c), (long)valid_s, &now) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Enclave", -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"Enclave egress session CA", -1, -1, 0) ||
        !X509_set_subject_name(c, name) || !X509_set_issuer_name(c, name) || !X509_set_pubkey(c, ca->key) ||
        add_ext(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
        add_ext(c, c, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
        add_ext(c, c, NID_subject_key_identifier, "hash") < 0 || !X509_sign(c, ca->key, EVP_sha256())) {
        X509_NAME_free(name);
        tls_error(err, "cannot make the session's CA certificate");
        goto fail;
    }
    X509_NAME_free(name);
    BIO *mem = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    if (mem == NULL || !PEM_write_bio_X509(mem, c) || (len = BIO_get_mem_data(mem, &data)) <= 0 ||
        (ca->pem = strndup(data, (size_t)len)) == NULL) {
        BIO_free(mem);
        tls_error(err, "cannot encode the session's CA certificate");
        goto fail;
    }
    BIO_free(mem);
    ca->server = SSL_CTX_new(TLS_server_method());
    if (ca->server == NULL || !SSL_CTX_set_min_proto_version(ca->server, TLS1_2_VERSION)) {
        tls_error(err, "cannot make the TLS context towards the guest");
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ca->server, select_alpn, NULL);
    SSL_CTX_set_options(ca->server, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    *out = ca;
    return 0;
fail:
    egress_ca_free(ca);
    return -1;
}

void egress_ca_free(struct egress_ca *ca)
{
    if (ca == NULL)
        return;
    EVP_PKEY_free(ca->key);
    EVP_PKEY_free(ca->leaf_key);
    X509_free(ca->cert);
    SSL_CTX_free(ca->server);
    SSL_CTX_free(ca->client);
    free(ca->pem);
    free(ca);
}

const char *egress_ca_pem(const struct egress_ca *ca)
{
    return ca->pem;
}

/* A leaf for host (a DNS name or an IP literal), signed by the CA. */
static X509 *make_leaf(struct egress_ca *ca, const char *host, struct error *err)
{
    X509 *c = X509_new();
    X509_NAME *name = X509_NAME_new();
    char san[EGRESS_MAX_HOST + 8];
    struct egress_addr a;
    snprintf(san, sizeof(san), "%s:%s", egress_addr_parse(host, &a) == 0 ? "IP" : "DNS", host);
    time_t now = time(NULL);
    long left = (long)(ca->not_after - now);
    if (c == NULL || name == NULL || X509_set_version(c, 2) != 1 || random_serial(c) < 0 ||
        !X509_time_adj(X509_getm_notBefore(c), -300, &now) || !X509_time_adj(X509_getm_notAfter(c), left, &now) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)host, -1, -1, 0) ||
        !X509_set_subject_name(c, name) || !X509_set_issuer_name(c, X509_get_subject_name(ca->cert)) ||
        !X509_set_pubkey(c, ca->leaf_key) || add_ext(c, ca->cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
        add_ext(c, ca->cert, NID_key_usage, "critical,digitalSignature") < 0 ||
        add_ext(c, ca->cert, NID_ext_key_usage, "serverAuth") < 0 ||
        add_ext(c, ca->cert, NID_authority_key_identifier, "keyid") < 0 ||
        add_ext(c, ca->cert, NID_subject_alt_name, san) < 0 || !X509_sign(c, ca->key, EVP_sha256())) {
        X509_NAME_free(name);
        X509_free(c);
        tls_error(err, "cannot make a certificate for the guest");
        return NULL;
    }
    X509_NAME_free(name);
    return c;
}

SSL *egress_ca_server_ssl(struct egress_ca *ca, const char *host, struct error *err)
{
    X509 *leaf = make_leaf(ca, host, err);
    if (leaf == NULL)
        return NULL;
    SSL *ssl = SSL_new(ca->server);
    if (ssl == NULL || SSL_use_certificate(ssl, leaf) != 1 || SSL_use_PrivateKey(ssl, ca->leaf_key) != 1 ||
        SSL_add1_chain_cert(ssl, ca->cert) != 1) {
        SSL_free(ssl);
        X509_free(leaf);
        tls_error(err, "cannot make the TLS session towards the guest");
        return NULL;
    }
    X509_free(leaf);
    return ssl;
}

SSL *egress_ca_client_ssl(struct egress_ca *ca, const char *host, struct error *err)
{
    if (ca->client == NULL) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
            SSL_CTX_free(ctx);
            tls_error(err, "cannot make the TLS context towards the server");
            return NULL;
        }
        const char *file = getenv(EGRESS_TRUST_ENV);
        int ok = file && file[0] ? SSL_CTX_load_verify_locations(ctx, file, NULL)
                                 : SSL_CTX_set_default_verify_paths(ctx);
        if (ok != 1) {
            SSL_CTX_free(ctx);
            char what[600];
            snprintf(what, sizeof(what), "cannot load the trust store %s",
                     file && file[0] ? file : "(OpenSSL's default)");
            tls_error(err, what);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
        ca->client = ctx;
    }
    SSL *ssl = SSL_new(ca->client);
    struct egress_addr a;
    bool literal = egress_addr_parse(host, &a) == 0;
    static const unsigned char h11[] = "\x08http/1.1";
    if (ssl == NULL || (!literal && SSL_set_tlsext_host_name(ssl, host) != 1) ||
        (literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1 : SSL_set1_host(ssl, host) != 1) ||
        SSL_set_alpn_protos(ssl, h11, sizeof(h11) - 1) != 0) {
        SSL_free(ssl);
        tls_error(err, "cannot make the TLS session towards the server");
        return NULL;
    }
    return ssl;
}
