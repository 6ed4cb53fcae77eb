/* SPDX-License-Identifier: MIT */
#include "report-csv.h"
#include "format-util.h"
#include "strtod-c.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD_MAX (1024 * 1024)
#define SESSION_MAX (16 * 1024 * 1024)

static int put(char **buf, size_t *cap, size_t n, int c)
{
        if (n + 1 >= *cap) {
                size_t nc = *cap ? *cap * 2 : 256;
                char *b;
                if (nc > RECORD_MAX)
                        return -E2BIG;
                b = realloc(*buf, nc);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *cap = nc;
        }
        (*buf)[n] = (char) c;
        return 0;
}

static int push_field(char ***fields, size_t *fields_cap, size_t nf, size_t offset)
{
        if (nf == *fields_cap) {
                size_t nc = *fields_cap ? *fields_cap * 2 : 16;
                char **f = realloc(*fields, nc * sizeof(char *));
                if (!f)
                        return -ENOMEM;
                *fields = f;
                *fields_cap = nc;
        }
        (*fields)[nf] = (char *) (uintptr_t) offset; /* made a pointer once the buffer stops moving */
        return 0;
}

long report_csv_record(FILE *f, char **buf, size_t *cap, char ***fields, size_t *fields_cap)
{
        size_t n = 0, nf = 0;
        bool quoted = false, any = false;
        int c, r;

        for (;;) {
                c = getc_unlocked(f);
                if (c == EOF) {
                        if (ferror(f))
                                return -EIO;
                        if (!any)
                                return 0;
                        break;
                }
                any = true;
                if (quoted) {
                        if (c == '"') {
                                int d = getc_unlocked(f);
                                if (d == '"')
                                        c = '"';
                                else {
                                        quoted = false;
                                        if (d != EOF)
                                                ungetc(d, f);
                                        continue;
                                }
                        }
                } else if (c == '"') {
                        quoted = true;
                        continue;
                } else if (c == ',') {
                        if ((r = put(buf, cap, n++, '\0')) < 0 ||
                            (r = push_field(fields, fields_cap, nf++, 0)) < 0)
                                return r;
                        continue;
                } else if (c == '\n')
                        break;
                else if (c == '\r')
                        continue;
                if ((r = put(buf, cap, n++, c)) < 0)
                        return r;
        }
        if ((r = put(buf, cap, n++, '\0')) < 0 || (r = push_field(fields, fields_cap, nf++, 0)) < 0)
                return r;
        /* Each field starts after the previous NUL. */
        for (size_t i = 0, off = 0; i < nf; i++) {
                (*fields)[i] = *buf + off;
                off += strlen(*buf + off) + 1;
        }
        return (long) nf;
}

