/* SPDX-License-Identifier: MIT */
#include "report-csv.h"
#include "cleanup.h"
#include "csv-reader.h"
#include "format-util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_MAX (16 * 1024 * 1024)

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

/* The first record: the header, by which columns are found. 0; -EBADMSG when there is none. */
static int read_header(CsvReader *r, const char *what, char **ret_error)
{
        int k = csv_reader_next(r);

        if (k == 0)
                return error_set(ret_error, -EBADMSG, "empty file, not a %s CSV", what);
        return k < 0 ? k : 0;
}

typedef struct SeriesColumns {
        int t, cpu, mem, core, prof, wake, pid, ts;
        size_t count;
} SeriesColumns;

/* A row of the CPU CSV: 0 when kept, 1 when skipped, -ENOMEM. An empty cell is NAN. */
static int series_row(ReportSeries *s, const CsvReader *r, const SeriesColumns *c)
{
        double t, cpu, mem, core, prof, wake, pid;

        if (r->malformed || r->nfields != c->count || csv_figure(r, c->t, &t) < 0 ||
            csv_figure(r, c->cpu, &cpu) == -EINVAL || csv_figure(r, c->mem, &mem) == -EINVAL ||
            csv_figure(r, c->core, &core) == -EINVAL || csv_figure(r, c->prof, &prof) == -EINVAL ||
            csv_figure(r, c->pid, &pid) == -EINVAL || csv_figure(r, c->wake, &wake) == -EINVAL || wake < 0 ||
            t < 0 || (s->n > 0 && t < s->t[s->n - 1]) || cpu < 0 || mem < 0)
                return 1; /* NAN < 0 is false: an empty cell passes */
        if (s->n == 0 && c->ts >= 0) {
                snprintf(s->first_timestamp, sizeof(s->first_timestamp), "%s", r->fields[c->ts]);
                s->first_unix = report_parse_iso8601(r->fields[c->ts]);
        }
        return series_push(s, t, cpu, core, mem, prof, wake, pid);
}

int report_series_read(FILE *f, ReportSeries *ret, char **ret_error)
{
        _cleanup_(csv_reader_done) CsvReader r;
        ReportSeries s = { .first_unix = NAN };
        SeriesColumns c;
        int k;

        csv_reader_init(&r, f);
        k = read_header(&r, "CPU", ret_error);
        if (k < 0)
                return k;
        c = (SeriesColumns){
                .t = csv_column(&r, "elapsed_seconds"),
                .cpu = csv_column(&r, "cpu_percent"),
                .mem = csv_column(&r, "memory_mb"),
                .core = csv_column(&r, "cpu_core_percent"),
                .prof = csv_column(&r, "profiler_cpu_percent"),
                .wake = csv_column(&r, "wakeups_per_second"),
                .pid = csv_column(&r, "pid"),
                .ts = csv_column(&r, "timestamp"),
                .count = r.nfields,
        };
        if (c.t < 0 || c.cpu < 0 || c.mem < 0)
                return error_set(ret_error, -EBADMSG,
                                 "not a CPU CSV: the header lacks elapsed_seconds, cpu_percent "
                                 "or memory_mb");
        s.has_core = c.core >= 0;
        s.has_prof = c.prof >= 0;
        s.has_pid = c.pid >= 0;
        s.has_wake = c.wake >= 0;
        while ((k = csv_reader_next(&r)) > 0) {
                k = series_row(&s, &r, &c);
                if (k < 0)
                        break;
                s.skipped += k;
        }
        if (k < 0) {
                report_series_done(&s);
                return k;
        }
        *ret = s;
        return 0;
}

/* The entry of tid in th[0..*n), added when new; hint is where it probably is. NULL: out of memory. */
static ThreadCpu *thread_of(ThreadCpu **th, size_t *n, size_t *cap, size_t hint, long tid)
{
        size_t i = hint < *n && (*th)[hint].tid == tid ? hint : *n;

        for (size_t k = 0; i == *n && k < *n; k++)
                if ((*th)[k].tid == tid)
                        i = k;
        if (i < *n)
                return &(*th)[i];
        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 32;
                ThreadCpu *x = realloc(*th, nc * sizeof(ThreadCpu));
                if (!x)
                        return NULL;
                *th = x;
                *cap = nc;
        }
        (*th)[*n] = (ThreadCpu){ .tid = tid };
        return &(*th)[(*n)++];
}

