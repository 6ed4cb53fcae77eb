/* SPDX-License-Identifier: MIT */
/*
 * The report as text for people, drawn from the JSON document alone, so
 * --json never says less: the ranked findings with their evidence first,
 * then the threads, the hot code, periodic work, the event loop,
 * serialization, the CSV figures and a comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report-finding.h"
#include "report.h"

static const cJSON *get(const cJSON *o, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(o, key);
}

static double num(const cJSON *o, const char *key)
{
        const cJSON *x = get(o, key);

        return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *key, const char *def)
{
        const cJSON *x = get(o, key);

        return cJSON_IsString(x) && x->valuestring ? x->valuestring : def;
}

/* "name (short/file.py:12)" from a {"name","file","line"} object. */
static const char *func_text(const cJSON *f, char *buf, size_t size)
{
        const char *name = str(f, "name", NULL), *file = str(f, "file", "");
        double line = num(f, "line");

        if (!name)
                snprintf(buf, size, "(none)");
        else if (!file[0])
                snprintf(buf, size, "%s", name);
        else if (isfinite(line))
                snprintf(buf, size, "%s (%s:%.0f)", name, short_file(file), line);
        else
                snprintf(buf, size, "%s (%s)", name, short_file(file));
        return buf;
}

static const char *pct(double v, char *buf, size_t size)
{
        if (!isfinite(v))
                snprintf(buf, size, "-");
        else if (v != 0 && fabs(v) < 0.1)
                snprintf(buf, size, "%.2f%%", v);
        else
                snprintf(buf, size, "%.1f%%", v);
        return buf;
}

/* A flight recorder's capture: what fired, when, and the thread busiest around it. */
static void capture_line(const cJSON *c, FILE *out)
{
        const cJSON *b = get(c, "busiest_thread");
        char b1[32];

        fprintf(out, "  captured by the flight recorder, trigger %s", str(c, "trigger", "?"));
        if (isfinite(num(c, "fired_elapsed_seconds")))
                fprintf(out, " at %s", fmt_seconds(num(c, "fired_elapsed_seconds"), b1, sizeof(b1)));
        fprintf(out, ": %s\n", str(c, "message", "?"));
        if (b) {
                fprintf(out, "  the busiest thread around it: Thread %.0f", num(b, "tid"));
                if (str(b, "name", "")[0])
                        fprintf(out, " \"%s\"", str(b, "name", ""));
                if (isfinite(num(b, "cpu_core_percent")))
                        fprintf(out, ", %.0f%% of a core", num(b, "cpu_core_percent"));
                fputs(" (the profile opens on it)\n", out);
        }
}

static void header(const cJSON *r, FILE *out)
{
        const cJSON *src = get(r, "source"), *p = get(src, "profile"), *csv = get(r, "csv"), *q;
        char b1[32];

        fprintf(out, "Report on %s: scenario %s%s\n", str(r, "label", "?"),
                str(r, "scenario", "?")[0] ? str(r, "scenario", "?") : "unknown",
                cJSON_IsTrue(get(r, "idle_scenario")) ? " (idle scenario: the idle targets apply)" : "");
        if (get(src, "capture"))
                capture_line(get(src, "capture"), out);
        if (p) {
                double bytes = num(p, "bytes");
                fprintf(out,
                        "  profile: %.0f threads, %.0f samples over %s at %.0f Hz by %s, %s (%s, %.*f %s)\n",
                        num(p, "threads"), num(p, "samples"), fmt_seconds(num(p, "seconds"), b1, sizeof(b1)),
                        num(p, "rate"), str(r, "sampler", "the sampler"),
                        cJSON_IsTrue(get(p, "idle_included")) ? "idle stacks included" : "no idle stacks",
                        str(p, "exporter", "?")[0] ? str(p, "exporter", "?") : "unknown exporter",
                        bytes < 1e6 ? 0 : 1, bytes < 1e6 ? bytes / 1e3 : bytes / 1e6,
                        bytes < 1e6 ? "KB" : "MB");
        } else
                fprintf(out, "  profile: none (CPU and memory only)\n");
        if (csv)
                fprintf(out, "  CPU CSV: %.0f rows over %s, every %.3g s\n", num(csv, "rows"),
                        fmt_seconds(num(csv, "seconds"), b1, sizeof(b1)), num(csv, "interval"));
        if ((q = get(r, "data_quality"))) {
                if (num(q, "unreadable_percent") > 0)
                        fprintf(out,
                                "  data: %s could not read the stack in %.1f%% of its samples (%.1f%% wholly: "
                                "left out of every figure; the rest lost only their outer frames)\n",
                                str(q, "sampler", "the sampler"), num(q, "unreadable_percent"),
                                num(q, "wholly_unreadable_percent"));
                if (num(q, "left_out_samples") > 0)
                        fprintf(out,
                                "  data: %s gave %.0f samples (%.1f%%) a thread id no thread has (a failed "
                                "read): the conversion left them out\n",
                                str(q, "sampler", "the sampler"), num(q, "left_out_samples"),
                                num(q, "left_out_percent"));
                if (num(q, "garbage_threads") > 0)
                        fprintf(out,
                                "  data: %.0f profile(s) with a thread id no thread has (a failed read): left out\n",
                                num(q, "garbage_threads"));
        }
        fprintf(out, "\n");
}

