/* SPDX-License-Identifier: MIT */
/*
 * The report from a session's files: read (profile streaming, CSVs row by
 * row, the session's JSON), classify, run each analysis, rank. See
 * report.h and report-analysis.h.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "report-analysis.h"
#include "report-finding.h"
#include "speedscope-read.h"

typedef struct Built {
        SsModel *model;
        RpContext ctx;
        bool has_ctx;
        ReportSeries series;
        bool has_series;
        ReportSession session;
        char scenario[72], label[160];
        bool idle;
        cJSON *warnings;
} Built;

static void built_done(Built *b)
{
        if (b->has_ctx)
                rp_context_done(&b->ctx);
        ss_model_free(b->model);
        if (b->has_series)
                report_series_done(&b->series);
        cJSON_Delete(b->warnings);
        memset(b, 0, sizeof(*b));
}

static void warn(Built *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(Built *b, const char *fmt, ...)
{
        va_list ap;
        char *s = NULL;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        if (s)
                cJSON_AddItemToArray(b->warnings, cJSON_CreateString(s));
        free(s);
}

/* A FILE on a dup of fd, rewound when it can be: the caller keeps fd. */
static FILE *file_of(int fd)
{
        int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        FILE *f;

        if (d < 0)
                return NULL;
        (void) lseek(d, 0, SEEK_SET);
        f = fdopen(d, "r");
        if (!f)
                close(d);
        return f;
}

/* pam_<scenario>_<YYYYMMDD>_<HHMMSS>[-N] -> scenario */
static void scenario_from_label(const char *label, char *buf, size_t size)
{
        const char *p = label, *slash = strrchr(label, '/'), *end;
        size_t n;

        if (slash)
                p = slash + 1;
        if (strncmp(p, "pam_", 4) != 0)
                return;
        p += 4;
        end = p + strlen(p);
        /* back over _HHMMSS and _YYYYMMDD (and a -N) */
        for (int k = 0; k < 2 && end > p; k++) {
                const char *u = end;
                while (u > p && u[-1] != '_')
                        u--;
                if (u == p)
                        return;
                end = u - 1;
        }
        n = (size_t) (end - p);
        if (n > 0 && n < size) {
                memcpy(buf, p, n);
                buf[n] = '\0';
        }
}

/* The sampler that made the profile, as the report names it: the session's record says, else the exporter. */
static const char *sampler_name(const Built *b)
{
        const char *e = b->model && b->model->exporter ? b->model->exporter : "";

        if (strcmp(b->session.profiler, "austin") == 0)
                return "Austin";
        if (strcmp(b->session.profiler, "py-spy") == 0)
                return "py-spy";
        if (strcasestr(e, "austin"))
                return "Austin";
        if (strstr(e, "py-spy"))
                return "py-spy";
        return "the sampler";
}

