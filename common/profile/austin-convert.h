/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Austin's text output to a speedscope document of the shape py-spy writes:
 * shared frames de-duplicated, one sampled profile per (pid, thread) named
 * as py-spy names it (austin-names.h), unit seconds, each sample weighted by
 * Austin's own time metric (µs → s), so a late sample counts for the time it
 * really stood for, not a nominal 1/rate.
 *
 * Streaming, in one pass: Austin writes about 0.5 GB an hour at 10 ms in
 * wall mode, and the daemon runs on a Raspberry Pi. Lines are read in
 * blocks; each profile's samples and weights are written as JSON text into
 * small buffers that spill into a scratch file, copied out profile by
 * profile at the end. Memory grows with the number of distinct frames and
 * threads, not with samples.
 *
 * Each thread is placed on the session's clock (Austin's lines are in time
 * order): a thread born mid-session starts with an empty sample as long as
 * the time before it, and a stretch in which it was not sampled is such a
 * gap too, so speedscope's Time Order view shows it when it ran. A sample
 * whose thread id is garbage (a failed read) belongs to no thread: it is
 * counted and left out.
 *
 * Only whole lines count: a file cut by SIGKILL mid-line converts up to its
 * last newline. A line that is not Austin's is skipped and counted.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "austin-names.h"
#include "austin-parse.h"

typedef struct AustinConvertOptions {
        const AustinNames *names; /* thread names; NULL: tids only (and MainThread) */
        bool process_prefix;      /* "Process PID Thread ..." as py-spy with --subprocesses */
        int spool_fd;             /* a scratch file (empty, read-write); -1: tmpfile() */
        size_t block_size;        /* read size; 0: 256 KiB (tests use tiny blocks) */
        const char *exporter;     /* NULL: "pamprofd from austin VERSION", from its header */
} AustinConvertOptions;

typedef struct AustinConvertFacts {
        AustinMeta meta;
        uint64_t bytes;                                     /* read */
        uint64_t bytes_used;                                /* up to the end of the last whole line */
        uint64_t lines, samples, bad_lines, first_bad_line; /* lines are 1-based */
        uint64_t garbage_samples; /* left out: the thread id was garbage (not in samples) */
        uint64_t gaps;            /* empty samples written for time a thread was not seen (not in samples) */
        size_t profiles, frames;
        double seconds;    /* the longest profile's weights: the run's length on its clock */
        bool cut;          /* the file ends inside a line */
        char message[200]; /* why it failed */
} AustinConvertFacts;

/*
 * Reads in_fd from its current offset to its end and writes the document to
 * out_fd. -EBADMSG when the input is not Austin's text, -EMEDIUMTYPE for its
 * binary (MOJO) format, -ENOTSUP for memory mode (its metric is bytes, not
 * time); the reason in ret->message. An input without a sample gives a
 * valid document with no profiles, as py-spy writes one.
 */
int austin_convert(int in_fd, int out_fd, const AustinConvertOptions *o, AustinConvertFacts *ret);