static int column(char **fields, size_t nf, const char *name)
{
        for (size_t i = 0; i < nf; i++) {
                const char *s = fields[i];
                size_t len;
                if (i == 0 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
                        s += 3;
                while (*s == ' ')
                        s++;
                len = strlen(s);
                while (len > 0 && s[len - 1] == ' ')
                        len--;
                if (len == strlen(name) && strncmp(s, name, len) == 0)
                        return (int) i;
        }
        return -1;
}

/* A cell: 0 and the value, 1 for an empty cell (NAN), -1 for anything else. */
static int cell(char **fields, int col, double *ret)
{
        const char *s;
        char *end;
        double v;

        *ret = NAN;
        if (col < 0)
                return 1;
        s = fields[col];
        while (*s == ' ')
                s++;
        if (!*s)
                return 1;
        v = strtod_c(s, &end);
        while (*end == ' ')
                end++;
        if (end == s || *end || !isfinite(v))
                return -1;
        *ret = v;
        return 0;
}

void report_series_done(ReportSeries *s)
{
        free(s->t);
        free(s->cpu);
        free(s->core);
        free(s->mem);
        free(s->prof);
        free(s->wake);
        free(s->pid);
        memset(s, 0, sizeof(*s));
}

static int series_push(ReportSeries *s, double t, double cpu, double core, double mem, double prof,
                       double wake, double pid)
{
        if (s->n == s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 256;
                double *t2 = realloc(s->t, cap * sizeof(double));
                if (t2)
                        s->t = t2;
                float *a = t2 ? realloc(s->cpu, cap * sizeof(float)) : NULL;
                if (a)
                        s->cpu = a;
                float *b = a ? realloc(s->core, cap * sizeof(float)) : NULL;
                if (b)
                        s->core = b;
                float *c = b ? realloc(s->mem, cap * sizeof(float)) : NULL;
                if (c)
                        s->mem = c;
                float *d = c ? realloc(s->prof, cap * sizeof(float)) : NULL;
                if (d)
                        s->prof = d;
                float *w = d ? realloc(s->wake, cap * sizeof(float)) : NULL;
                if (w)
                        s->wake = w;
                int32_t *e = w ? realloc(s->pid, cap * sizeof(int32_t)) : NULL;
                if (!e)
                        return -ENOMEM;
                s->pid = e;
                s->cap = cap;
        }
        s->t[s->n] = t;
        s->cpu[s->n] = (float) cpu;
        s->core[s->n] = (float) core;
        s->mem[s->n] = (float) mem;
        s->prof[s->n] = (float) prof;
        s->wake[s->n] = (float) wake;
        s->pid[s->n] = isfinite(pid) && pid > 0 && pid < INT32_MAX ? (int32_t) pid : 0;
        s->n++;
        return 0;
}

int report_series_read(FILE *f, ReportSeries *ret, char **ret_error)
{
        ReportSeries s = { .first_unix = NAN };
        char *buf = NULL, **fields = NULL;
        size_t cap = 0, fcap = 0, ncols;
        int c_t, c_cpu, c_mem, c_core, c_prof, c_wake, c_pid, c_ts, r = 0;
        long nf;

        nf = report_csv_record(f, &buf, &cap, &fields, &fcap);
        if (nf <= 0) {
                r = nf < 0 ? (int) nf : error_set(ret_error, -EBADMSG, "empty file, not a CPU CSV");
                goto out;
        }
        ncols = (size_t) nf;
        c_t = column(fields, ncols, "elapsed_seconds");
        c_cpu = column(fields, ncols, "cpu_percent");
        c_mem = column(fields, ncols, "memory_mb");
        if (c_t < 0 || c_cpu < 0 || c_mem < 0) {
                r = error_set(ret_error, -EBADMSG,
                              "not a CPU CSV: the header lacks elapsed_seconds, cpu_percent "
                              "or memory_mb");
                goto out;
        }
        c_core = column(fields, ncols, "cpu_core_percent");
        c_prof = column(fields, ncols, "profiler_cpu_percent");
        c_pid = column(fields, ncols, "pid");
        c_ts = column(fields, ncols, "timestamp");
        c_wake = column(fields, ncols, "wakeups_per_second");
        s.has_core = c_core >= 0;
        s.has_prof = c_prof >= 0;
        s.has_pid = c_pid >= 0;
        s.has_wake = c_wake >= 0;
        while ((nf = report_csv_record(f, &buf, &cap, &fields, &fcap)) > 0) {
                double t, cpu, mem, core, prof, wake, pid;
                if ((size_t) nf != ncols || cell(fields, c_t, &t) != 0 || cell(fields, c_cpu, &cpu) < 0 ||
                    cell(fields, c_mem, &mem) < 0 || cell(fields, c_core, &core) < 0 ||
                    cell(fields, c_prof, &prof) < 0 || cell(fields, c_pid, &pid) < 0 ||
                    cell(fields, c_wake, &wake) < 0 || (isfinite(wake) && wake < 0) || t < 0 ||
                    (s.n > 0 && t < s.t[s.n - 1]) || (isfinite(cpu) && cpu < 0) ||
                    (isfinite(mem) && mem < 0)) {
                        s.skipped++;
                        continue;
                }
                if (s.n == 0 && c_ts >= 0) {
                        snprintf(s.first_timestamp, sizeof(s.first_timestamp), "%s", fields[c_ts]);
                        s.first_unix = report_parse_iso8601(fields[c_ts]);
                }
                if ((r = series_push(&s, t, cpu, core, mem, prof, wake, pid)) < 0)
                        goto out;
        }
        if (nf < 0)
                r = (int) nf;
out:
        free(buf);
        free(fields);
        if (r < 0) {
                report_series_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

int report_threads_read(FILE *f, double t0, double t1, ThreadCpu **ret, size_t *ret_n, char **ret_error)
{
        ThreadCpu *th = NULL;
        char *buf = NULL, **fields = NULL;
        size_t cap = 0, fcap = 0, n = 0, tcap = 0, ncols, hint = 0;
        int c_t, c_tid, c_name, c_cpu, c_wake, r = 0;
        long nf;

        nf = report_csv_record(f, &buf, &cap, &fields, &fcap);
        if (nf <= 0) {
                r = nf < 0 ? (int) nf : error_set(ret_error, -EBADMSG, "empty file, not a threads CSV");
                goto out;
        }
        ncols = (size_t) nf;
        c_t = column(fields, ncols, "elapsed_seconds");
        c_tid = column(fields, ncols, "tid");
        c_name = column(fields, ncols, "thread_name");
        c_cpu = column(fields, ncols, "cpu_core_percent");
        c_wake = column(fields, ncols, "wakeups_per_second"); /* pamprofd's since issue 13; optional */
        if (c_t < 0 || c_tid < 0 || c_cpu < 0) {
                r = error_set(ret_error, -EBADMSG,
                              "not a threads CSV: the header lacks elapsed_seconds, tid or "
                              "cpu_core_percent");
                goto out;
        }
        while ((nf = report_csv_record(f, &buf, &cap, &fields, &fcap)) > 0) {
                double t, tid, cpu, wake;
                size_t i;
                if ((size_t) nf != ncols || cell(fields, c_t, &t) != 0 || cell(fields, c_tid, &tid) != 0 ||
                    cell(fields, c_cpu, &cpu) != 0 || cpu < 0 || tid < 0 || tid > INT32_MAX)
                        continue;
                if ((isfinite(t0) && t < t0) || (isfinite(t1) && t > t1))
                        continue;
                /* Rows come in rounds of the same threads: the next tid is usually the one after the last. */
                i = hint < n && th[hint].tid == (long) tid ? hint : n;
                for (size_t k = 0; i == n && k < n; k++)
                        if (th[k].tid == (long) tid)
                                i = k;
                if (i == n) {
                        if (n == tcap) {
                                size_t nc = tcap ? tcap * 2 : 32;
                                ThreadCpu *x = realloc(th, nc * sizeof(ThreadCpu));
                                if (!x) {
                                        r = -ENOMEM;
                                        goto out;
                                }
                                th = x;
                                tcap = nc;
                        }
                        th[n] = (ThreadCpu){ .tid = (long) tid };
                        if (c_name >= 0)
                                snprintf(th[n].name, sizeof(th[n].name), "%s", fields[c_name]);
                        n++;
                }
                th[i].sum += cpu;
                th[i].n++;
                if (cpu > th[i].max)
                        th[i].max = cpu;
                if (cell(fields, c_wake, &wake) == 0 && wake >= 0) {
                        th[i].wake_sum += wake;
                        th[i].wake_n++;
                        if (wake > th[i].wake_max)
                                th[i].wake_max = wake;
                }
                hint = i + 1;
        }
        if (nf < 0)
                r = (int) nf;
out:
        free(buf);
        free(fields);
        if (r < 0) {
                free(th);
                return r;
        }
        *ret = th;
        *ret_n = n;
        return 0;
}

double report_parse_iso8601(const char *s)
{
        struct tm tm = { 0 };
        int y, mo, d, h, mi, n = 0, oh = 0, om = 0;
        double sec, frac = 0;
        char sign;

        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || sec < 0 ||
            sec >= 61)
                return NAN;
        s += n;
        if (*s == 'Z')
                s++;
        else if ((*s == '+' || *s == '-') && sscanf(s, "%c%2d:%2d", &sign, &oh, &om) == 3) {
                if (sign == '-') {
                        oh = -oh;
                        om = -om;
                }
                s += 6;
        }
        if (*s)
                return NAN;
        frac = sec - (int) sec;
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = (int) sec;
        return (double) timegm(&tm) + frac - oh * 3600.0 - om * 60.0;
}

static double json_num(const cJSON *o, const char *key)
{
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

        return cJSON_IsNumber(x) && isfinite(x->valuedouble) ? x->valuedouble : NAN;
}

static void json_str(const cJSON *o, const char *key, char *buf, size_t size)
{
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

        if (cJSON_IsString(x) && x->valuestring)
                snprintf(buf, size, "%s", x->valuestring);
}

static void session_profile(const cJSON *root, ReportSession *s)
{
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "profile"), *runs, *run, *x;

        if (!cJSON_IsObject(p))
                return;
        json_str(p, "profiler", s->profiler, sizeof(s->profiler));
        runs = cJSON_GetObjectItemCaseSensitive(p, "runs");
        if (!cJSON_IsArray(runs))
                runs = cJSON_GetObjectItemCaseSensitive(p, "chunks");
        if (isfinite(json_num(p, "rate")))
                s->rate = json_num(p, "rate");
        x = cJSON_GetObjectItemCaseSensitive(p, "idle");
        if (cJSON_IsBool(x))
                s->idle = cJSON_IsTrue(x);
        x = cJSON_GetObjectItemCaseSensitive(p, "command");
        if (s->idle < 0 && cJSON_IsString(x) && x->valuestring && strstr(x->valuestring, "py-spy"))
                s->idle = strstr(x->valuestring, " --idle") || strstr(x->valuestring, " -i ") ? 1 : 0;
        if (isfinite(json_num(p, "started_at_unix")))
                s->profile_start_unix = json_num(p, "started_at_unix");
        s->one_clock = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "threads_on_one_clock"));
        if (!cJSON_IsArray(runs))
                return;
        cJSON_ArrayForEach(run, runs)
        {
                double st = json_num(run, "started_at_unix"), el = json_num(run, "started_elapsed_seconds");
                double pid = json_num(run, "target_pid");
                if (!cJSON_IsObject(run))
                        continue;
                s->profile_runs++;
                x = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(run, "conversion"),
                                                     "garbage_samples");
                if (cJSON_IsNumber(x) && x->valuedouble >= 0)
                        s->garbage_samples =
                                (isfinite(s->garbage_samples) ? s->garbage_samples : 0) + x->valuedouble;
                if (isfinite(st) && (!isfinite(s->profile_start_unix) || st < s->profile_start_unix))
                        s->profile_start_unix = st;
                if (isfinite(el) && (!isfinite(s->profile_start_elapsed) || el < s->profile_start_elapsed))
                        s->profile_start_elapsed = el;
                if (isfinite(el) && pid > 0 && pid < INT32_MAX) {
                        size_t i;
                        for (i = 0; i < s->n_run_pids && s->run_pid[i] != (long) pid; i++)
                                ;
                        if (i == s->n_run_pids && i < REPORT_PIDS_MAX) {
                                s->run_pid[i] = (long) pid;
                                s->run_pid_elapsed[i] = el;
                                s->n_run_pids++;
                        } else if (i < s->n_run_pids && el < s->run_pid_elapsed[i])
                                s->run_pid_elapsed[i] = el;
                }
                if (isfinite(json_num(run, "rate")) && !isfinite(s->rate))
                        s->rate = json_num(run, "rate");
                x = cJSON_GetObjectItemCaseSensitive(run, "idle");
                if (cJSON_IsBool(x) && s->idle < 0)
                        s->idle = cJSON_IsTrue(x);
        }
}