int report_threads_read(FILE *f, double t0, double t1, ThreadCpu **ret, size_t *ret_n, char **ret_error)
{
        _cleanup_(csv_reader_done) CsvReader r;
        ThreadCpu *th = NULL;
        size_t n = 0, tcap = 0, hint = 0, ncols;
        int c_t, c_tid, c_name, c_cpu, c_wake, k;

        csv_reader_init(&r, f);
        k = read_header(&r, "threads", ret_error);
        if (k < 0)
                return k;
        ncols = r.nfields;
        c_t = csv_column(&r, "elapsed_seconds");
        c_tid = csv_column(&r, "tid");
        c_name = csv_column(&r, "thread_name");
        c_cpu = csv_column(&r, "cpu_core_percent");
        c_wake = csv_column(&r, "wakeups_per_second"); /* pamprofd's since issue 13; optional */
        if (c_t < 0 || c_tid < 0 || c_cpu < 0)
                return error_set(ret_error, -EBADMSG,
                                 "not a threads CSV: the header lacks elapsed_seconds, tid or "
                                 "cpu_core_percent");
        while ((k = csv_reader_next(&r)) > 0) {
                double t, tid, cpu, wake;
                ThreadCpu *x;

                /* An empty cpu_core_percent is not measured: the row counts for nothing but its name. */
                if (r.malformed || r.nfields != ncols || csv_figure(&r, c_t, &t) < 0 ||
                    csv_figure(&r, c_tid, &tid) < 0 || csv_figure(&r, c_cpu, &cpu) == -EINVAL || cpu < 0 ||
                    tid < 0 || tid > INT32_MAX)
                        continue;
                if ((isfinite(t0) && t < t0) || (isfinite(t1) && t > t1))
                        continue;
                /* Rows come in rounds of the same threads: the next tid is usually the one after the last. */
                x = thread_of(&th, &n, &tcap, hint, (long) tid);
                if (!x) {
                        k = -ENOMEM;
                        break;
                }
                if (c_name >= 0 && !x->name[0])
                        snprintf(x->name, sizeof(x->name), "%s", r.fields[c_name]);
                if (!isnan(cpu)) {
                        x->sum += cpu;
                        x->n++;
                        if (cpu > x->max)
                                x->max = cpu;
                }
                if (csv_figure(&r, c_wake, &wake) == 0 && wake >= 0) {
                        x->wake_sum += wake;
                        x->wake_n++;
                        if (wake > x->wake_max)
                                x->wake_max = wake;
                }
                hint = (size_t) (x - th) + 1;
        }
        if (k < 0) {
                free(th);
                return k;
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

static void session_capture(const cJSON *root, ReportSession *s)
{
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "capture"), *b;
        double tid;

        if (!cJSON_IsObject(c))
                return;
        json_str(c, "trigger", s->trigger, sizeof(s->trigger));
        json_str(c, "message", s->trigger_message, sizeof(s->trigger_message));
        s->fired_elapsed = json_num(c, "fired_elapsed_seconds");
        b = cJSON_GetObjectItemCaseSensitive(c, "busiest_thread");
        tid = json_num(b, "tid");
        if (isfinite(tid) && tid > 0 && tid < INT32_MAX) {
                s->busiest_tid = (long) tid;
                json_str(b, "name", s->busiest_name, sizeof(s->busiest_name));
                s->busiest_percent = json_num(b, "cpu_core_percent");
        }
}

int report_session_read(FILE *f, ReportSession *ret, char **ret_error)
{
        ReportSession s = REPORT_SESSION_UNKNOWN;
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
        session_capture(root, &s);
        cJSON_Delete(root);
        *ret = s;
        return 0;
}
