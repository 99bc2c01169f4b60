/* libFuzzer harness for everything the OCI client parses from a peer:
 * image references, manifests, indexes, guest config blobs, cosign
 * payloads, Bearer challenges and Content-Range values. The first byte
 * picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/internal.h"

static struct oci_index idx;
static struct oci_manifest man;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t which = data[0];
    data++;
    size--;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct error err;
    switch (which % 7) {
    case 0: {
        struct oci_ref ref;
        if (oci_ref_parse(text, &ref, &err) == 0) {
            char buf[1200];
            oci_ref_format(&ref, buf, sizeof(buf));
            oci_ref_identity(&ref, buf, sizeof(buf));
            oci_ref_is_loopback(&ref);
            /* a formatted reference parses back to the same thing */
            struct oci_ref again;
            oci_ref_format(&ref, buf, sizeof(buf));
            if (oci_ref_parse(buf, &again, &err) != 0 || memcmp(&ref, &again, sizeof(ref)) != 0)
                abort();
        }
        break;
    }
    case 1:
        if (oci_index_parse(text, size, &idx, &err) == 0)
            oci_index_release(&idx);
        break;
    case 2:
        if (oci_manifest_parse(text, size, &man, &err) == 0) {
            oci_manifest_check_guest(&man, &err);
            for (size_t i = 0; i < man.layer_count; i++)
                oci_layer_file_name(&man.layers[i]);
            oci_manifest_release(&man);
        }
        break;
    case 3: {
        struct oci_guest_config cfg;
        if (oci_guest_config_parse(text, size, &cfg, &err) == 0)
            oci_guest_config_release(&cfg);
        break;
    }
    case 4: {
        char identity[512], digest[72];
        cosign_payload_parse(text, size, identity, digest, &err);
        break;
    }
    case 5: {
        struct oci_bearer_challenge c;
        oci_bearer_challenge_parse(text, &c, &err);
        break;
    }
    case 6: {
        uint64_t s, e;
        if (oci_content_range_parse(text, &s, &e, &err) == 0 && e < s)
            abort();
        char mt[128];
        oci_document_media_type(text, size, mt, &err);
        break;
    }
    }
    free(text);
    return 0;
}