static void findings(const cJSON *r, FILE *out)
{
        const cJSON *list = get(r, "findings"), *f;
        int n = cJSON_GetArraySize(list);

        if (n == 0) {
                fprintf(out,
                        "No findings: nothing here breaks the seed's rules (idle share, CPU target, periodic "
                        "work, blocking in async code, busy waiting, serialization, memory).\n\n");
                return;
        }
        fprintf(out, "Findings, most important first:\n");
        cJSON_ArrayForEach(f, list)
        {
                const cJSON *ev = get(f, "evidence"), *e, *fn = get(f, "function"), *th = get(f, "thread");
                const char *sev = str(f, "severity", "note");
                char fb[512];
                fprintf(out, "%3.0f. %s [%s] %s\n", num(f, "rank"),
                        strcmp(sev, "problem") == 0           ? "PROBLEM"
                                : strcmp(sev, "warning") == 0 ? "WARNING"
                                                              : "NOTE",
                        str(f, "kind", "?"), str(f, "title", ""));
                if (th || (fn && str(fn, "name", NULL)))
                        fprintf(out, "     thread: %s; function: %s\n", th ? str(th, "profile", "-") : "-",
                                fn ? func_text(fn, fb, sizeof(fb)) : "-");
                cJSON_ArrayForEach(e, ev)
                {
                        if (cJSON_IsString(e))
                                fprintf(out, "     - %s\n", e->valuestring);
                }
                if (get(f, "where"))
                        fprintf(out, "     where: %s\n", str(f, "where", ""));
                if (get(f, "fix"))
                        fprintf(out, "     fix: %s\n", str(f, "fix", ""));
        }
        fprintf(out, "\n");
}

/* One thread's row of the table (and its notes); true if it has a wait inferred from its CPU. */
static bool thread_row(const cJSON *t, int width, FILE *out)
{
        char name[160], i1[16], w1[16], cpu[32], wk[16], fb[512];

        snprintf(name, sizeof(name), "%s%s", str(t, "profile", "?"),
                 cJSON_IsTrue(get(t, "event_loop")) ? " (loop)" : "");
        if (isfinite(num(t, "cpu_mean")))
                snprintf(cpu, sizeof(cpu), "%.1f/%.1f%%", num(t, "cpu_mean"), num(t, "cpu_max"));
        else
                snprintf(cpu, sizeof(cpu), "-");
        if (isfinite(num(t, "wakeups_per_second")))
                snprintf(wk, sizeof(wk), "%.0f", num(t, "wakeups_per_second"));
        else
                snprintf(wk, sizeof(wk), "-");
        if (get(t, "waits_most_at"))
                func_text(get(t, "waits_most_at"), fb, sizeof(fb));
        else
                snprintf(fb, sizeof(fb), "-");
        fprintf(out, "  %-*s %7s %7s %15s %7s  %s%s\n", width, name,
                pct(num(t, "idle_percent"), i1, sizeof(i1)), pct(num(t, "work_percent"), w1, sizeof(w1)),
                cpu, wk, fb,
                get(t, "inferred_wait_at") && strcmp(str(t, "inferred_wait_at", ""), fb) == 0 ? " *" : "");
        if (get(t, "inferred_wait_at") && strcmp(str(t, "inferred_wait_at", ""), fb) != 0)
                fprintf(out, "  %-*s also waits at %s *\n", width, "", str(t, "inferred_wait_at", ""));
        if (get(t, "uncertain_at"))
                fprintf(out, "  %-*s mostly at %s: a wait or work? (no CPU figure)\n", width, "",
                        str(t, "uncertain_at", ""));
        return get(t, "inferred_wait_at") != NULL;
}

