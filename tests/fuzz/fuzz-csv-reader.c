/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the one reader of the session's CSVs (common/base/csv-reader.c), behind the
 * plot, the report and recovery after a crash, on any bytes through fmemopen(). Checks what its
 * callers rely on: every record has at least one field, each a NUL-terminated string inside the
 * record's buffer; memory stays within CSV_RECORD_MAX; lines only go forward; a figure is finite
 * or NAN; only the last record can be unterminated.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_record(const CsvReader *r)
{
        if (r->nfields == 0 && !r->malformed)
                abort();
        if (r->cap > CSV_RECORD_MAX + 1 || r->len > r->cap)
                abort();
        for (size_t i = 0; i < r->nfields; i++) {
                const char *s = r->fields[i];
                double v;
                int k;

                if (s < r->buf || s >= r->buf + r->cap || strlen(s) >= (size_t) (r->buf + r->cap - s))
                        abort();
                k = csv_figure(r, (int) i, &v);
                if ((k == 0 && !isfinite(v)) || (k < 0 && !isnan(v)))
                        abort();
                if (k != 0 && k != -ENODATA && k != -EINVAL)
                        abort();
        }
        (void) csv_column(r, "elapsed_seconds");
        (void) csv_blank(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        CsvReader r;
        unsigned long line = 0;
        bool ended = false;
        FILE *f;
        int k;

        if (size == 0)
                return 0; /* fmemopen() wants a buffer */
        f = fmemopen((void *) data, size, "r");
        if (!f)
                return 0;
        csv_reader_init(&r, f);
        while ((k = csv_reader_next(&r)) > 0) {
                if (ended || r.line_no <= line || r.next_line < r.line_no)
                        abort();
                line = r.line_no;
                ended = r.unterminated;
                check_record(&r);
        }
        if (k < 0 && k != -ENOMEM)
                abort();
        csv_reader_done(&r);
        fclose(f);
        return 0;
}
