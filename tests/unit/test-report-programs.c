/* SPDX-License-Identifier: MIT */
/*
 * pamprofctl report on captures of real programs that nobody here wrote
 * the code of (tests/fixtures/captures, each made through pamprofd with the
 * real Austin 3.7; HOW.md in each says how; the stand-in's pathologies are
 * test-report-captures.c's): a FastAPI app under Debian's uvicorn loaded on loopback and idle,
 * the same app warming up from its start, threads born mid-session, and a
 * thread-per-connection server. None of them has a pathology, so the report
 * must raise no PROBLEM and no WARNING on them, and what it says must hold:
 * threads at their true times, Austin named as the sampler, its failed
 * stack reads kept out of hot code, per-request work not called a timer, a
 * warm-up not called a leak, a table of 130 short-lived threads summed up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "test-json.h"

/* The report on capture NAME (its four files), the idle rules on, off or by the scenario (idle: 1, 0, -1);
 * the text of it in *ret_text when asked. */
static cJSON *capture_idle(const char *name, int idle, char **ret_text)
{
        const char *dir = getenv("PAMPROF_FIXTURES");
        ReportPaths p;
        ReportInputs in = { .idle = idle };
        cJSON *doc = NULL;
        char *prefix, *err = NULL;
        int r;

        if (!dir)
                fail_msg("PAMPROF_FIXTURES is not set (meson test sets it)");
        assert_true(asprintf(&prefix, "%s/captures/%s/%s", dir, name, name) > 0);
        assert_int_equal(report_find_siblings(prefix, &p), 0);
        assert_non_null(p.profile);
        assert_non_null(p.csv);
        assert_non_null(p.threads);
        assert_non_null(p.session);
        in.profile = p.profile;
        in.csv = p.csv;
        in.threads = p.threads;
        in.session = p.session;
        if (ret_text) {
                size_t len = 0;
                FILE *out = open_memstream(ret_text, &len);
                r = report_run_files(&in, NULL, false, out, &err);
                fclose(out);
                if (r < 0)
                        fail_msg("%s: %s", name, err ? err : strerror(-r));
        }
        {
                ReportFds f = REPORT_FDS_INIT;
                f.idle = idle;
                f.profile = open(p.profile, O_RDONLY | O_CLOEXEC);
                f.csv = open(p.csv, O_RDONLY | O_CLOEXEC);
                f.threads = open(p.threads, O_RDONLY | O_CLOEXEC);
                f.session = open(p.session, O_RDONLY | O_CLOEXEC);
                r = report_build(&f, NULL, &doc, &err);
                close(f.profile);
                close(f.csv);
                close(f.threads);
                close(f.session);
        }
        if (r < 0)
                fail_msg("%s: %s", name, err ? err : strerror(-r));
        free(err);
        free(prefix);
        report_paths_done(&p);
        return doc;
}

static cJSON *capture(const char *name, char **ret_text)
{
        return capture_idle(name, -1, ret_text);
}

/* No PROBLEM, no WARNING: each would be false on these programs. */
static void assert_nothing_raised(const cJSON *doc, const char *name)
{
        const cJSON *f;

        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                const char *sev = str(f, "severity");
                if (strcmp(sev, "problem") == 0 || strcmp(sev, "warning") == 0)
                        fail_msg("%s: a false %s: [%s] %s", name, sev, str(f, "kind"), str(f, "title"));
        }
}

static const cJSON *finding_of(const cJSON *doc, const char *kind)
{
        const cJSON *f;

        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                if (strcmp(str(f, "kind"), kind) == 0)
                        return f;
        }
        return NULL;
}

/* No function of the hot lists (overall and per thread) is Austin's <invalid frame>. */
static void assert_no_invalid_hot(const cJSON *doc)
{
        const cJSON *h = get(doc, "hot"), *x, *t;
        const char *lists[] = { "self", "total" };

        for (size_t i = 0; i < 2; i++) {
                cJSON_ArrayForEach(x, get(h, lists[i]))
                {
                        assert_string_not_equal(str(get(x, "function"), "name"), "<invalid frame>");
                }
                cJSON_ArrayForEach(t, get(h, "threads"))
                {
                        cJSON_ArrayForEach(x, get(t, lists[i]))
                        {
                                assert_string_not_equal(str(get(x, "function"), "name"), "<invalid frame>");
                        }
                }
        }
}