/* One line for a group of threads counted together. */
static void group_row(const cJSON *t, FILE *out)
{
        char fb[512], mb[512], cb[16], lb[32];

        func_text(get(t, "entry"), fb, sizeof(fb));
        if (get(t, "entry") && !cJSON_IsNull(get(t, "entry")))
                fprintf(out, "  %.0f %s threads in %s: %s of a core", num(t, "threads"),
                        cJSON_IsTrue(get(t, "short_lived")) ? "short-lived" : "more", fb,
                        pct(num(t, "core_percent"), cb, sizeof(cb)));
        else
                fprintf(out,
                        "  %.0f %s threads never seen in a function of their own (in threading's start "
                        "or end, or with no Python frame yet): %s of a core",
                        num(t, "threads"), cJSON_IsTrue(get(t, "short_lived")) ? "short-lived" : "more",
                        pct(num(t, "core_percent"), cb, sizeof(cb)));
        if (get(t, "mostly_in"))
                fprintf(out, ", mostly in %s (%.0f%%)", func_text(get(t, "mostly_in"), mb, sizeof(mb)),
                        num(t, "mostly_in_percent"));
        fprintf(out, "; the longest seen for %s\n", fmt_seconds(num(t, "longest_seconds"), lb, sizeof(lb)));
}

static void threads(const cJSON *r, FILE *out)
{
        const cJSON *list = get(r, "threads"), *t;
        bool inferred = false;
        int width = 24;

        if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
                return;
        cJSON_ArrayForEach(t, list)
        {
                int len =
                        (int) strlen(str(t, "profile", "?")) + (cJSON_IsTrue(get(t, "event_loop")) ? 7 : 0);
                if (len > width)
                        width = len > 64 ? 64 : len;
        }
        fprintf(out,
                "Threads (idle = sleeping or waiting; CPU = measured from /proc, %% of one core; WAKE/S = "
                "times a second the scheduler ran it):\n");
        fprintf(out, "  %-*s %7s %7s %15s %7s  %s\n", width, "THREAD", "IDLE", "WORK", "CPU MEAN/MAX",
                "WAKE/S", "WAITS MOSTLY IN");
        cJSON_ArrayForEach(t, list)
        {
                if (thread_row(t, width, out))
                        inferred = true;
        }
        cJSON_ArrayForEach(t, get(r, "thread_groups"))
        {
                group_row(t, out);
        }
        if (inferred)
                fprintf(out,
                        "  * where %s saw the thread but /proc saw no CPU: it waited there, in a C call (time.sleep, "
                        "a socket read) or for the GIL or a CPU while other threads ran\n",
                        str(r, "sampler", "the sampler"));
        fprintf(out, "\n");
}

static void hot_list(const cJSON *list, const char *what, FILE *out)
{
        const cJSON *x;

        if (cJSON_GetArraySize(list) == 0)
                return;
        fprintf(out, "  %s:\n", what);
        cJSON_ArrayForEach(x, list)
        {
                char fb[512], a[16], b[16];
                fprintf(out, "    %7s of work %8s of a core  %s\n",
                        pct(num(x, "percent_of_work"), a, sizeof(a)),
                        pct(num(x, "core_percent"), b, sizeof(b)),
                        func_text(get(x, "function"), fb, sizeof(fb)));
        }
}

