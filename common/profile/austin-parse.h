/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Austin's text output, one line at a time (pure: no I/O, no allocation).
 *
 * What Austin 3.7 writes with -o FILE (src/events.h, src/logging.h,
 * src/argparse.c, src/austin.c):
 *
 *     # austin: 3.7.0                 metadata: "# key: value"
 *     # interval: 10000               (µs)
 *     # mode: wall                    wall | cpu (-s) | memory (-m) | full (-f)
 *     # python: 3.11.2
 *                                     an empty line ends the header
 *     P<pid>;T<iid>:<tid>;<file>:<qualname>:<line>;... <metric>
 *     ...
 *                                     an empty line, then the trailer,
 *     # duration: 1990271             written only when Austin ends cleanly
 *     # sampling: 11,25,662           (SIGINT, SIGTERM, the target's exit)
 *     # saturation: 0/392
 *     # errors: 0/392
 *
 * A sample line is one thread's stack, root first, leaf last; the metric
 * after the last space is the time since the previous sample in µs (wall and
 * cpu modes), "time,idle,memory" in full mode, a signed byte delta in memory
 * mode. The pid and tids are decimal: tid is the kernel's thread id, so the
 * main thread's tid is the pid. Special frames: ":INVALID:" (a frame Austin
 * could not read) and ":GC:" (the collector ran). File names hold anything
 * ("<frozen runpy>", spaces, colons), qualnames hold dots and angle brackets
 * ("Worker.run.<locals>.<lambda>"), so a frame is split from the right.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum AustinMode {
        AUSTIN_MODE_UNKNOWN,
        AUSTIN_MODE_WALL,
        AUSTIN_MODE_CPU,
        AUSTIN_MODE_MEMORY,
        AUSTIN_MODE_FULL,
} AustinMode;

typedef struct AustinMeta {
        char version[32]; /* "3.7.0", "" when not seen */
        char python[32];
        uint64_t interval_us;
        AustinMode mode;
        bool multiprocess;
        bool has_duration; /* the trailer: Austin ended cleanly */
        uint64_t duration_us;
} AustinMeta;

typedef struct AustinSample {
        long pid, iid, tid;
        const char *frames; /* "file:scope:line;file:scope:line", no leading ';'; may be empty */
        size_t frames_len;
        uint64_t time_us; /* the time metric (0 in memory mode) */
        bool idle;        /* full mode only */
} AustinSample;

typedef enum AustinLine {
        AUSTIN_LINE_EMPTY,
        AUSTIN_LINE_META,
        AUSTIN_LINE_SAMPLE,
} AustinLine;

/*
 * One line, without its newline. Metadata lines update *meta (known keys;
 * others are ignored). Returns the kind, or -EBADMSG for a line that is none.
 */
int austin_parse_line(const char *line, size_t len, AustinMeta *meta, AustinSample *ret);

typedef struct AustinFrame {
        const char *file, *scope;
        size_t file_len, scope_len;
        long line; /* -1: none */
} AustinFrame;

/* The next ';'-separated frame text of a sample's frames, advancing *p; false at the end. */
bool austin_next_frame(const char **p, const char *end, const char **ret, size_t *ret_len);

/* Splits "file:scope:line" from the right. -EBADMSG without two colons. */
int austin_parse_frame(const char *s, size_t len, AustinFrame *ret);
