/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the streaming speedscope reader (common/speedscope-*.c)
 * behind `pamprofctl report` and the profile merge: py-spy's files, or any
 * file handed to the client.
 *
 * Two checks per input:
 *  - ss_read_mem(), then a walk of the model it built: every index it holds
 *    (parent, frame, function, thread, run node) points inside its array;
 *  - the JSON lexer read from a memfd in blocks of 1 to 16 bytes gives
 *    exactly the tokens, strings, numbers and errors it gives on the whole
 *    buffer (the block boundary is where a streaming lexer goes wrong);
 *    every other array goes through json_lex_uint_array() on both sides.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "speedscope-lex.h"
#include "speedscope-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_model(const SsModel *m)
{
        for (size_t i = 0; i < m->n_frames; i++)
                if (!m->frames[i].name || !m->frames[i].file || m->frames[i].func >= m->n_funcs)
                        abort();
        for (size_t i = 0; i < m->n_nodes; i++) {
                const SsNode *n = &m->nodes[i];

                if ((n->parent != SS_NONE && n->parent >= m->n_nodes) ||
                    (n->frame != SS_NONE && n->frame >= m->n_frames) || n->thread >= m->n_threads)
                        abort();
                if (n->parent != SS_NONE && m->nodes[n->parent].depth + 1 != n->depth)
                        abort();
        }
        for (size_t i = 0; i < m->n_threads; i++) {
                const SsThread *t = &m->threads[i];
                long pid, tid;
                char *name = NULL;

                if (t->root >= m->n_nodes)
                        abort();
                for (size_t k = 0; k < t->n_runs; k++) {
                        if (t->runs[k].node >= m->n_nodes || m->nodes[t->runs[k].node].thread != i)
                                abort();
                        (void) ss_run_seconds(t, k);
                }
                if (t->profile_name) {
                        ss_parse_thread_name(t->profile_name, &pid, &tid, &name);
                        free(name);
                }
        }
}

static bool same_double(double a, double b)
{
        return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_streaming(const uint8_t *data, size_t size)
{
        JsonLexer whole, blocks;
        size_t block = size > 0 ? 1 + data[size - 1] % 16 : 1;
        unsigned arrays = 0;
        uint32_t *ua = NULL, *ub = NULL;
        size_t ca = 0, cb = 0;
        int fd;

        fd = memfd_create("fuzz-speedscope", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (size > 0 && write(fd, data, size) != (ssize_t) size)
                abort();
        if (lseek(fd, 0, SEEK_SET) != 0)
                abort();
        json_lexer_init_mem(&whole, (const char *) data, size);
        if (json_lexer_init_fd(&blocks, fd, block) < 0)
                abort();
        for (size_t steps = 0; steps <= size + 1; steps++) {
                JsonTok a = json_lex_next(&whole), b = json_lex_next(&blocks);

                if (a != b)
                        abort();
                if (a == JSON_TOK_STRING &&
                    (whole.str_len != blocks.str_len || memcmp(whole.str, blocks.str, whole.str_len) != 0))
                        abort();
                if (a == JSON_TOK_NUMBER &&
                    (!same_double(whole.num, blocks.num) || whole.num_is_uint != blocks.num_is_uint ||
                     (whole.num_is_uint && whole.num_uint != blocks.num_uint)))
                        abort();
                if (a == JSON_TOK_ERROR &&
                    (whole.error != blocks.error || strcmp(whole.message, blocks.message) != 0))
                        abort();
                if (a == JSON_TOK_ARR_OPEN && arrays++ % 2 == 1) {
                        long na = json_lex_uint_array(&whole, &ua, &ca, 4096);
                        long nb = json_lex_uint_array(&blocks, &ub, &cb, 4096);

                        if (na != nb || (na > 0 && memcmp(ua, ub, (size_t) na * sizeof(uint32_t)) != 0))
                                abort();
                        /* Codes only: its messages give the offset of the last item
                         * boundary or of the block, not of the offending byte
                         * (reported; "[[4,3,2,1mat" says byte 63 whole, 64 in
                         * 2-byte blocks, for the 'm' at 65). */
                        if (na < 0 && whole.error != blocks.error)
                                abort();
                        if (na < 0)
                                break;
                }
                if (a == JSON_TOK_END || a == JSON_TOK_ERROR)
                        break;
        }
        free(ua);
        free(ub);
        json_lexer_done(&whole);
        json_lexer_done(&blocks);
        close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        SsModel *m = NULL;
        char *error = NULL;
        int r;

        r = ss_read_mem((const char *) data, size, &m, &error);
        if (r == 0) {
                if (!m)
                        abort();
                check_model(m);
                ss_model_free(m);
        } else if (r != -ENOMEM && !error)
                abort(); /* a refusal says which and where */
        free(error);
        check_streaming(data, size);
        return 0;
}