static void hot(const cJSON *r, FILE *out)
{
        const cJSON *h = get(r, "hot"), *t;

        if (!h || num(h, "work_seconds") <= 0)
                return;
        fprintf(out,
                "Hot code (working samples only; a thread's samples count for no more CPU than /proc measured):\n");
        hot_list(get(h, "self"), "by self time", out);
        hot_list(get(h, "total"), "by total time (own code)", out);
        fprintf(out, "  busiest function per thread (self time):\n");
        cJSON_ArrayForEach(t, get(h, "threads"))
        {
                const cJSON *top = cJSON_GetArrayItem(get(t, "self"), 0);
                char fb[512], a[16];
                if (top)
                        fprintf(out, "    %-40s %7s  %s\n", str(get(t, "thread"), "profile", "?"),
                                pct(num(top, "percent_of_work"), a, sizeof(a)),
                                func_text(get(top, "function"), fb, sizeof(fb)));
        }
        if (num(h, "threads_left_out") > 0)
                fprintf(out, "    (%.0f less busy threads left out)\n", num(h, "threads_left_out"));
        fprintf(out, "\n");
}

static void periodic(const cJSON *r, FILE *out)
{
        const cJSON *list = get(r, "periodic"), *p;

        if (cJSON_GetArraySize(list) == 0)
                return;
        fprintf(out, "Periodic work:\n");
        cJSON_ArrayForEach(p, list)
        {
                char fb[512], pb[48], mb[48], cb[16];
                if (get(p, "driven_by")) {
                        snprintf(pb, sizeof(pb), "%s",
                                 strcmp(str(p, "driven_by", ""), "a busy loop") == 0 ? "in a spin"
                                                                                     : "per event");
                        snprintf(mb, sizeof(mb), "driven by %s", str(p, "driven_by", "?"));
                } else if (cJSON_IsTrue(get(p, "fast"))) {
                        snprintf(pb, sizeof(pb), "every few ms");
                        snprintf(mb, sizeof(mb), "runs shorter than a sample");
                } else {
                        char x[32];
                        snprintf(pb, sizeof(pb), "every %s",
                                 fmt_seconds(num(p, "period_seconds"), x, sizeof(x)));
                        snprintf(mb, sizeof(mb), "about %s a run",
                                 fmt_seconds(num(p, "seconds_per_run"), x, sizeof(x)));
                }
                fprintf(out, "  %-16s %s on %s: %s, %s of a core\n", pb,
                        func_text(get(p, "function"), fb, sizeof(fb)), str(get(p, "thread"), "profile", "?"),
                        mb, pct(num(p, "core_percent"), cb, sizeof(cb)));
        }
        fprintf(out, "\n");
}

static void event_loop(const cJSON *r, FILE *out)
{
        const cJSON *list = get(r, "event_loop"), *l, *c;

        cJSON_ArrayForEach(l, list)
        {
                char a[16], b[16];
                fprintf(out, "Event loop on %s: %s of its time in coroutines, %s blocked\n",
                        str(get(l, "thread"), "profile", "?"),
                        pct(num(l, "coroutine_percent"), a, sizeof(a)),
                        pct(num(l, "blocked_percent"), b, sizeof(b)));
                cJSON_ArrayForEach(c, get(l, "coroutines"))
                {
                        char fb[512], lp[16], ls[32];
                        fprintf(out, "  %7s  longest step %-7s %s\n",
                                pct(num(c, "loop_percent"), lp, sizeof(lp)),
                                fmt_seconds(num(c, "longest_step_seconds"), ls, sizeof(ls)),
                                func_text(get(c, "function"), fb, sizeof(fb)));
                }
                fprintf(out, "\n");
        }
}

