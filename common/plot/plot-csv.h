/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reading a session's _cpu.csv for the plot (through csv-reader.h): by
 * column name, tolerant of the seed's five-column files, of CRLF and of a
 * UTF-8 BOM. A row that
 * cannot be trusted (wrong field count, text where a number belongs, a
 * negative or non-finite figure, time going backwards) is skipped and
 * counted, never fatal. An empty cell is "not measured" (NAN).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cleanup.h"
#include "csv-reader.h" /* the one reader of the session's CSVs */

typedef struct PlotCpuData {
        size_t n, cap;
        double *elapsed; /* seconds, non-decreasing */
        /* Figures as float: 7 digits are more than a plot shows, and a day of rows stays small. */
        float *cpu;      /* cpu_percent, NAN: not measured */
        float *mem;      /* memory_mb */
        float *prof_cpu; /* profiler_cpu_percent; NULL when the column is absent */
        int32_t *pid;    /* pid; NULL when absent; 0 when empty */
        size_t skipped;
        unsigned long first_skipped_line;
        char first_skip_reason[96];
        char first_timestamp[48]; /* verbatim, "" when none */
        char last_timestamp[48];
        bool has_cpu, has_mem; /* the columns exist */
} PlotCpuData;

/*
 * Reads a _cpu.csv from f. 0 (possibly with n == 0: the caller decides);
 * -EBADMSG when the header is not ours; -ENOMEM, -EIO. *ret_error gets a
 * sentence about "what" (e.g. "pam_x_cpu.csv") on failure when non-NULL.
 */
int plot_cpu_read(FILE *f, const char *what, PlotCpuData *ret, char **ret_error);
void plot_cpu_done(PlotCpuData *d);

/* Sets *ret_error (when non-NULL) to a formatted, malloc'd sentence; returns r. */
int plot_error(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);
