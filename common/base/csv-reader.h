/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one reader of a session's CSVs (_cpu.csv, _threads.csv), for the plot,
 * the report and recovery after a crash. One RFC 4180 record at a time:
 * quoted fields may hold commas, doubled quotes and newlines; CRLF and LF
 * both end a record. Columns are found by name, so their order does not
 * matter and extra ones are ignored. The reader never fails on what it
 * reads, only on I/O and memory: a record it cannot trust is returned
 * marked `malformed` (the caller skips and counts it), and a last record
 * that ends without a newline (the row being written when the daemon died)
 * is marked `unterminated`. An empty cell is "no figure": csv_figure()
 * gives NAN for it, never a reason to drop the row.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* A record longer than this (a runaway quote, a binary file) is cut at its next newline and
 * marked malformed; what is kept of it stays within this many bytes. */
#define CSV_RECORD_MAX (64 * 1024)

typedef struct CsvReader {
        FILE *f;  /* read ahead of the record: the reader's until csv_reader_done() */
        char *in; /* what was read ahead */
        size_t in_pos, in_len;
        bool error;
        char *buf; /* the record's fields, each NUL-terminated */
        size_t len, cap;
        char **fields; /* into buf */
        size_t nfields, fields_cap;
        unsigned long line_no; /* line the current record starts on, from 1 */
        unsigned long next_line;
        bool malformed;    /* broken quoting, a NUL byte, or over CSV_RECORD_MAX */
        bool unterminated; /* it ends at the end of the file without a newline */
} CsvReader;

void csv_reader_init(CsvReader *r, FILE *f);
/* 1: a record is in r->fields (r->malformed tells if it is usable); 0: end; -EIO, -ENOMEM. */
int csv_reader_next(CsvReader *r);
void csv_reader_done(CsvReader *r);

/* Index of the column named name (spaces and a UTF-8 byte-order mark ignored), or -1. */
int csv_column(const CsvReader *r, const char *name);
/* An empty line: one field, blank. */
bool csv_blank(const CsvReader *r);

/* s without its leading and trailing spaces and tabs: the start, and the length in *ret_len. */
const char *csv_trim(const char *s, size_t *ret_len);
/* A cell as a number, in the C locale: 0 and the value; -ENODATA for an empty cell; -EINVAL otherwise. */
int csv_parse_double(const char *s, double *ret);
/*
 * The figure in column col of the current record: 0 and a finite number;
 * -ENODATA and NAN when the cell is empty or the column absent (col < 0);
 * -EINVAL and NAN when it is text, infinite or NaN.
 */
int csv_figure(const CsvReader *r, int col, double *ret);
