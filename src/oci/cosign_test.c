/* cosign key files and signatures: round trips and refusals. The Python
 * tests in tests/oci/ check the same against an independent implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "oci/internal.h"

#define D1 "sha256:09f675d3409814231c2bd2c95c1d3f2b8e0c3e0f34e8baaf7258913db55515d9"

static char *priv_pem, *pub_pem;

static int setup(void **state)
{
    (void)state;
    struct error err = {0};
    return cosign_keygen("correct horse", &priv_pem, &pub_pem, &err);
}

static int teardown(void **state)
{
    (void)state;
    free(priv_pem);
    free(pub_pem);
    return 0;
}

static void test_key_files(void **state)
{
    (void)state;
    struct error err = {0};
    assert_non_null(strstr(priv_pem, "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    assert_non_null(strstr(pub_pem, "-----BEGIN PUBLIC KEY-----"));
    EVP_PKEY *key = NULL, *pub = NULL;
    assert_int_equal(cosign_private_key_load(priv_pem, strlen(priv_pem), "correct horse", &key, &err), 0);
    assert_int_equal(cosign_public_key_load(pub_pem, strlen(pub_pem), &pub, &err), 0);
    /* the public half derived from the decrypted key is the one in cosign.pub */
    char *again = NULL;
    assert_int_equal(cosign_public_key_pem(key, &again, &err), 0);
    assert_string_equal(again, pub_pem);
    free(again);
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);

    key = NULL;
    assert_int_equal(cosign_private_key_load(priv_pem, strlen(priv_pem), "wrong", &key, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    assert_null(key);
}

static void test_key_files_hostile(void **state)
{
    (void)state;
    struct error err = {0};
    EVP_PKEY *key = NULL;
    /* the public key is not a private key, and vice versa */
    assert_int_equal(cosign_private_key_load(pub_pem, strlen(pub_pem), "x", &key, &err), -1);
    assert_int_equal(cosign_public_key_load(priv_pem, strlen(priv_pem), &key, &err), -1);
    assert_int_equal(cosign_private_key_load("garbage", 7, "x", &key, &err), -1);
    /* scrypt parameters other than cosign's are refused before any work */
    const char *json = "{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":1073741824,\"r\":8,\"p\":1},"
                       "\"salt\":\"AAAA\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"AAAA\"},"
                       "\"ciphertext\":\"AAAA\"}";
    char b64[1024];
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)json, strlen(json),
                      sodium_base64_VARIANT_ORIGINAL);
    char pem[2048];
    snprintf(pem, sizeof(pem),
             "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n%s\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
             b64);
    assert_int_equal(cosign_private_key_load(pem, strlen(pem), "x", &key, &err), -1);
    assert_non_null(strstr(err.message, "scrypt parameters"));
    /* a flipped ciphertext byte fails authentication */
    char *copy = strdup(priv_pem);
    char *body = strchr(copy, '\n') + 1;
    char *end = strstr(copy, "-----END");
    unsigned char dec[4096];
    size_t dlen = 0;
    char b64body[4096];
    size_t k = 0;
    for (char *p = body; p < end; p++)
        if (*p != '\n')
            b64body[k++] = *p;
    b64body[k] = '\0';
    assert_int_equal(sodium_base642bin(dec, sizeof(dec), b64body, k, NULL, &dlen, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    char *ct = strstr((char *)dec, "\"ciphertext\":\"");
    assert_non_null(ct);
    ct += 14;
    ct[3] = ct[3] == 'A' ? 'B' : 'A';
    sodium_bin2base64(b64, sizeof(b64), dec, dlen, sodium_base64_VARIANT_ORIGINAL);
    snprintf(pem, sizeof(pem),
             "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n%s\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
             b64);
    assert_int_equal(cosign_private_key_load(pem, strlen(pem), "correct horse", &key, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    free(copy);
}

static void test_payload(void **state)
{
    (void)state;
    struct error err = {0};
    char *payload = NULL;
    size_t len = 0;
    assert_int_equal(cosign_payload_build("127.0.0.1:5000/e/g", D1, &payload, &len, &err), 0);
    assert_string_equal(payload,
                        "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/e/g\"},"
                        "\"image\":{\"docker-manifest-digest\":\"" D1 "\"},"
                        "\"type\":\"cosign container image signature\"},\"optional\":null}");
    char identity[512], digest[72];
    assert_int_equal(cosign_payload_parse(payload, len, identity, digest, &err), 0);
    assert_string_equal(identity, "127.0.0.1:5000/e/g");
    assert_string_equal(digest, D1);
    free(payload);
    const char *bad[] = {
        "{}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"a\"},\"image\":{\"docker-manifest-digest\":\"" D1 "\"},\"type\":\"other\"}}",
        "{\"critical\":{\"identity\":{\"docker-reference\":\"a\"},\"image\":{\"docker-manifest-digest\":\"sha256:x\"},\"type\":\"cosign container image signature\"}}",
        "{\"critical\":{\"identity\":{},\"image\":{\"docker-manifest-digest\":\"" D1 "\"},\"type\":\"cosign container image signature\"}}",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (cosign_payload_parse(bad[i], strlen(bad[i]), identity, digest, &err) == 0)
            fail_msg("accepted %s", bad[i]);
}

static void test_sign_verify(void **state)
{
    (void)state;
    struct error err = {0};
    EVP_PKEY *key = NULL, *pub = NULL, *other = NULL;
    assert_int_equal(cosign_private_key_load(priv_pem, strlen(priv_pem), "correct horse", &key, &err), 0);
    assert_int_equal(cosign_public_key_load(pub_pem, strlen(pub_pem), &pub, &err), 0);
    char *other_priv = NULL, *other_pub = NULL;
    assert_int_equal(cosign_keygen("", &other_priv, &other_pub, &err), 0);
    assert_int_equal(cosign_public_key_load(other_pub, strlen(other_pub), &other, &err), 0);

    const char *data = "payload bytes";
    char *sig = NULL;
    assert_int_equal(cosign_sign_data(key, data, strlen(data), &sig, &err), 0);
    assert_int_equal(cosign_verify_data(pub, data, strlen(data), sig, &err), 0);
    /* another key, other bytes, a damaged signature: all denied */
    assert_int_equal(cosign_verify_data(other, data, strlen(data), sig, &err), -1);
    assert_int_equal(err.kind, ERR_PERMISSION_DENIED);
    assert_int_equal(cosign_verify_data(pub, "payload byteS", 13, sig, &err), -1);
    char *bent = strdup(sig);
    bent[10] = bent[10] == 'A' ? 'B' : 'A';
    assert_int_equal(cosign_verify_data(pub, data, strlen(data), bent, &err), -1);
    assert_int_equal(cosign_verify_data(pub, data, strlen(data), "!!!", &err), -1);
    assert_int_equal(cosign_verify_data(pub, data, strlen(data), "", &err), -1);
    free(bent);
    free(sig);
    free(other_priv);
    free(other_pub);
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    EVP_PKEY_free(other);
    char tag[100];
    assert_int_equal(cosign_signature_tag(D1, tag, sizeof(tag)), 0);
    assert_string_equal(tag, "sha256-09f675d3409814231c2bd2c95c1d3f2b8e0c3e0f34e8baaf7258913db55515d9.sig");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_files),
        cmocka_unit_test(test_key_files_hostile),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_sign_verify),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
