/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: plot_cpu_read() (common/plot-csv.c), the _cpu.csv
 * reader behind `pamprofctl plot FILE.csv` and the daemon's PNG at stop,
 * on any bytes: through fmemopen(), as the reader takes a FILE.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot-csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* csv_parse_double() has a fast path that claims to agree with strtod(); a
 * short input is also taken as one cell and the two are compared. */
static void check_number(const uint8_t *data, size_t size)
{
        char cell[64], *end;
        const char *p;
        size_t n;
        double v, w;

        if (size >= sizeof(cell) || memchr(data, '\0', size))
                return;
        memcpy(cell, data, size);
        cell[size] = '\0';
        if (csv_parse_double(cell, &v) != 0)
                return;
        for (p = cell; *p == ' ' || *p == '\t'; p++)
                ;
        n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
        memmove(cell, p, n);
        cell[n] = '\0';
        w = strtod(cell, &end);
        if (*end != '\0' || (!(isnan(v) && isnan(w)) && memcmp(&v, &w, sizeof(v)) != 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        PlotCpuData d = { 0 };
        char *error = NULL;
        FILE *f;
        int r;

        check_number(data, size);
        if (size == 0)
                return 0; /* fmemopen() wants a buffer */
        f = fmemopen((void *) data, size, "r");
        if (!f)
                return 0;
        r = plot_cpu_read(f, "fuzz_cpu.csv", &d, &error);
        fclose(f);
        if (r < 0) {
                if (!error && r != -ENOMEM)
                        abort();
                free(error);
                return 0;
        }
        /* What the renderer assumes of a successful read. */
        for (size_t i = 0; i < d.n; i++) {
                if (!isfinite(d.elapsed[i]) || d.elapsed[i] < 0 ||
                    (i > 0 && d.elapsed[i] < d.elapsed[i - 1]))
                        abort();
                if (!(isnan(d.cpu[i]) || (isfinite(d.cpu[i]) && d.cpu[i] >= 0)))
                        abort();
                if (!(isnan(d.mem[i]) || (isfinite(d.mem[i]) && d.mem[i] >= 0)))
                        abort();
        }
        free(error);
        plot_cpu_done(&d);
        return 0;
}
