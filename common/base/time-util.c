/* SPDX-License-Identifier: MIT */
#include "time-util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>

usec_t timespec_load(const struct timespec *ts)
{
        return (usec_t) ts->tv_sec * USEC_PER_SEC + (usec_t) ts->tv_nsec / NSEC_PER_USEC;
}

usec_t now(clockid_t clock)
{
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                abort(); /* only with a bad clock id: a programming error */
        return timespec_load(&ts);
}

int format_iso8601(usec_t realtime, char *buf, size_t size)
{
        time_t sec = (time_t) (realtime / USEC_PER_SEC);
        unsigned ms = (unsigned) ((realtime % USEC_PER_SEC) / USEC_PER_MSEC);
        struct tm tm;
        char date[32], zone[8];
        int n;

        if (!localtime_r(&sec, &tm))
                return -EINVAL;
        if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0 ||
            strftime(zone, sizeof(zone), "%z", &tm) != 5)
                return -EINVAL;
        /* %z gives +0100; ISO 8601 extended format wants +01:00. */
        n = snprintf(buf, size, "%s.%03u%.3s:%.2s", date, ms, zone, zone + 3);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}

int format_file_stamp(usec_t realtime, char *buf, size_t size)
{
        time_t sec = (time_t) (realtime / USEC_PER_SEC);
        struct tm tm;

        if (!localtime_r(&sec, &tm))
                return -EINVAL;
        if (strftime(buf, size, "%Y%m%d_%H%M%S", &tm) == 0)
                return -ENOBUFS;
        return 0;
}

int format_duration(usec_t usec, char *buf, size_t size)
{
        uint64_t s = usec / USEC_PER_SEC;
        int n;

        if (s >= 3600)
                n = snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m%02" PRIu64 "s", s / 3600, s / 60 % 60,
                             s % 60);
        else if (s >= 60)
                n = snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
        else
                n = snprintf(buf, size, "%" PRIu64 "s", s);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

int parse_seconds(const char *s, usec_t *ret)
{
        char *end;
        double v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || end == s || !isfinite(v))
                return -EINVAL;
        if (v < 0 || v > 1e9)
                return -ERANGE;
        *ret = (usec_t) llround(v * (double) USEC_PER_SEC);
        return 0;
}