static void serialization(const cJSON *r, FILE *out)
{
        const cJSON *s = get(r, "serialization"), *x;
        char a[32], b[32], c[16];
        int n = 0;

        if (!s || (num(s, "dumps_seconds") <= 0 && num(s, "loads_seconds") <= 0))
                return;
        fprintf(out, "Serialization (json, pickle): dumps %s, loads %s, %s of a core\n",
                fmt_seconds(num(s, "dumps_seconds"), a, sizeof(a)),
                fmt_seconds(num(s, "loads_seconds"), b, sizeof(b)),
                pct(num(s, "core_percent"), c, sizeof(c)));
        cJSON_ArrayForEach(x, get(s, "callers"))
        {
                char fb[512];
                if (n++ == 5)
                        break;
                fprintf(out, "  dumps %-8s loads %-8s (%s of its time)  %s on %s\n",
                        fmt_seconds(num(x, "dumps_seconds"), a, sizeof(a)),
                        fmt_seconds(num(x, "loads_seconds"), b, sizeof(b)),
                        pct(num(x, "caller_percent"), c, sizeof(c)),
                        func_text(get(x, "function"), fb, sizeof(fb)),
                        str(get(x, "thread"), "profile", "?"));
        }
        fprintf(out, "\n");
}

static void csv(const cJSON *r, FILE *out)
{
        const cJSON *c = get(r, "csv"), *cpu, *mem, *prof, *wake, *sp;
        char a[16], b[16], d[16];

        if (!c)
                return;
        cpu = get(c, "cpu_percent");
        fprintf(out, "CPU and memory (the CSV):\n");
        fprintf(out, "  CPU: mean %s, p95 %s, max %s of the machine", pct(num(cpu, "mean"), a, sizeof(a)),
                pct(num(cpu, "p95"), b, sizeof(b)), pct(num(cpu, "max"), d, sizeof(d)));
        if (cJSON_IsTrue(get(c, "idle_target_applies")))
                fprintf(out, "; idle target under %.0f%%: %s", num(c, "idle_target_percent"),
                        num(cpu, "mean") < num(c, "idle_target_percent") ? "met" : "MISSED");
        fprintf(out, "\n");
        if ((cpu = get(c, "cpu_core_percent")))
                fprintf(out, "       as top shows it: mean %s, max %s of one core\n",
                        pct(num(cpu, "mean"), a, sizeof(a)), pct(num(cpu, "max"), b, sizeof(b)));
        cJSON_ArrayForEach(sp, get(c, "spikes"))
        {
                const cJSON *top = cJSON_GetArrayItem(get(sp, "profile"), 0);
                char fb[512];
                fprintf(out, "  spike: %s at %.0f-%.0f s%s%s\n",
                        pct(num(sp, "peak_cpu_percent"), a, sizeof(a)), num(sp, "start_seconds"),
                        num(sp, "end_seconds"), top ? ", mostly " : "",
                        top ? func_text(get(top, "function"), fb, sizeof(fb)) : "");
        }
        mem = get(c, "memory");
        if (mem) {
                fprintf(out, "  Memory: %.1f -> %.1f MB (max %.1f)", num(mem, "start_mb"),
                        num(mem, "end_mb"), num(mem, "max_mb"));
                fprintf(out, "; %s", str(mem, "description", str(mem, "verdict", "?")));
                if (isfinite(num(mem, "fit_pid")))
                        fprintf(out, " (judged on pid %.0f's rows, the longest stretch of one PAM)",
                                num(mem, "fit_pid"));
                fprintf(out, "\n");
        }
        if ((wake = get(c, "wakeups_per_second")) && isfinite(num(wake, "mean")))
                fprintf(out, "  Wake-ups: mean %.0f, max %.0f a second, PAM's threads together\n",
                        num(wake, "mean"), num(wake, "max"));
        if ((prof = get(c, "profiler_cpu_percent")) && isfinite(num(prof, "mean")))
                fprintf(out, "  %s's own CPU: mean %s, max %s of the machine (%s of PAM's)\n",
                        str(c, "profiler", "the profiler"), pct(num(prof, "mean"), a, sizeof(a)),
                        pct(num(prof, "max"), b, sizeof(b)),
                        pct(num(prof, "relative_to_pam_percent"), d, sizeof(d)));
        fprintf(out, "\n");
}

/* A figure, or "-" where a side has none (never "nan"). */
static const char *fixed(double v, bool sign, char *buf, size_t size)
{
        if (isfinite(v))
                snprintf(buf, size, sign ? "%+.2f" : "%.2f", v);
        else
                snprintf(buf, size, "-");
        return buf;
}

