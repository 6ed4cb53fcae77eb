/* SPDX-License-Identifier: MIT */
#include "profile-coverage.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"

Coverage coverage_compute(const CoverageSpan *spans, size_t n, usec_t session_start, usec_t session_end)
{
        Coverage c = { 0 };
        usec_t sum = 0;

        for (size_t i = 0; i < n; i++) {
                usec_t a = spans[i].start > session_start ? spans[i].start : session_start;
                usec_t b = spans[i].end == 0 || spans[i].end > session_end ? session_end : spans[i].end;
                if (b > a)
                        sum += b - a;
        }
        c.session_seconds = session_end > session_start ? (double) (session_end - session_start) / 1e6 : 0;
        c.profiled_seconds = (double) sum / 1e6;
        c.ratio = c.session_seconds > 0 ? fmin(1.0, c.profiled_seconds / c.session_seconds) : 1.0;
        return c;
}

static void add(char *buf, size_t size, size_t *len, const char *fmt, ...) _printf_(4, 5);
static void add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
        va_list ap;
        int k;

        if (*len >= size)
                return;
        va_start(ap, fmt);
        k = vsnprintf(buf + *len, size - *len, fmt, ap);
        va_end(ap);
        if (k > 0)
                *len += (size_t) k;
}

void coverage_warning(const Coverage *c, const CoverageFacts *f, char *buf, size_t size)
{
        size_t len = 0, reasons = 0;
        const char *who = f->sampler ? f->sampler : "the profiler";

        buf[0] = '\0';
        if (c->ratio >= COVERAGE_WARN)
                return;
        /* Rounded down: 89.7 % must not read "90 %" beside a warning that it is under 90. */
        add(buf, size, &len, "profile covers %.0f %% of the session (%.1f of %.1f s)", floor(c->ratio * 100),
            c->profiled_seconds, c->session_seconds);
        if (f->early_exits > 0) {
                add(buf, size, &len, "%s%s stopped early %u time%s", reasons++ ? "; " : ": ", who,
                    f->early_exits, f->early_exits == 1 ? "" : "s");
                add(buf, size, &len, "%s", f->gave_up_after ? "" : " and was restarted");
        }
        if (f->failed_runs > 0)
                add(buf, size, &len, "%s%u of its runs failed", reasons++ ? "; " : ": ", f->failed_runs);
        if (f->gave_up_after)
                add(buf, size, &len, "%sit was not started again after failing %u times in a row",
                    reasons++ ? "; " : ": ", f->gave_up_after);
        if (f->absent_seconds >= 0.5)
                add(buf, size, &len, "%sPAM was not running for %.0f s", reasons++ ? "; " : ": ",
                    f->absent_seconds);
        if (f->capped)
                add(buf, size, &len, "%smax_profile_mb stopped it", reasons++ ? "; " : ": ");
        if (f->runs_max)
                add(buf, size, &len, "%sthe session reached the most runs pamprofd keeps",
                    reasons++ ? "; " : ": ");
        add(buf, size, &len, "; see journalctl -u pamprofd");
}
