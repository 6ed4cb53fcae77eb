/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: plot_render_fd() (common/plot.c), the whole of
 * `pamprofctl plot`: the three readers, then the scale maths (ticks, gaps,
 * decimation) and the Cairo drawing on whatever figures they let through,
 * at the smallest size, PNG written to /dev/null.
 *
 * Input: the _cpu.csv, optionally followed by "\n====\n" and the
 * _session.json, optionally followed by "\n====\n" and the _threads.csv.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "plot.h"

#define SEPARATOR "\n====\n"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int devnull = -1;

static int memfd_of(const char *name, const uint8_t *p, size_t n)
{
        int fd = memfd_create(name, MFD_CLOEXEC);

        if (fd < 0)
                abort();
        if (n > 0 && write(fd, p, n) != (ssize_t) n)
                abort();
        if (lseek(fd, 0, SEEK_SET) != 0)
                abort();
        return fd;
}

/* The next part of [*p, end): up to the separator or the end. */
static size_t next_part(const uint8_t **p, const uint8_t *end, const uint8_t **ret)
{
        const uint8_t *s = *p;
        const uint8_t *sep = memmem(s, (size_t) (end - s), SEPARATOR, strlen(SEPARATOR));

        *ret = s;
        if (!sep) {
                *p = end;
                return (size_t) (end - s);
        }
        *p = sep + strlen(SEPARATOR);
        return (size_t) (sep - s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const uint8_t *p = data, *end = data + size, *part;
        PlotOptions o = { .width = PLOT_SIZE_MIN,
                          .height = PLOT_SIZE_MIN,
                          .format = PLOT_FORMAT_PNG,
                          .source_name = "fuzz_cpu.csv" };
        PlotStats stats;
        char *error = NULL;
        int csv, session = -1, threads = -1, r;
        size_t n;

        if (size > 256 * 1024)
                return 0; /* long inputs only make it slow, not different */
        if (devnull < 0)
                devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        n = next_part(&p, end, &part);
        csv = memfd_of("cpu", part, n);
        if (p < end || (n < size)) {
                n = next_part(&p, end, &part);
                session = memfd_of("session", part, n);
                if (p < end) {
                        n = next_part(&p, end, &part);
                        threads = memfd_of("threads", part, n);
                }
        }
        r = plot_render_fd(csv, session, threads, devnull, &o, &stats, &error);
        if (getenv("FUZZ_VERBOSE"))
                fprintf(stderr, "plot_render_fd: %d %s; rows %zu, skipped %zu, warning \"%s\"\n", r,
                        error ? error : "", stats.rows, stats.skipped, stats.warning);
        if (r < 0 && !error && r != -ENOMEM)
                abort(); /* every failure has its sentence */
        /* The sink is /dev/null and the inputs are memfds: -EIO can only be
         * Cairo refusing what was drawn (an error state, e.g. text that is
         * not UTF-8), and then no image is written at all. */
        if (r == -EIO)
                abort();
        free(error);
        close(csv);
        if (session >= 0)
                close(session);
        if (threads >= 0)
                close(threads);
        return 0;
}