static int read_profile(const ReportFds *in, Built *b, char **ret_error)
{
        RpOptions o = { .idle = b->session.idle, .duration = NAN, .offset = 0 };
        ThreadCpu *cpu = NULL;
        size_t n_cpu = 0;
        char *err = NULL;
        int r;

        (void) lseek(in->profile, 0,
                     SEEK_SET); /* from the start, however often it is read (a pipe cannot) */
        r = ss_read_fd(in->profile, &b->model, &err);
        if (r < 0) {
                if (ret_error) {
                        free(*ret_error);
                        if (asprintf(ret_error, "%s: %s",
                                     in->profile_name ? in->profile_name : "the profile",
                                     err ? err : strerror(-r)) < 0)
                                *ret_error = NULL;
                }
                free(err);
                return r;
        }
        /* Where py-spy's time 0 is on the CSV's clock: from the monotonic start of its first run, else
         * from the wall clock (a step of the clock in between would show). */
        if (isfinite(b->session.profile_start_elapsed))
                o.offset = b->session.profile_start_elapsed;
        else if (isfinite(b->session.profile_start_unix) && isfinite(b->session.started_at_unix))
                o.offset = b->session.profile_start_unix - b->session.started_at_unix;
        o.sampler = sampler_name(b);
        o.run_pid = b->session.run_pid;
        o.run_pid_elapsed = b->session.run_pid_elapsed;
        /* A later PAM's threads start at its run's start: in the profile itself, or (merged before
         * the profile said so) by the offset of that pid's first run. */
        o.n_run_pids = b->session.one_clock ? 0 : b->session.n_run_pids;
        if (isfinite(b->session.duration))
                o.duration = b->session.duration - o.offset;
        if (in->threads >= 0) {
                FILE *f = file_of(in->threads);
                double longest = 0;
                for (size_t i = 0; i < b->model->n_threads; i++)
                        longest = fmax(longest, b->model->threads[i].seconds);
                if (b->session.idle == 0 && isfinite(o.duration))
                        longest = fmax(longest, o.duration);
                double last = o.offset;
                for (size_t k = 0; k < o.n_run_pids; k++)
                        last = fmax(last, o.run_pid_elapsed[k]);
                r = f ? report_threads_read(f, o.offset, last + longest + 1.0, &cpu, &n_cpu, &err) : -errno;
                if (f)
                        fclose(f);
                if (r < 0)
                        warn(b, "threads CSV not used: %s", err ? err : strerror(-r));
                free(err);
                err = NULL;
        }
        r = rp_context_build(b->model, cpu, n_cpu, &o, &b->ctx);
        free(cpu);
        if (r < 0)
                return r;
        b->has_ctx = true;
        return 0;
}

static int build_one(const ReportFds *in, Built *b, char **ret_error)
{
        char *err = NULL;
        int r;

        b->warnings = cJSON_CreateArray();
        b->session = REPORT_SESSION_UNKNOWN;
        if (!b->warnings)
                return -ENOMEM;
        if (in->profile < 0 && in->csv < 0) {
                if (ret_error)
                        *ret_error = strdup("nothing to report on: give a profile or a CPU CSV");
                return -EINVAL;
        }
        if (in->session >= 0) {
                FILE *f = file_of(in->session);
                r = f ? report_session_read(f, &b->session, &err) : -errno;
                if (f)
                        fclose(f);
                if (r < 0)
                        warn(b, "session file not used: %s", err ? err : strerror(-r));
                free(err);
                err = NULL;
        }
        if (in->profile >= 0 && (r = read_profile(in, b, ret_error)) < 0)
                return r;
        if (in->csv >= 0) {
                FILE *f = file_of(in->csv);
                r = f ? report_series_read(f, &b->series, &err) : -errno;
                if (f)
                        fclose(f);
                if (r < 0)
                        warn(b, "CPU CSV not used: %s", err ? err : strerror(-r));
                else
                        b->has_series = true;
                free(err);
                err = NULL;
        }
        snprintf(b->label, sizeof(b->label), "%s",
                 in->label                  ? in->label
                         : b->session.id[0] ? b->session.id
                                            : "the session");
        if (in->scenario)
                snprintf(b->scenario, sizeof(b->scenario), "%s", in->scenario);
        else if (b->session.scenario[0])
                snprintf(b->scenario, sizeof(b->scenario), "%s", b->session.scenario);
        else
                scenario_from_label(b->label, b->scenario, sizeof(b->scenario));
        b->idle = in->idle >= 0 ? in->idle == 1 : strncmp(b->scenario, "idle", 4) == 0;
        if (!b->has_ctx && !b->has_series) {
                if (ret_error)
                        *ret_error = strdup("the CPU CSV could not be read, and there is no profile");
                return -EBADMSG;
        }
        return 0;
}