/* A count, or "-" where a side has none. */
static const char *count(double v, bool sign, char *buf, size_t size)
{
        if (isfinite(v))
                snprintf(buf, size, sign ? "%+.0f" : "%.0f", v);
        else
                snprintf(buf, size, "-");
        return buf;
}

static void vs_list(const cJSON *list, const char *what, bool funcs, FILE *out)
{
        const cJSON *x;

        if (cJSON_GetArraySize(list) == 0)
                return;
        fprintf(out, "  %s (%% of one core: this, other, change):\n", what);
        cJSON_ArrayForEach(x, list)
        {
                char a[16], b[16], d[32], fb[512];
                fprintf(out, "    %8s %8s %8s  %s\n", pct(num(x, "core_percent"), a, sizeof(a)),
                        pct(num(x, "other_core_percent"), b, sizeof(b)),
                        fixed(num(x, "change"), true, d, sizeof(d)),
                        funcs ? func_text(x, fb, sizeof(fb)) : str(x, "name", "?"));
        }
}

static void vs(const cJSON *r, FILE *out)
{
        const cJSON *v = get(r, "vs"), *x;

        if (!v)
                return;
        fprintf(out, "Compared with %s:\n", str(v, "other", "?"));
        vs_list(get(v, "threads"), "threads whose work changed most", false, out);
        vs_list(get(v, "functions"), "functions whose self time changed most", true, out);
        if (cJSON_GetArraySize(get(v, "thread_wakeups")) > 0) {
                fprintf(out, "  threads whose wake-ups changed most (a second: this, other, change):\n");
                cJSON_ArrayForEach(x, get(v, "thread_wakeups"))
                {
                        char a[16], b[16], d[16];
                        fprintf(out, "    %8s %8s %8s  %s\n",
                                count(num(x, "wakeups_per_second"), false, a, sizeof(a)),
                                count(num(x, "other_wakeups_per_second"), false, b, sizeof(b)),
                                count(num(x, "change"), true, d, sizeof(d)), str(x, "name", "?"));
                }
        }
        if (cJSON_GetArraySize(get(v, "csv")) > 0) {
                fprintf(out, "  %-26s %10s %10s %10s\n", "CSV", "this", "other", "change");
                cJSON_ArrayForEach(x, get(v, "csv"))
                {
                        char t1[32], t2[32], t3[32];
                        fprintf(out, "  %-26s %10s %10s %10s\n", str(x, "figure", "?"),
                                fixed(num(x, "this"), false, t1, sizeof(t1)),
                                fixed(num(x, "other"), false, t2, sizeof(t2)),
                                fixed(num(x, "change"), true, t3, sizeof(t3)));
                }
        }
        fprintf(out, "\n");
}

static void print_text(const cJSON *r, FILE *out)
{
        const cJSON *w, *x;

        header(r, out);
        findings(r, out);
        threads(r, out);
        hot(r, out);
        periodic(r, out);
        event_loop(r, out);
        serialization(r, out);
        csv(r, out);
        vs(r, out);
        w = get(r, "warnings");
        if (cJSON_GetArraySize(w) > 0) {
                fprintf(out, "Warnings:\n");
                cJSON_ArrayForEach(x, w)
                {
                        if (cJSON_IsString(x))
                                fprintf(out, "  - %s\n", x->valuestring);
                }
        }
}

/* PAM chose many names in a report (functions, files, threads: a code object's name can be any
 * string, a thread's comm any 15 bytes): none of their control characters may reach a
 * terminal, from pamprofctl or from a _report.txt someone cats. The JSON escapes them. */
static void terminal_safe(char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (((unsigned char) s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
                        s[i] = '?';
}

void report_print_text(const cJSON *r, FILE *out)
{
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);

        if (!mem) { /* no memory for the copy: nothing printed beats escapes printed */
                fputs("(no memory to print the report)\n", out);
                return;
        }
        print_text(r, mem);
        if (fclose(mem) == 0) {
                terminal_safe(text, len);
                fwrite(text, 1, len, out);
        }
        free(text);
}
