/* SPDX-License-Identifier: MIT */
#include "report-finding.h"
#include "format-util.h"
#include "sort-util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *severity_name(Severity s)
{
        return s == SEV_PROBLEM ? "problem" : s == SEV_WARNING ? "warning" : "note";
}

Severity severity_from_name(const char *s)
{
        if (s && strcmp(s, "problem") == 0)
                return SEV_PROBLEM;
        if (s && strcmp(s, "warning") == 0)
                return SEV_WARNING;
        return SEV_NOTE;
}

double round_to(double v, int digits)
{
        double p = pow(10, digits);

        return isfinite(v) ? round(v * p) / p : v;
}

void json_add_number(cJSON *o, const char *key, double v)
{
        if (isfinite(v))
                cJSON_AddNumberToObject(o, key, v);
        else
                cJSON_AddNullToObject(o, key);
}

cJSON *finding_new(const char *kind, Severity sev, double score, const char *fmt, ...)
{
        cJSON *f = cJSON_CreateObject();
        va_list ap;
        char *title;

        if (!f)
                return NULL;
        va_start(ap, fmt);
        title = format_newv(fmt, ap);
        va_end(ap);
        cJSON_AddStringToObject(f, "kind", kind);
        cJSON_AddStringToObject(f, "severity", severity_name(sev));
        cJSON_AddNumberToObject(f, "score", round_to(fmin(fmax(score, 0), 100), 2));
        cJSON_AddStringToObject(f, "title", title ? title : "");
        cJSON_AddObjectToObject(f, "numbers");
        cJSON_AddArrayToObject(f, "evidence");
        free(title);
        return f;
}

void finding_evidence(cJSON *f, const char *fmt, ...)
{
        cJSON *ev = cJSON_GetObjectItemCaseSensitive(f, "evidence");
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = format_newv(fmt, ap);
        va_end(ap);
        if (s && ev)
                cJSON_AddItemToArray(ev, cJSON_CreateString(s));
        free(s);
}

void finding_where(cJSON *f, const char *fmt, ...)
{
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = format_newv(fmt, ap);
        va_end(ap);
        cJSON_DeleteItemFromObjectCaseSensitive(f, "where");
        if (s)
                cJSON_AddStringToObject(f, "where", s);
        free(s);
}

void finding_fix(cJSON *f, const char *text)
{
        cJSON_DeleteItemFromObjectCaseSensitive(f, "fix");
        cJSON_AddStringToObject(f, "fix", text);
}

void finding_number(cJSON *f, const char *key, double v)
{
        cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "numbers");

        if (n)
                json_add_number(n, key, round_to(v, 4));
}

cJSON *json_thread(const SsModel *m, uint32_t thread)
{
        const SsThread *t = &m->threads[thread];
        cJSON *o = cJSON_CreateObject();

        if (!o)
                return NULL;
        if (t->tid > 0)
                cJSON_AddNumberToObject(o, "tid", (double) t->tid);
        else
                cJSON_AddNullToObject(o, "tid");
        cJSON_AddStringToObject(o, "name", t->name ? t->name : "");
        cJSON_AddStringToObject(o, "profile", t->profile_name ? t->profile_name : "");
        return o;
}

cJSON *json_frame(const SsModel *m, uint32_t frame)
{
        cJSON *o = cJSON_CreateObject();
        const SsFrame *f;

        if (!o)
                return NULL;
        if (frame == SS_NONE || frame >= m->n_frames) {
                cJSON_AddNullToObject(o, "name");
                return o;
        }
        f = &m->frames[frame];
        cJSON_AddStringToObject(o, "name", f->name);
        cJSON_AddStringToObject(o, "file", f->file);
        if (f->line > 0)
                cJSON_AddNumberToObject(o, "line", f->line);
        else
                cJSON_AddNullToObject(o, "line");
        return o;
}

void finding_thread(cJSON *f, const SsModel *m, uint32_t thread)
{
        cJSON_DeleteItemFromObjectCaseSensitive(f, "thread");
        cJSON_AddItemToObject(f, "thread", json_thread(m, thread));
}

void finding_function(cJSON *f, const SsModel *m, uint32_t frame)
{
        cJSON_DeleteItemFromObjectCaseSensitive(f, "function");
        cJSON_AddItemToObject(f, "function", json_frame(m, frame));
}

long finding_tid(const cJSON *f)
{
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "thread");
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(t, "tid");

        return cJSON_IsNumber(tid) ? (long) tid->valuedouble : -1;
}

static int finding_cmp(const void *a, const void *b)
{
        const cJSON *x = *(const cJSON *const *) a, *y = *(const cJSON *const *) b;
        Severity sx =
                severity_from_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "severity")));
        Severity sy =
                severity_from_name(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(y, "severity")));
        double cx = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(x, "score"));
        double cy = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(y, "score"));

        if (sx != sy)
                return sx > sy ? -1 : 1;
        return cx > cy ? -1 : cx < cy ? 1 : 0;
}

void findings_rank(cJSON *findings)
{
        int n = cJSON_GetArraySize(findings), i = 0;
        cJSON **v, *f;

        if (n <= 0)
                return;
        v = malloc((size_t) n * sizeof(cJSON *));
        if (!v)
                return;
        while (cJSON_GetArraySize(findings) > 0)
                v[i++] = cJSON_DetachItemFromArray(findings, 0);
        qsort_safe(v, (size_t) n, sizeof(cJSON *), finding_cmp);
        for (i = 0; i < n; i++) {
                f = v[i];
                cJSON_DeleteItemFromObjectCaseSensitive(f, "rank");
                cJSON_AddNumberToObject(f, "rank", i + 1);
                cJSON_AddItemToArray(findings, f);
        }
        free(v);
}

const char *short_file(const char *file)
{
        static const char *const marks[] = { "site-packages/", "dist-packages/", NULL };
        const char *p;

        for (size_t i = 0; marks[i]; i++)
                if ((p = strstr(file, marks[i])))
                        return p + strlen(marks[i]);
        /* Python's own library: from after "lib/python3.X/" */
        if ((p = strstr(file, "/lib/python")) && (p = strchr(p + 11, '/')))
                return p + 1;
        return file;
}

const char *fmt_frame(const SsModel *m, uint32_t frame, char *buf, size_t size)
{
        const SsFrame *f;

        if (frame == SS_NONE || frame >= m->n_frames) {
                snprintf(buf, size, "(no frame)");
                return buf;
        }
        f = &m->frames[frame];
        if (!f->file[0])
                snprintf(buf, size, "%s", f->name);
        else if (f->line > 0)
                snprintf(buf, size, "%s (%s:%d)", f->name, short_file(f->file), f->line);
        else
                snprintf(buf, size, "%s (%s)", f->name, short_file(f->file));
        return buf;
}

const char *fmt_thread(const SsModel *m, uint32_t thread)
{
        return m->threads[thread].profile_name ? m->threads[thread].profile_name : "(unnamed)";
}

const char *fmt_seconds(double s, char *buf, size_t size)
{
        if (!isfinite(s))
                snprintf(buf, size, "?");
        else if (s < 0.01)
                snprintf(buf, size, "%.1f ms", s * 1000);
        else if (s < 1)
                snprintf(buf, size, "%.0f ms", s * 1000);
        else if (s < 120)
                snprintf(buf, size, "%.1f s", s);
        else if (s < 7200)
                snprintf(buf, size, "%.1f min", s / 60);
        else
                snprintf(buf, size, "%.1f h", s / 3600);
        return buf;
}