static cJSON *source_json(const Built *b)
{
        cJSON *o = cJSON_CreateObject(), *p;

        if (b->has_ctx) {
                const SsModel *m = b->model;
                p = cJSON_AddObjectToObject(o, "profile");
                cJSON_AddStringToObject(p, "exporter", m->exporter ? m->exporter : "");
                cJSON_AddNumberToObject(p, "bytes", (double) m->bytes);
                cJSON_AddNumberToObject(p, "threads", (double) m->n_threads);
                cJSON_AddNumberToObject(p, "samples", (double) m->n_samples);
                cJSON_AddNumberToObject(p, "frames", (double) m->n_frames);
                cJSON_AddNumberToObject(p, "seconds", round_to(b->ctx.duration, 3));
                json_add_number(p, "rate", b->ctx.interval > 0 ? round_to(1 / b->ctx.interval, 2) : NAN);
                cJSON_AddBoolToObject(p, "idle_included", b->ctx.idle_included);
                cJSON_AddBoolToObject(p, "time_known", m->seconds_known);
                cJSON_AddNumberToObject(p, "offset_seconds", round_to(b->ctx.offset, 3));
        }
        if (b->session.found) {
                p = cJSON_AddObjectToObject(o, "session");
                cJSON_AddStringToObject(p, "id", b->session.id);
                json_add_number(p, "started_at_unix", b->session.started_at_unix);
                json_add_number(p, "duration_seconds", b->session.duration);
                cJSON_AddNumberToObject(p, "profile_runs", (double) b->session.profile_runs);
        }
        if (b->session.trigger[0]) {
                cJSON *t;
                p = cJSON_AddObjectToObject(o, "capture");
                cJSON_AddStringToObject(p, "trigger", b->session.trigger);
                cJSON_AddStringToObject(p, "message", b->session.trigger_message);
                json_add_number(p, "fired_elapsed_seconds", round_to(b->session.fired_elapsed, 3));
                if (b->session.busiest_tid > 0 && (t = cJSON_AddObjectToObject(p, "busiest_thread"))) {
                        cJSON_AddNumberToObject(t, "tid", (double) b->session.busiest_tid);
                        cJSON_AddStringToObject(t, "name", b->session.busiest_name);
                        json_add_number(t, "cpu_core_percent", b->session.busiest_percent);
                }
        }
        return o;
}

/* How much of the profile the sampler could not read; NULL when all of it. */
static cJSON *data_quality(const RpContext *c, double left_out)
{
        uint64_t seen = 0, unreadable = 0, partial = 0, garbage = 0;
        cJSON *o;

        if (!isfinite(left_out))
                left_out = 0;
        for (size_t i = 0; i < c->m->n_threads; i++) {
                const RpThread *rt = &c->threads[i];
                seen += rt->n_seen;
                unreadable += rt->n_unreadable;
                partial += rt->n_partial;
                garbage += rt->garbage;
        }
        if ((unreadable + partial + garbage == 0 && left_out == 0) || seen + unreadable == 0)
                return NULL;
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "sampler", c->sampler);
        cJSON_AddNumberToObject(o, "samples", (double) (seen + unreadable));
        cJSON_AddNumberToObject(o, "unreadable_samples", (double) unreadable);
        cJSON_AddNumberToObject(o, "partial_samples", (double) partial);
        cJSON_AddNumberToObject(
                o, "unreadable_percent",
                round_to(100.0 * (double) (unreadable + partial) / (double) (seen + unreadable), 2));
        cJSON_AddNumberToObject(o, "wholly_unreadable_percent",
                                round_to(100.0 * (double) unreadable / (double) (seen + unreadable), 2));
        cJSON_AddNumberToObject(o, "garbage_threads", (double) garbage);
        /* samples the converter left out (Austin's garbage thread ids): not in the profile at all */
        cJSON_AddNumberToObject(o, "left_out_samples", left_out);
        cJSON_AddNumberToObject(o, "left_out_percent",
                                round_to(100.0 * left_out / ((double) (seen + unreadable) + left_out), 2));
        return o;
}