int report_session_read(FILE *f, ReportSession *ret, char **ret_error)
{
        ReportSession s = { .started_at_unix = NAN,
                            .duration = NAN,
                            .interval = NAN,
                            .rate = NAN,
                            .profile_start_unix = NAN,
                            .profile_start_elapsed = NAN,
                            .garbage_samples = NAN,
                            .idle = -1 };
        char *text = NULL;
        size_t len = 0, cap = 0, k;
        const cJSON *o;
        cJSON *root;

        for (;;) {
                if (len + 65536 > cap) {
                        char *t;
                        cap = cap ? cap * 2 : 65536 * 2;
                        if (cap > SESSION_MAX + 65536) {
                                free(text);
                                return error_set(ret_error, -EFBIG, "the session file is over %d MiB",
                                                 SESSION_MAX >> 20);
                        }
                        t = realloc(text, cap);
                        if (!t) {
                                free(text);
                                return -ENOMEM;
                        }
                        text = t;
                }
                k = fread(text + len, 1, cap - len - 1, f);
                len += k;
                if (k == 0)
                        break;
        }
        if (ferror(f)) {
                free(text);
                return -EIO;
        }
        text[len] = '\0';
        root = cJSON_ParseWithLength(text, len);
        free(text);
        if (!cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return error_set(ret_error, -EBADMSG, "the session file is not a JSON object");
        }
        s.found = true;
        json_str(root, "id", s.id, sizeof(s.id));
        json_str(root, "scenario", s.scenario, sizeof(s.scenario));
        s.started_at_unix = json_num(root, "started_at_unix");
        s.duration = json_num(root, "duration_seconds");
        o = cJSON_GetObjectItemCaseSensitive(root, "options");
        if (cJSON_IsObject(o)) {
                s.interval = json_num(o, "interval");
                s.rate = json_num(o, "rate");
        }
        session_profile(root, &s);
        cJSON_Delete(root);
        *ret = s;
        return 0;
}
