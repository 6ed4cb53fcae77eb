/* SPDX-License-Identifier: MIT */
#include "plot-session.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot-csv.h"
#include "sort-util.h"

/* A session file is a few kilobytes; refuse to slurp anything absurd. */
#define SESSION_MAX (16u << 20)
#define EVENTS_MAX 4096

void plot_session_done(PlotSession *s)
{
        free(s->id);
        free(s->scenario);
        free(s->started_at);
        free(s->events);
        free(s->profiler);
        free(s->coverage_warning);
        memset(s, 0, sizeof(*s));
}

static int dup_string(const cJSON *o, const char *key, char **ret)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!cJSON_IsString(v) || !v->valuestring)
                return 0;
        *ret = strdup(v->valuestring);
        return *ret ? 0 : -ENOMEM;
}

static double number(const cJSON *o, const char *key)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static void event_label(PlotEvent *e, const char *type, double pid, const char *profiler)
{
        const char *who = profiler ? profiler : "profiler";

        if (strcmp(type, "target-exit") == 0) {
                e->kind = PLOT_EVENT_TARGET_EXIT;
                snprintf(e->label, sizeof(e->label), "PAM exited");
        } else if (strcmp(type, "target-return") == 0) {
                e->kind = PLOT_EVENT_TARGET_RETURN;
                if (pid > 0 && pid < 1e9)
                        snprintf(e->label, sizeof(e->label), "PAM back, pid %.0f", pid);
                else
                        snprintf(e->label, sizeof(e->label), "PAM back");
        } else if (strcmp(type, "profiler-chunk") == 0) {
                e->kind = PLOT_EVENT_PROFILER_CHUNK;
                snprintf(e->label, sizeof(e->label), "%.16s chunk", who);
        } else if (strcmp(type, "profiler-failed") == 0) {
                e->kind = PLOT_EVENT_PROFILER_FAILED;
                snprintf(e->label, sizeof(e->label), "%.16s failed", who);
        } else if (strcmp(type, "profiler-early-exit") == 0) {
                e->kind = PLOT_EVENT_PROFILER_EARLY;
                snprintf(e->label, sizeof(e->label), "%.16s stopped early", who);
        } else {
                e->kind = PLOT_EVENT_OTHER;
                snprintf(e->label, sizeof(e->label), "%s", type);
        }
}

static int by_time(const void *a, const void *b)
{
        const PlotEvent *x = a, *y = b;

        return (x->t > y->t) - (x->t < y->t);
}

static int read_events(const cJSON *arr, PlotSession *s)
{
        const cJSON *ev;
        size_t n = 0;

        if (!cJSON_IsArray(arr))
                return 0;
        s->events = calloc((size_t) cJSON_GetArraySize(arr) + 1, sizeof(PlotEvent));
        if (!s->events)
                return -ENOMEM;
        cJSON_ArrayForEach(ev, arr)
        {
                const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
                double t = number(ev, "elapsed_seconds");

                if (n >= EVENTS_MAX || !cJSON_IsString(type) || !type->valuestring || isnan(t) || t < 0)
                        continue;
                /* A run's start is where the last one's end (chunk, early stop) or PAM's return is
                 * marked already: a second label there says nothing. */
                if (strcmp(type->valuestring, "session-start") == 0 ||
                    strcmp(type->valuestring, "session-stop") == 0 ||
                    strcmp(type->valuestring, "profiler-start") == 0)
                        continue;
                s->events[n].t = t;
                event_label(&s->events[n], type->valuestring, number(ev, "pid"), s->profiler);
                n++;
        }
        qsort_safe(s->events, n, sizeof(PlotEvent), by_time);
        s->n_events = n;
        return 0;
}

/* The sampler's name (records before it was kept say "py-spy" or "austin") and the coverage. */
static int read_profile(const cJSON *p, PlotSession *s)
{
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "profiler_name");
        double cov = number(p, "coverage");
        int r;

        if (!cJSON_IsObject(p))
                return 0;
        if (!cJSON_IsString(name) || !name->valuestring || !name->valuestring[0])
                name = cJSON_GetObjectItemCaseSensitive(p, "profiler");
        if (cJSON_IsString(name) && name->valuestring && name->valuestring[0]) {
                s->profiler =
                        strndup(strcmp(name->valuestring, "austin") == 0 ? "Austin" : name->valuestring, 24);
                if (!s->profiler)
                        return -ENOMEM;
        }
        s->coverage = cov >= 0 && cov <= 1 ? cov : NAN;
        r = dup_string(p, "coverage_warning", &s->coverage_warning);
        if (r == 0 && s->coverage_warning && strlen(s->coverage_warning) > 240)
                s->coverage_warning[240] = '\0'; /* one line of the figure; a longer one is not ours */
        return r;
}

void plot_session_coverage_text(const PlotSession *s, char *buf, size_t size)
{
        buf[0] = '\0';
        if (!s || !isfinite(s->coverage))
                return;
        snprintf(buf, size, "%s%sprofile: %.0f %% of the session", s->profiler ? s->profiler : "",
                 s->profiler ? " " : "", floor(s->coverage * 100));
}

int plot_session_parse(const char *json, size_t len, PlotSession *ret, char **ret_error)
{
        PlotSession s = { .duration = NAN, .coverage = NAN };
        cJSON *root = cJSON_ParseWithLength(json, len);
        const cJSON *target, *profile;
        double pid;
        int r;

        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return plot_error(ret_error, -EBADMSG, "The session file is not a JSON object.");
        }
        r = dup_string(root, "id", &s.id);
        if (r == 0)
                r = dup_string(root, "scenario", &s.scenario);
        if (r == 0)
                r = dup_string(root, "started_at", &s.started_at);
        s.duration = number(root, "duration_seconds");
        target = cJSON_GetObjectItemCaseSensitive(root, "target");
        pid = number(target, "pid");
        s.pid = pid > 0 && pid < 1e9 ? (long) pid : 0;
        profile = cJSON_GetObjectItemCaseSensitive(root, "profile");
        if (r == 0)
                r = read_profile(profile, &s);
        if (r == 0)
                r = read_events(cJSON_GetObjectItemCaseSensitive(root, "events"), &s);
        cJSON_Delete(root);
        if (r < 0) {
                plot_session_done(&s);
                return plot_error(ret_error, r, "Out of memory reading the session file.");
        }
        *ret = s;
        return 0;
}

int plot_session_read(int fd, PlotSession *ret, char **ret_error)
{
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t k;

                if (len == cap) {
                        char *b;
                        if (cap >= SESSION_MAX)
                                return plot_error(ret_error, -EFBIG,
                                                  "The session file is larger than %u MiB.",
                                                  SESSION_MAX >> 20);
                        cap = cap ? cap * 2 : 8192;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return plot_error(ret_error, -ENOMEM,
                                                  "Out of memory reading the session file.");
                        buf = b;
                }
                k = read(fd, buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = negative_errno();
                        return plot_error(ret_error, r, "Could not read the session file: %s.",
                                          strerror(-r));
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (!buf)
                return plot_error(ret_error, -EBADMSG, "The session file is empty.");
        buf[len] = '\0';
        return plot_session_parse(buf, len, ret, ret_error);
}