static void test_loaded_uvicorn(void **state)
{
        char *text = NULL;
        cJSON *doc = capture("uvicorn-loaded", &text);
        const cJSON *f, *q;

        assert_nothing_raised(doc, "uvicorn-loaded");
        /* asyncio's own accept/recv on the selector's ready path is no blocking call */
        assert_null(finding_of(doc, "blocking-async"));
        /* the thread pool runs a request handler per request, not on a timer: a per-event cost */
        assert_null(finding_of(doc, "periodic"));
        f = finding_of(doc, "per-event");
        assert_non_null(f);
        assert_string_equal(str(f, "severity"), "note");
        assert_non_null(strstr(str(f, "title"), "per request"));
        /* Austin's failed stack reads: out of hot code, said in one line */
        assert_no_invalid_hot(doc);
        q = get(doc, "data_quality");
        assert_true(num(q, "unreadable_percent") > 0 && num(q, "unreadable_percent") < 5);
        assert_non_null(strstr(text, "Austin could not read the stack in "));
        /* the sampler that ran is named; py-spy did not run */
        assert_string_equal(str(doc, "sampler"), "Austin");
        assert_non_null(strstr(text, "Austin's own CPU"));
        assert_null(strstr(text, "py-spy"));
        assert_null(strstr(text, "nan"));
        free(text);
        cJSON_Delete(doc);
}

static void test_idle_uvicorn(void **state)
{
        char *text = NULL;
        cJSON *doc = capture("uvicorn-idle", &text);

        assert_nothing_raised(doc, "uvicorn-idle");
        assert_null(strstr(text, "py-spy"));
        free(text);
        cJSON_Delete(doc);
        /* and with the idle scenario's targets (95 % idle threads, CPU under 5 %), which it meets */
        doc = capture_idle("uvicorn-idle", 1, NULL);
        assert_true(cJSON_IsTrue(get(doc, "idle_scenario")));
        assert_nothing_raised(doc, "uvicorn-idle as an idle scenario");
        cJSON_Delete(doc);
}

/* A fresh app whose cache fills under load (+1.8 MB in 45 s, slowing, flat at the end): a warm-up, not a leak. */
static void test_warmup_is_no_leak(void **state)
{
        char *text = NULL;
        cJSON *doc = capture("uvicorn-warmup", &text);
        const cJSON *m = get(get(doc, "csv"), "memory");

        assert_nothing_raised(doc, "uvicorn-warmup");
        assert_null(finding_of(doc, "memory-leak"));
        assert_null(finding_of(doc, "memory-growth"));
        assert_string_equal(str(m, "verdict"), "warm-up");
        /* no MB/h where the report calls no leak */
        assert_null(get(m, "trend_mb_per_hour"));
        assert_null(strstr(text, "MB/h"));
        assert_non_null(strstr(text, "warm-up"));
        free(text);
        cJSON_Delete(doc);
}

/* Threads born mid-session: each seen from its own start (the Late thread at ~6.2 s, the pool's at ~7.6 s). */
static void test_threads_born_late(void **state)
{
        cJSON *doc = capture("uvicorn-late-thread", NULL);
        const cJSON *t;
        int late = 0, pool = 0;

        assert_nothing_raised(doc, "uvicorn-late-thread");
        cJSON_ArrayForEach(t, get(doc, "threads"))
        {
                double first = num(t, "first_seconds"), seconds = num(t, "seconds");
                if (strcmp(str(t, "name"), "Late") == 0) {
                        late++;
                        assert_true(first > 5.5 && first < 7);
                        assert_true(seconds > 8 && seconds < 9.5); /* seen from then to the end */
                } else if (strcmp(str(t, "name"), "MainThread") != 0) {
                        pool++;
                        assert_true(first > 7 && first < 8.5);
                } else
                        assert_true(first < 0.1);
        }
        assert_int_equal(late, 1);
        assert_int_equal(pool, 2);
        cJSON_Delete(doc);
}

