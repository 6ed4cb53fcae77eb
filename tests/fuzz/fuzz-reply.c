/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: protocol_parse_reply(), what pamprofctl runs on every
 * datagram from the socket it was pointed at (--socket may name anything).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        cJSON *root = NULL, *body = NULL;
        bool ok = false;
        int r;

        r = protocol_parse_reply((const char *) data, size, &root, &ok, &body);
        if (r == 0) {
                const cJSON *code = cJSON_GetObjectItemCaseSensitive(body, "code");

                if (!root || !cJSON_IsObject(body))
                        abort();
                if (!ok && cJSON_IsString(code))
                        (void) proto_error_from_string(code->valuestring);
                cJSON_Delete(root);
        } else if (root)
                abort();
        return 0;
}
