/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: protocol_parse_request(), what the daemon runs on every
 * datagram a client sends (common/protocol.c). The fuzzer's buffer is passed
 * as is (no NUL after it), so a read past len is an ASan report. Every input
 * is tried with and without a passed descriptor; a valid request also goes
 * through the accessors the handlers use and an answer is built for it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_request(const Request *r)
{
        for (const FieldSpec *f = r->command->fields; f->name; f++) {
                const char *s = request_get_string(r, f->name, NULL);
                double d = request_get_number(r, f->name, 0);
                bool b = request_get_bool(r, f->name, false);

                /* The handlers rely on these: a present field is of its type and in range. */
                if (!request_has(r, f->name))
                        continue;
                if (f->type == FIELD_STRING && (!s || strlen(s) > f->max_len))
                        abort();
                if ((f->type == FIELD_NUMBER || f->type == FIELD_INTEGER) && !(d >= f->min && d <= f->max))
                        abort();
                (void) b;
        }
        free(protocol_reply_ok(NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        for (int has_fd = 0; has_fd < 2; has_fd++) {
                Request r = { 0 };
                char *message = NULL;
                ProtoError e;

                e = protocol_parse_request((const char *) data, size, false, has_fd, &r, &message);
                if (e == PROTO_OK) {
                        if (message || !r.command || !r.json)
                                abort();
                        if (has_fd && !r.command->takes_fd)
                                abort();
                        use_request(&r);
                        request_done(&r);
                } else {
                        /* Every refusal has a sentence, and it fits in a reply. */
                        char *reply;

                        if (!message || e >= _PROTO_E_MAX)
                                abort();
                        reply = protocol_reply_error(e, message);
                        if (!reply || strlen(reply) > PAMPROF_MESSAGE_MAX)
                                abort();
                        free(reply);
                }
                free(message);
        }
        return 0;
}
