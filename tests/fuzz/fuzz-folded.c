/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: a speedscope file as folded stacks (common/profile/folded.c), what the
 * daemon's spool child writes for Pyroscope from the profile of a session, whose names are what
 * PAM's memory says. Per input, read by ss_read_mem(), folded with every stack and again with
 * every other stack left out as idle:
 *  - no line is longer than FOLDED_LINE_MAX (Pyroscope drops the rest of an upload after one);
 *  - every line is "root;...;leaf COUNT": no control byte, the count after the last space a
 *    positive integer, the frames between ';' never empty;
 *  - the counts add up to the model's samples per thread, less what was left out, and the
 *    stats say what was written.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"
#include "speedscope-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool every_other(const SsModel *m, uint32_t node, void *userdata)
{
        return node % 2 == 1;
}

static void check_line(const char *line, size_t len, uint64_t *ret_count)
{
        const char *space = memrchr(line, ' ', len);
        char *end;
        uint64_t n;

        if (len + 1 > FOLDED_LINE_MAX || !space || space == line)
                abort();
        for (const char *p = line; p < line + len; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        abort();
        if (line[0] == ';' || space[-1] == ';' || memmem(line, (size_t) (space - line), ";;", 2))
                abort(); /* an empty frame */
        n = strtoull(space + 1, &end, 10);
        if (end != line + len || n == 0 || space[1] < '1' || space[1] > '9')
                abort();
        *ret_count = n;
}

static void check(const SsModel *m, FoldedSkipFunc skip)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        FoldedStats st;
        uint64_t sum = 0, lines = 0, all = 0;

        if (!f)
                abort();
        if (folded_write(m, skip, NULL, f, &st) < 0)
                abort(); /* memory only: nothing to fail but malloc, which the fuzzer does not */
        fclose(f);
        for (size_t at = 0; at < len;) {
                const char *nl = memchr(text + at, '\n', len - at);
                uint64_t n;
                if (!nl)
                        abort(); /* every line ends */
                check_line(text + at, (size_t) (nl - text - at), &n);
                sum += n;
                lines++;
                at = (size_t) (nl - text) + 1;
        }
        for (size_t i = 0; i < m->n_nodes; i++)
                all += m->nodes[i].thread < m->n_threads ? m->nodes[i].self_n : 0;
        if (st.bytes != len || st.lines != lines || st.samples != sum || sum + st.skipped != all)
                abort();
        if (!skip && st.skipped != 0)
                abort();
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        SsModel *m = NULL;
        char *error = NULL;

        if (size > 512 * 1024)
                return 0;
        if (ss_read_mem((const char *) data, size, &m, &error) >= 0) {
                check(m, NULL);
                check(m, every_other);
        }
        ss_model_free(m);
        free(error);
        return 0;
}
