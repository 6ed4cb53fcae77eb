/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the flight recorder's aggregator path (common/recorder):
 * Austin's stream, cut anywhere, into the stack ring (stack_ring_feed: the
 * lines, the parser, the interned frames and stacks, the per-second buckets
 * and their caps), then the window written as speedscope. The aggregator runs
 * exactly this on what Austin reads from PAM's memory.
 *
 * The first three bytes choose the ring (seconds, the distinct-stack cap, the
 * byte cap); then the input is fed in blocks of 1..64 bytes, the clock moving
 * on by 0..2 seconds a block (and, now and then, back: a late block).
 *
 * Checked besides the sanitizers:
 *  - the samples the ring counts add up (kept + late, other <= kept);
 *  - what the table holds stays under the byte cap;
 *  - the window's document is one ss_read_mem() accepts, with a profile for
 *    each thread the writer counted, and each thread's weights add up to the
 *    window's length (its seconds are placed on the window's clock);
 *  - freeing the ring leaves nothing (LeakSanitizer).
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "speedscope-read.h"
#include "stack-ring-internal.h"
#include "stack-ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_document(const StackRing *r, uint64_t first, unsigned n)
{
        StackRingWriteFacts facts;
        SsModel *m = NULL;
        char *doc = NULL, *error = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&doc, &len);

        if (!f)
                abort();
        if (stack_ring_write_speedscope(r, first, n, (long) (first % 7), NULL, NULL, f, &facts) != 0)
                abort();
        if (fclose(f) != 0)
                abort();
        if (ss_read_mem(doc, len, &m, &error) != 0) {
                fprintf(stderr, "not read back: %s\n", error ? error : "?");
                abort();
        }
        if (m->n_threads != facts.profiles)
                abort();
        if (n > r->o.seconds) /* the writer writes at most the ring's length */
                n = r->o.seconds;
        for (size_t i = 0; i < m->n_threads; i++) {
                double s = m->threads[i].seconds;
                /* each second at least a second; at most a µs an entry more (a weight never 0) */
                if (!(s > n - 1e-3) || !(s < n + 1e-3 + 1e-6 * (double) r->o.max_stacks * n * 2)) {
                        fprintf(stderr, "thread %zu: %.9f s in a window of %u\n", i, s, n);
                        abort();
                }
        }
        ss_model_free(m);
        free(error);
        free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        StackRingOptions o;
        StackRingStats st;
        StackRing *r = NULL;
        uint64_t second = 10, newest = 10;
        size_t i;

        if (size < 3 || size > 256 * 1024)
                return 0;
        o = (StackRingOptions){ .seconds = 2 + data[0] % 8,
                                .max_stacks = 1 + data[1] % 16,
                                .max_bytes = 256 + (size_t) data[2] * 32 };
        if (stack_ring_new(&o, &r) != 0)
                abort();
        for (i = 3; i < size;) {
                size_t block = 1 + data[i] % 64, n = block < size - i ? block : size - i;
                unsigned step = data[i] % 5;

                second = step == 4 && second > 3 ? second - 3 : second + step / 2; /* now and then, late */
                if (second > newest)
                        newest = second;
                if (stack_ring_feed(r, second, (const char *) data + i, n) != 0)
                        abort();
                i += n;
        }
        stack_ring_stats(r, &st);
        if (st.other_samples > st.samples || st.bad_lines > st.lines)
                abort();
        if (intern_bytes(&r->frames) + intern_bytes(&r->stacks) > o.max_bytes)
                abort();
        check_document(r, newest + 1 - o.seconds, o.seconds);
        check_document(r, newest - 1, 3); /* a window partly in the future */
        stack_ring_free(r);
        return 0;
}