/* 130 threads of one request each: a short table, the rest summed up by their entry function. */
static void test_thread_per_connection(void **state)
{
        char *text = NULL;
        cJSON *doc = capture("threaded-server", &text);
        const cJSON *g;
        size_t lines = 0;

        assert_nothing_raised(doc, "threaded-server");
        assert_true(cJSON_GetArraySize(get(doc, "threads")) <= 20);
        /* every thread is in the table or a group: 130 short-lived ones, most by their entry function */
        {
                double in_groups = 0;
                cJSON_ArrayForEach(g, get(doc, "thread_groups"))
                {
                        assert_true(cJSON_IsTrue(get(g, "short_lived")));
                        in_groups += num(g, "threads");
                }
                assert_int_equal((int) in_groups + cJSON_GetArraySize(get(doc, "threads")),
                                 (int) num(get(get(doc, "source"), "profile"), "threads"));
                assert_true(in_groups > 120);
        }
        g = cJSON_GetArrayItem(get(doc, "thread_groups"), 0);
        assert_non_null(g);
        assert_true(num(g, "threads") > 80);
        assert_string_equal(str(get(g, "entry"), "name"), "ThreadingMixIn.process_request_thread");
        assert_true(num(g, "core_percent") > 1 && num(g, "core_percent") < 20);
        assert_string_equal(str(get(g, "mostly_in"), "name"), "Handler.do_GET");
        assert_non_null(strstr(text, "short-lived threads"));
        for (const char *p = text; *p; p++)
                lines += *p == '\n';
        assert_true(lines < 100);
        assert_no_invalid_hot(doc);
        free(text);
        cJSON_Delete(doc);
}

/* --vs: unnamed threads are not matched by tid across two processes; a figure one side lacks is "-", not nan. */
static void test_vs(void **state)
{
        const char *dir = getenv("PAMPROF_FIXTURES"), *gen = getenv("PAMPROF_REPORT_FIXTURES");
        char *a, *b, *c, *text = NULL, *err = NULL;
        ReportPaths pa, pb, pc;
        ReportInputs in = { .idle = -1 }, other = { .idle = -1 };
        cJSON *doc = NULL;
        const cJSON *t;
        size_t len = 0;
        FILE *out;
        bool pool = false;

        assert_non_null(dir);
        assert_non_null(gen);
        assert_true(asprintf(&a, "%s/captures/uvicorn-loaded/uvicorn-loaded", dir) > 0);
        assert_true(asprintf(&b, "%s/captures/uvicorn-late-thread/uvicorn-late-thread", dir) > 0);
        assert_true(asprintf(&c, "%s/pam_idle-leak_20260101_120000", gen) > 0);
        assert_int_equal(report_find_siblings(a, &pa), 0);
        assert_int_equal(report_find_siblings(b, &pb), 0);
        assert_int_equal(report_find_siblings(c, &pc), 0);
        in.profile = pa.profile;
        in.csv = pa.csv;
        in.threads = pa.threads;
        in.session = pa.session;
        other.profile = pb.profile;
        other.csv = pb.csv;
        other.threads = pb.threads;
        other.session = pb.session;
        out = open_memstream(&text, &len);
        assert_int_equal(report_run_files(&in, &other, true, out, &err), 0);
        fclose(out);
        doc = cJSON_Parse(text);
        assert_non_null(doc);
        cJSON_ArrayForEach(t, get(get(doc, "vs"), "threads"))
        {
                const char *name = str(t, "name");
                assert_null(strstr(name, "Thread ")); /* no tid of one run matched against another's */
                if (strcmp(name, "unnamed threads in WorkerThread.run") == 0) {
                        pool = true;
                        /* both sides have anyio's two workers */
                        assert_true(num(t, "core_percent") > 0 && num(t, "other_core_percent") > 0);
                }
        }
        assert_true(pool);
        cJSON_Delete(doc);
        free(text);
        text = NULL;
        /* the leak has a memory trend, the loaded app none; the other has no thread pool at all */
        other.profile = pc.profile;
        other.csv = pc.csv;
        other.threads = pc.threads;
        other.session = pc.session;
        out = open_memstream(&text, &len);
        assert_int_equal(report_run_files(&in, &other, false, out, &err), 0);
        fclose(out);
        assert_non_null(strstr(text, "memory_trend_mb_per_hour"));
        assert_null(strstr(text, "nan"));
        free(text);
        free(err);
        free(a);
        free(b);
        free(c);
        report_paths_done(&pa);
        report_paths_done(&pb);
        report_paths_done(&pc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_loaded_uvicorn),        cmocka_unit_test(test_idle_uvicorn),
                cmocka_unit_test(test_warmup_is_no_leak),     cmocka_unit_test(test_threads_born_late),
                cmocka_unit_test(test_thread_per_connection), cmocka_unit_test(test_vs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
