/* libFuzzer harness for the init's check of the root filesystem disk's
 * first bytes (an erofs superblock) against the disk's size: whatever the
 * disk holds, the check answers without reading past what it was given, and
 * it accepts only a disk that holds every block the superblock counts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t device_bytes;
    memcpy(&device_bytes, data, sizeof(device_bytes));
    data += 8;
    size -= 8;
    /* an exact-size copy, so ASan sees any read past it */
    uint8_t *head = malloc(size ? size : 1);
    if (head == NULL)
        return 0;
    memcpy(head, data, size);
    char why[256];
    int r = guest_rootfs_check(head, size, device_bytes, why, sizeof(why));
    if (r == 0) {
        const uint8_t *sb = head + GUEST_EROFS_SB_OFFSET;
        uint32_t blocks = (uint32_t)sb[36] | (uint32_t)sb[37] << 8 | (uint32_t)sb[38] << 16 | (uint32_t)sb[39] << 24;
        if (size < GUEST_EROFS_SB_OFFSET + 40 || sb[12] < 9 || sb[12] > 16 || blocks == 0 ||
            ((uint64_t)blocks << sb[12]) > device_bytes)
            abort();
    } else if (r != -22 || why[0] == '\0') {
        abort();
    }
    free(head);
    return 0;
}
