/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: Austin's text output to speedscope (common/austin-*.c).
 * Austin's samples carry what the target's memory says (file names,
 * function names), so this is a parser of outside input; its output then
 * goes to the speedscope reader, the report and the merge.
 *
 * Per input:
 *  - austin_convert() read in blocks of 1..64 bytes and in one 256 KiB block
 *    gives the same answer, facts and document (the block boundary is where
 *    a streaming reader goes wrong);
 *  - a document it writes is one the speedscope reader accepts, with as many
 *    samples as the conversion counted;
 *  - the input as a thread-names file parses, and a name written by
 *    austin_names_format() reads back the same.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "austin-convert.h"
#include "austin-names.h"
#include "speedscope-read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_of(const uint8_t *p, size_t n)
{
        int fd = memfd_create("fuzz-austin", MFD_CLOEXEC);

        if (fd < 0)
                abort();
        if (n > 0 && write(fd, p, n) != (ssize_t) n)
                abort();
        if (lseek(fd, 0, SEEK_SET) != 0)
                abort();
        return fd;
}

/* Converts with the given block size; the document in *ret (malloc'd), its length in *ret_len. */
static int convert(const uint8_t *data, size_t size, size_t block, const AustinNames *names,
                   AustinConvertFacts *facts, char **ret, size_t *ret_len)
{
        int in = memfd_of(data, size), out = memfd_of(NULL, 0), spool = memfd_of(NULL, 0), r;
        AustinConvertOptions o = { .names = names, .spool_fd = spool, .block_size = block };
        off_t len;

        memset(facts, 0, sizeof(*facts));
        r = austin_convert(in, out, &o, facts);
        len = lseek(out, 0, SEEK_END);
        if (len < 0)
                abort();
        *ret = malloc((size_t) len + 1);
        if (!*ret || pread(out, *ret, (size_t) len, 0) != len)
                abort();
        *ret_len = (size_t) len;
        close(in);
        close(out);
        close(spool);
        return r;
}

static void check_names(const uint8_t *data, size_t size)
{
        AustinNames names = { 0 };
        char line[512], name[64];
        size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

        if (austin_names_parse(&names, (const char *) data, size) < 0)
                abort();
        austin_names_done(&names);
        /* A name (any bytes but NUL) written and read back. */
        memcpy(name, data, n);
        name[n] = '\0';
        int k = austin_names_format(42, 43, name, line, sizeof(line));
        if (k < 0)
                return;
        names = (AustinNames){ 0 };
        if (austin_names_parse(&names, line, (size_t) k) < 0)
                abort();
        if (strlen(name) > 0) {
                const char *back = austin_names_lookup(&names, 42, 43);
                if (!back || strcmp(back, name) != 0)
                        abort();
        }
        austin_names_done(&names);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        AustinConvertFacts whole, blocks;
        char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0, block = size > 0 ? 1 + data[0] % 64 : 1;
        int ra, rb;

        if (size > 128 * 1024)
                return 0;
        ra = convert(data, size, 0, NULL, &whole, &a, &alen);
        rb = convert(data, size, block, NULL, &blocks, &b, &blen);
        if (ra != rb || whole.samples != blocks.samples || whole.gaps != blocks.gaps ||
            whole.lines != blocks.lines || whole.bad_lines != blocks.bad_lines ||
            whole.profiles != blocks.profiles || whole.cut != blocks.cut)
                abort();
        if (ra == 0 && (alen != blen || memcmp(a, b, alen) != 0))
                abort();
        if (ra == 0) {
                SsModel *m = NULL;
                char *error = NULL;

                /* what we write, we must read: every sample, and the empty ones that place threads in time */
                if (ss_read_mem(a, alen, &m, &error) != 0 || m->n_samples != whole.samples + whole.gaps)
                        abort();
                ss_model_free(m);
                free(error);
        }
        free(a);
        free(b);
        check_names(data, size);
        return 0;
}
