/* SPDX-License-Identifier: MIT */
#include "metrics-text.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"

static const char *const outcome_names[_METRICS_OUTCOME_MAX] = {
        [METRICS_OUTCOME_STOPPED] = "stopped",
        [METRICS_OUTCOME_FAILED] = "failed",
        [METRICS_OUTCOME_INTERRUPTED] = "interrupted",
};

const char *metrics_outcome_to_string(MetricsOutcome o)
{
        return o >= 0 && o < _METRICS_OUTCOME_MAX ? outcome_names[o] : NULL;
}

typedef struct Out {
        char *buf;
        size_t size, len;
        bool full;
} Out;

static void out_add(Out *o, const char *fmt, ...) _printf_(2, 3);
static void out_add(Out *o, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (o->full)
                return;
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= o->size - o->len) {
                o->full = true;
                return;
        }
        o->len += (size_t) n;
}

static void out_head(Out *o, const char *name, const char *type, const char *help)
{
        out_add(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A seconds figure: finite and not negative, else 0 (a counter must not go below 0). */
static double seconds(double s)
{
        return isfinite(s) && s > 0 ? s : 0;
}

/* A label value, escaped as the exposition format asks (backslash, quote, newline), truncated. */
static void label_escape(const char *s, char *buf, size_t size)
{
        size_t j = 0;

        for (; s && *s && j + 3 < size; s++) {
                if (*s == '\\' || *s == '"') {
                        buf[j++] = '\\';
                        buf[j++] = *s;
                } else if (*s == '\n') {
                        buf[j++] = '\\';
                        buf[j++] = 'n';
                } else
                        buf[j++] = *s;
        }
        buf[j] = '\0';
}

static void format_pam(Out *o, const MetricsFigures *f)
{
        out_head(o, "pamprofd_pam_up", "gauge",
                 "Whether PAM (the Petal App Manager) is running (1) or not (0).");
        out_add(o, "pamprofd_pam_up %d\n", f->pam_up ? 1 : 0);
        out_head(o, "pamprofd_pam_restarts_total", "counter",
                 "Times PAM was seen again under a new pid since pamprofd started.");
        out_add(o, "pamprofd_pam_restarts_total %" PRIu64 "\n", f->pam_restarts);
        if (!f->pam_up || !f->have_pam)
                return;
        out_head(o, "pamprofd_pam_cpu_seconds_total", "counter",
                 "CPU time PAM's process has used since it started, by mode.");
        out_add(o, "pamprofd_pam_cpu_seconds_total{mode=\"user\"} %.2f\n", seconds(f->pam_cpu_user_seconds));
        out_add(o, "pamprofd_pam_cpu_seconds_total{mode=\"system\"} %.2f\n",
                seconds(f->pam_cpu_system_seconds));
        out_head(o, "pamprofd_pam_rss_bytes", "gauge", "PAM's resident set size.");
        out_add(o, "pamprofd_pam_rss_bytes %" PRIu64 "\n", f->pam_rss_bytes);
        if (f->have_pam_pss) {
                out_head(o, "pamprofd_pam_pss_bytes", "gauge",
                         "PAM's proportional set size (shared pages divided among their users).");
                out_add(o, "pamprofd_pam_pss_bytes %" PRIu64 "\n", f->pam_pss_bytes);
        }
        out_head(o, "pamprofd_pam_threads", "gauge", "Threads of PAM's process.");
        out_add(o, "pamprofd_pam_threads %" PRIu64 "\n", f->pam_threads);
}

static void format_sessions(Out *o, const MetricsFigures *f)
{
        out_head(o, "pamprofd_session_running", "gauge",
                 "Whether a profiling session is running (1) or not (0).");
        out_add(o, "pamprofd_session_running %d\n", f->session_running ? 1 : 0);
        if (f->have_profiler) {
                out_head(
                        o, "pamprofd_profiler_cpu_seconds_total", "counter",
                        "CPU time the running session's profiler (py-spy, Austin) has used since it started.");
                out_add(o, "pamprofd_profiler_cpu_seconds_total %.2f\n", seconds(f->profiler_cpu_seconds));
                out_head(o, "pamprofd_profiler_rss_bytes", "gauge",
                         "Resident set size of the running session's profiler.");
                out_add(o, "pamprofd_profiler_rss_bytes %" PRIu64 "\n", f->profiler_rss_bytes);
        }
        out_head(o, "pamprofd_sessions_total", "counter",
                 "Profiling sessions ended since pamprofd started, by how they ended.");
        for (int i = 0; i < _METRICS_OUTCOME_MAX; i++)
                out_add(o, "pamprofd_sessions_total{outcome=\"%s\"} %" PRIu64 "\n", outcome_names[i],
                        f->sessions[i]);
        if (f->have_last_session_end) {
                out_head(o, "pamprofd_last_session_end_timestamp_seconds", "gauge",
                         "When the last profiling session ended, in seconds since the epoch.");
                out_add(o, "pamprofd_last_session_end_timestamp_seconds %.3f\n",
                        seconds(f->last_session_end));
        }
}

static const char *const trigger_names[_METRICS_TRIGGER_MAX] = {
        [METRICS_TRIGGER_CPU] = "cpu",         [METRICS_TRIGGER_RSS] = "rss",
        [METRICS_TRIGGER_THREADS] = "threads", [METRICS_TRIGGER_EXIT] = "exit",
        [METRICS_TRIGGER_MANUAL] = "manual",
};

const char *metrics_trigger_to_string(MetricsTrigger t)
{
        return t >= 0 && t < _METRICS_TRIGGER_MAX ? trigger_names[t] : NULL;
}

static void format_recorder(Out *o, const MetricsFigures *f)
{
        if (!f->recorder_on)
                return;
        out_head(o, "pamprofd_recorder_captures_total", "counter",
                 "Flight recorder captures written since pamprofd started, by what triggered them.");
        for (int i = 0; i < _METRICS_TRIGGER_MAX; i++)
                out_add(o, "pamprofd_recorder_captures_total{trigger=\"%s\"} %" PRIu64 "\n",
                        trigger_names[i], f->captures[i]);
}

static void format_disk(Out *o, const MetricsFigures *f)
{
        if (f->have_profile_bytes) {
                out_head(o, "pamprofd_profiles_bytes", "gauge",
                         "Bytes of the profiling sessions' files on disk (what keep_mb bounds).");
                out_add(o, "pamprofd_profiles_bytes %" PRIu64 "\n", f->profile_bytes);
        }
        if (f->have_free_bytes) {
                out_head(o, "pamprofd_output_free_bytes", "gauge",
                         "Free bytes on the filesystem of the output directory.");
                out_add(o, "pamprofd_output_free_bytes %" PRIu64 "\n", f->free_bytes);
        }
}

int metrics_text_format(const MetricsFigures *f, char *buf, size_t size)
{
        Out o = { .buf = buf, .size = size };
        char version[128];

        if (size == 0)
                return -ENOBUFS;
        buf[0] = '\0';
        format_pam(&o, f);
        format_sessions(&o, f);
        format_recorder(&o, f);
        format_disk(&o, f);
        label_escape(f->version ? f->version : "unknown", version, sizeof(version));
        out_head(&o, "pamprofd_build_info", "gauge", "pamprofd's build; the value is always 1.");
        out_add(&o, "pamprofd_build_info{version=\"%s\"} 1\n", version);
        if (o.full) {
                buf[0] = '\0';
                return -ENOBUFS;
        }
        return (int) o.len;
}