static int analyse(Built *b, cJSON *root)
{
        cJSON *findings = cJSON_AddArrayToObject(root, "findings"), *x;
        const RpContext *c = b->has_ctx ? &b->ctx : NULL;

        if (!findings)
                return -ENOMEM;
        if (c) {
                cJSON_AddStringToObject(root, "sampler", c->sampler);
                x = data_quality(c, b->session.garbage_samples);
                if (x)
                        cJSON_AddItemToObject(root, "data_quality", x);
                /* The specific findings first: the threads' idle check adds to them rather than repeat them. */
                report_busy(c, findings);
                x = report_periodic(c, findings);
                if (x)
                        cJSON_AddItemToObject(root, "periodic", x);
                x = report_async(c, findings);
                if (x)
                        cJSON_AddItemToObject(root, "event_loop", x);
                report_wakeups(c, x, findings);
                x = report_serialization(c, findings);
                if (x)
                        cJSON_AddItemToObject(root, "serialization", x);
                {
                        cJSON *groups = NULL;
                        cJSON_AddItemToObject(root, "threads",
                                              report_threads(c, b->idle, findings, &groups));
                        if (groups)
                                cJSON_AddItemToObject(root, "thread_groups", groups);
                }
                cJSON_AddItemToObject(root, "hot", report_hot(c));
                if (!c->idle_included)
                        warn(b,
                             "%s left waiting threads out of the profile (py-spy without --idle, Austin's cpu "
                             "mode): idle shares come from sample counts, and periodic work and blocking in "
                             "async code are not analysed",
                             c->sampler);
        }
        if (b->has_series) {
                x = report_series(&b->series, c, b->idle, findings);
                /* the profiler_cpu_percent column is the sampler's own cost */
                cJSON_AddStringToObject(x, "profiler",
                                        c ? c->sampler
                                                : b->session.profiler[0]
                                                ? (strcmp(b->session.profiler, "austin") == 0
                                                           ? "Austin"
                                                           : b->session.profiler)
                                                : "the profiler");
                cJSON_AddItemToObject(root, "csv", x);
        }
        findings_rank(findings);
        return 0;
}

int report_build(const ReportFds *in, const ReportFds *vs, cJSON **ret, char **ret_error)
{
        Built b = { 0 }, o = { 0 };
        VsSide *other = NULL, *now = NULL;
        cJSON *root = NULL;
        int r;

        if (vs) {
                /* The other session first, reduced to what the comparison needs, so one model is in memory. */
                cJSON *tmp = cJSON_CreateObject();
                if (!tmp)
                        return -ENOMEM;
                r = build_one(vs, &o, ret_error);
                if (r == 0)
                        r = analyse(&o, tmp);
                if (r == 0) {
                        other = report_vs_side(o.has_ctx ? &o.ctx : NULL,
                                               cJSON_GetObjectItemCaseSensitive(tmp, "csv"), o.label);
                        if (!other)
                                r = -ENOMEM;
                }
                cJSON_Delete(tmp);
                built_done(&o);
                if (r < 0)
                        return r;
        }
        r = build_one(in, &b, ret_error);
        if (r < 0)
                goto out;
        root = cJSON_CreateObject();
        if (!root) {
                r = -ENOMEM;
                goto out;
        }
        cJSON_AddNumberToObject(root, "format", 1);
        cJSON_AddStringToObject(root, "label", b.label);
        cJSON_AddStringToObject(root, "scenario", b.scenario);
        cJSON_AddBoolToObject(root, "idle_scenario", b.idle);
        cJSON_AddItemToObject(root, "source", source_json(&b));
        r = analyse(&b, root);
        if (r < 0)
                goto out;
        if (other) {
                now = report_vs_side(b.has_ctx ? &b.ctx : NULL,
                                     cJSON_GetObjectItemCaseSensitive(root, "csv"), b.label);
                if (!now) {
                        r = -ENOMEM;
                        goto out;
                }
                cJSON_AddItemToObject(root, "vs", report_vs(now, other));
        }
        cJSON_AddItemToObject(root, "warnings", b.warnings);
        b.warnings = NULL;
        *ret = root;
        root = NULL;
out:
        report_vs_side_free(other);
        report_vs_side_free(now);
        cJSON_Delete(root);
        built_done(&b);
        return r;
}
