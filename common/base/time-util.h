/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One unit of time throughout: microseconds, as sd-event uses. */
typedef uint64_t usec_t;

#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define NSEC_PER_SEC ((uint64_t) 1000000000ULL)

usec_t now(clockid_t clock);
usec_t timespec_load(const struct timespec *ts);

/* "2026-11-27T20:34:10.123+00:00": ISO 8601, milliseconds, UTC offset. */
#define ISO8601_MAX 40
int format_iso8601(usec_t realtime, char *buf, size_t size);

/* "20261127_203410": the seed's file-name stamp, local time. */
int format_file_stamp(usec_t realtime, char *buf, size_t size);

/* "1h02m03s", "4m05s", "12s": for people. */
int format_duration(usec_t usec, char *buf, size_t size);

/* Parses "1", "0.5", "2.25" (seconds) into usec; -EINVAL, -ERANGE. */
int parse_seconds(const char *s, usec_t *ret);
