/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: plot_threads_read() (common/plot-threads.c), the
 * _threads.csv reader of the per-thread panel. It reads its descriptor
 * twice, so the input goes into a memfd (seekable, no disk).
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "plot-threads.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PlotThreads t = { 0 };
        char *error = NULL;
        int fd, r;

        fd = memfd_create("fuzz-threads", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        if (size > 0 && write(fd, data, size) != (ssize_t) size)
                abort();
        if (lseek(fd, 0, SEEK_SET) != 0)
                abort();
        /* The renderer's arguments: a 0..120 s axis in 200 columns, gaps over 2.5 s, the top 6. */
        r = plot_threads_read(fd, 0, 120, 200, 2.5, 6, &t, &error);
        close(fd);
        if (r < 0) {
                if (!error && r != -ENOMEM)
                        abort();
                free(error);
                return 0;
        }
        if (t.n_top > 6 || t.n_top > t.n_threads || t.rows == 0)
                abort();
        for (size_t i = 0; i < t.n_top; i++) {
                char label[96];

                /* Not isfinite(): the reader takes any finite figure, so a sum
                 * of two 1e308 rows is inf (reported; the CPU reader caps at FLT_MAX). */
                if (isnan(t.top[i].mean) || t.top[i].mean < 0)
                        abort();
                (void) plot_thread_label(&t.top[i], label, sizeof(label));
        }
        free(error);
        plot_threads_done(&t);
        return 0;
}
