/* SPDX-License-Identifier: MIT */
/*
 * pamprofctl report's findings on sessions of known behaviour, written by
 * tests/tools/make-profiles.py (py-spy's shape, exponentially spaced
 * samples, Python frames only, as real py-spy writes them) into
 * $PAMPROF_REPORT_FIXTURES at build time: each pattern is found, with its
 * thread, function and numbers, and nothing else is flagged; the clean
 * session has no finding at all. Then the pieces: frame tables, the CSV
 * readers, the memory verdict, siblings, text, JSON and descriptors.
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

#include "report-analysis.h"
#include "report-classify.h"
#include "report-csv.h"
#include "report-finding.h"
#include "report.h"
#include "test-json.h"

static char *fixture(const char *name)
{
        const char *dir = getenv("PAMPROF_REPORT_FIXTURES");
        char *p;

        if (!dir)
                fail_msg("PAMPROF_REPORT_FIXTURES is not set (meson test sets it)");
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

enum { WITH_PROFILE = 1, WITH_CSV = 2, WITH_THREADS = 4, WITH_SESSION = 8, WITH_ALL = 15 };

static int open_or(const char *path, bool want)
{
        int fd;

        if (!want || !path)
                return -1;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static void fds_of(const char *session, int with, ReportFds *fds, ReportPaths *p)
{
        char *prefix = fixture(session);

        assert_int_equal(report_find_siblings(prefix, p), 0);
        free(prefix);
        *fds = (ReportFds) REPORT_FDS_INIT;
        fds->profile = open_or(p->profile, with & WITH_PROFILE);
        fds->csv = open_or(p->csv, with & WITH_CSV);
        fds->threads = open_or(p->threads, with & WITH_THREADS);
        fds->session = open_or(p->session, with & WITH_SESSION);
}

static void fds_close(ReportFds *fds)
{
        int v[] = { fds->profile, fds->csv, fds->threads, fds->session };

        for (size_t i = 0; i < 4; i++)
                if (v[i] >= 0)
                        close(v[i]);
}

static cJSON *build(const char *session, int with)
{
        ReportPaths p;
        ReportFds fds;
        cJSON *doc = NULL;
        char *err = NULL;
        int r;

        fds_of(session, with, &fds, &p);
        r = report_build(&fds, NULL, &doc, &err);
        if (r < 0)
                fail_msg("%s: %s", session, err ? err : strerror(-r));
        fds_close(&fds);
        report_paths_done(&p);
        free(err);
        return doc;
}

/* The finding of kind, checked to carry the evidence every finding must have. */
static const cJSON *finding(const cJSON *doc, const char *kind)
{
        const cJSON *f;

        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                if (strcmp(str(f, "kind"), kind) != 0)
                        continue;
                assert_true(strlen(str(f, "title")) > 20);
                assert_true(cJSON_GetArraySize(get(f, "evidence")) >= 1);
                assert_true(strlen(str(f, "where")) > 10);
                assert_true(isfinite(num(f, "score")));
                assert_true(isfinite(num(f, "rank")));
                return f;
        }
        {
                char *s = cJSON_Print(get(doc, "findings"));
                fail_msg("no \"%s\" finding in %s", kind, s);
        }
        return NULL;
}

/* Every finding's kind is one of the allowed ones (a NULL-terminated list). */
static void only_kinds(const cJSON *doc, ...)
{
        const cJSON *f;

        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                va_list ap;
                const char *k;
                bool ok = false;
                va_start(ap, doc);
                while ((k = va_arg(ap, const char *)))
                        ok = ok || strcmp(k, str(f, "kind")) == 0;
                va_end(ap);
                if (!ok)
                        fail_msg("unexpected finding: %s: %s", str(f, "kind"), str(f, "title"));
        }
}

static void assert_thread(const cJSON *f, const char *name)
{
        assert_string_equal(str(get(f, "thread"), "name"), name);
        assert_true(num(get(f, "thread"), "tid") > 0);
}

static void assert_function(const cJSON *f, const char *name, int line)
{
        assert_string_equal(str(get(f, "function"), "name"), name);
        assert_true(strlen(str(get(f, "function"), "file")) > 0);
        if (line)
                assert_int_equal((int) num(get(f, "function"), "line"), line);
}

static void test_clean(void **state)
{
        cJSON *doc = build("pam_idle-no-leaffc_20260101_120000", WITH_ALL);
        const cJSON *t;

        assert_true(cJSON_IsTrue(get(doc, "idle_scenario")));
        assert_string_equal(str(doc, "scenario"), "idle-no-leaffc");
        assert_int_equal(cJSON_GetArraySize(get(doc, "findings")), 0);
        assert_int_equal(cJSON_GetArraySize(get(doc, "threads")), 6);
        cJSON_ArrayForEach(t, get(doc, "threads"))
        {
                assert_true(num(t, "idle_percent") >= 99);
                assert_true(isfinite(num(t, "cpu_mean")));
        }
        /* The main thread first, named by py-spy, joined with /proc's "uvicorn" by tid. */
        t = cJSON_GetArrayItem(get(doc, "threads"), 0);
        assert_string_equal(str(t, "name"), "MainThread");
        assert_string_equal(str(t, "comm"), "uvicorn");
        assert_true(cJSON_IsTrue(get(t, "event_loop")));
        assert_string_equal(str(get(get(doc, "csv"), "memory"), "verdict"), "stable");
        assert_true(num(get(get(doc, "csv"), "cpu_percent"), "mean") < 5);
        assert_int_equal(cJSON_GetArraySize(get(get(doc, "csv"), "spikes")), 0);
        assert_int_equal(cJSON_GetArraySize(get(doc, "warnings")), 0);
        cJSON_Delete(doc);
}

static void test_busy_wait(void **state)
{
        cJSON *doc = build("pam_idle-busywait_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "busy-wait");

        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "LinkWaiter");
        assert_function(f, "_check_ready", 415);
        assert_true(num(get(f, "numbers"), "cpu_mean") > 95);
        assert_true(num(get(f, "numbers"), "idle_percent") < 1);
        assert_true(num(get(f, "numbers"), "check_percent") > 90);
        assert_non_null(strstr(str(f, "title"), "_wait_for_link"));
        /* The idle-target breach of that thread is said in the same finding, not a second one. */
        assert_true(isfinite(num(get(f, "numbers"), "thread_idle_percent")));
        /* The whole process is over the idle CPU target, because of it: that is the other finding. */
        only_kinds(doc, "busy-wait", "cpu-target", NULL);
        assert_int_equal(num(cJSON_GetArrayItem(get(doc, "findings"), 0), "rank"), 1);
        cJSON_Delete(doc);
}

/* Austin's qualified names ("Condition.wait", "Queue.get", "Task.__step") mean what py-spy's bare ones do:
 * the same session named both ways reads the same. */
static void test_qualified_names(void **state)
{
        cJSON *bare = build("pam_idle-no-leaffc_20260101_120000", WITH_ALL);
        cJSON *doc = build("pam_idle-qualnames_20260101_120000", WITH_ALL);
        const cJSON *t, *b, *loop;
        int i = 0;

        assert_int_equal(cJSON_GetArraySize(get(doc, "findings")), 0);
        assert_int_equal(cJSON_GetArraySize(get(doc, "threads")), 6);
        cJSON_ArrayForEach(t, get(doc, "threads"))
        {
                b = cJSON_GetArrayItem(get(bare, "threads"), i++);
                assert_string_equal(str(t, "name"), str(b, "name"));
                assert_true(cJSON_Compare(get(t, "waits_percent"), get(b, "waits_percent"), true));
        }
        /* Known by name, not inferred from /proc: the loop waits in EpollSelector.select, the worker in
         * Condition.wait under Queue.get. */
        assert_true(num(get(cJSON_GetArrayItem(get(doc, "threads"), 0), "waits_percent"), "select/poll") >
                    99);
        assert_true(num(get(cJSON_GetArrayItem(get(doc, "threads"), 1), "waits_percent"), "queue get") > 99);
        /* Task.__step and Handle._run mark the coroutines' steps. */
        loop = cJSON_GetArrayItem(get(doc, "event_loop"), 0);
        assert_true(num(loop, "coroutine_percent") > 0.2);
        assert_true(fabs(num(loop, "coroutine_percent") -
                         num(cJSON_GetArrayItem(get(bare, "event_loop"), 0), "coroutine_percent")) < 0.01);
        assert_string_equal(str(get(cJSON_GetArrayItem(get(loop, "coroutines"), 0), "function"), "name"),
                            "publish_health_status");
        cJSON_Delete(doc);
        cJSON_Delete(bare);

        doc = build("pam_idle-busywait-qualnames_20260101_120000", WITH_ALL);
        assert_thread(finding(doc, "busy-wait"), "LinkWaiter");
        only_kinds(doc, "busy-wait", "cpu-target", NULL);
        cJSON_Delete(doc);
}

static void test_fast_periodic(void **state)
{
        cJSON *doc = build("pam_idle-fastpoll_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "periodic"), *p;

        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "TelemetryPoller");
        assert_function(f, "poll_status", 104);
        assert_true(num(get(f, "numbers"), "bursts_per_second") > 10);
        assert_true(fabs(num(get(f, "numbers"), "thread_percent") - 20) < 4); /* 0.4 ms every 2 ms */
        assert_non_null(strstr(str(f, "title"), "every few milliseconds"));
        only_kinds(doc, "periodic", "cpu-target", NULL);
        /* The slow periodic work of the clean part is at most listed, never flagged (it runs 3 ms a second, so
         * only about 15 of its 60 runs are sampled: whether that is enough to call it regular varies). */
        cJSON_ArrayForEach(p, get(doc, "periodic"))
        {
                if (strcmp(str(get(p, "function"), "name"), "publish_health_status") == 0) {
                        assert_false(cJSON_IsTrue(get(p, "fast")));
                        assert_true(fabs(num(p, "period_seconds") - 1.0) < 0.15);
                }
        }
        cJSON_Delete(doc);
}

static void check_async_sleep(const char *session)
{
        cJSON *doc = build(session, WITH_ALL);
        const cJSON *f = finding(doc, "blocking-async");

        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "MainThread");
        /* The line of the time.sleep() call in the coroutine, with or without the C frames of --native. */
        assert_function(f, "refresh_petal_status", 57);
        assert_true(fabs(num(get(f, "numbers"), "loop_percent") - 10) < 2); /* 50 ms every 500 ms */
        assert_true(num(get(f, "numbers"), "long_steps") > 30);
        only_kinds(doc, "blocking-async", NULL);
        cJSON_Delete(doc);
}

static void test_async_sleep(void **state)
{
        check_async_sleep("pam_idle-asyncsleep_20260101_120000");
        check_async_sleep("pam_idle-asyncsleep-native_20260101_120000");
}

static void test_async_sleep_no_cpu(void **state)
{
        /* Without _threads.csv: the 50 ms stretches still show, as a warning that says what it cannot tell. */
        cJSON *doc = build("pam_idle-asyncsleep_20260101_120000", WITH_PROFILE | WITH_CSV | WITH_SESSION);
        const cJSON *f = finding(doc, "blocking-async");

        assert_string_equal(str(f, "severity"), "warning");
        assert_thread(f, "MainThread");
        assert_string_equal(str(get(f, "function"), "name"), "refresh_petal_status");
        cJSON_Delete(doc);
}

/* A name that can wait (threading's Event.wait) is no blocking call when the thread's CPU says it ran. */
static void test_wait_on_cpu(void **state)
{
        cJSON *doc = build("pam_mission-execution_20260101_140000", WITH_ALL);
        const cJSON *f, *l;

        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                assert_string_not_equal(str(f, "kind"), "blocking-async");
        }
        l = cJSON_GetArrayItem(get(doc, "event_loop"), 0);
        assert_true(cJSON_IsTrue(get(l, "waits_ran_on_cpu")));
        cJSON_Delete(doc);
        /* Without the threads CSV, the name is all there is: the finding stands. */
        doc = build("pam_mission-execution_20260101_140000", WITH_PROFILE | WITH_CSV | WITH_SESSION);
        f = finding(doc, "blocking-async");
        assert_non_null(strstr(str(f, "title"), "stream_telemetry"));
        cJSON_Delete(doc);
}

static void test_serialization(void **state)
{
        cJSON *doc = build("pam_mission-execution_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "serialization"), *n = get(f, "numbers");

        assert_false(cJSON_IsTrue(get(doc, "idle_scenario")));
        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "MessageBus");
        assert_string_equal(str(get(f, "function"), "name"), "send_message");
        assert_true(num(n, "dumps_seconds") > 0 && num(n, "loads_seconds") > 0);
        assert_true(fabs(num(n, "caller_percent") - 80) < 10);
        only_kinds(doc, "serialization", NULL);
        cJSON_Delete(doc);
}

static void test_leak(void **state)
{
        cJSON *doc = build("pam_idle-leak_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "memory-leak"), *m = get(get(doc, "csv"), "memory");

        assert_string_equal(str(f, "severity"), "problem");
        assert_true(fabs(num(get(f, "numbers"), "trend_mb_per_hour") - 3600) < 20); /* 1 MB/s */
        assert_string_equal(str(m, "verdict"), "leak");
        assert_string_equal(str(m, "confidence"), "high");
        only_kinds(doc, "memory-leak", NULL);
        cJSON_Delete(doc);
        /* The CSV alone is enough for it. */
        doc = build("pam_idle-leak_20260101_120000", WITH_CSV);
        finding(doc, "memory-leak");
        assert_null(get(doc, "threads"));
        cJSON_Delete(doc);
}

static void test_no_idle_stacks(void **state)
{
        /* py-spy without --idle: idle shares come from sample counts; the spinning thread still shows. */
        cJSON *doc = build("pam_idle-noidle_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "busy-wait");

        assert_thread(f, "LinkWaiter");
        assert_false(cJSON_IsTrue(get(get(get(doc, "source"), "profile"), "idle_included")));
        assert_null(get(doc, "periodic"));
        assert_true(cJSON_GetArraySize(get(doc, "warnings")) >= 1);
        assert_non_null(strstr(cJSON_GetArrayItem(get(doc, "warnings"), 0)->valuestring, "--idle"));
        only_kinds(doc, "busy-wait", "cpu-target", NULL);
        cJSON_Delete(doc);
}

static void test_spike_lined_up(void **state)
{
        cJSON *doc = build("pam_rc-stream_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "cpu-spike"), *sp;

        assert_string_equal(str(f, "severity"), "note"); /* not an idle scenario */
        assert_true(num(get(f, "numbers"), "start_seconds") >= 19 &&
                    num(get(f, "numbers"), "end_seconds") <= 24);
        assert_thread(f, "RCStreamer");
        assert_function(f, "encode_rc_channels", 80);
        sp = cJSON_GetArrayItem(get(get(doc, "csv"), "spikes"), 0);
        assert_true(num(cJSON_GetArrayItem(get(sp, "profile"), 0), "percent") > 80);
        only_kinds(doc, "cpu-spike", NULL);
        cJSON_Delete(doc);
}

static void test_spike_after_restart(void **state)
{
        /* PAM restarts at 30 s as pid 5000; pamprofd's merge names its threads "pid 5000: ..." and their
         * time starts at that run's start (32 s): the spike at 42-45 s is 10-13 s into that thread. */
        cJSON *doc = build("pam_rc-stream_20260101_130000", WITH_ALL);
        const cJSON *f = finding(doc, "cpu-spike");

        assert_thread(f, "RCStreamer");
        assert_int_equal((int) num(get(f, "thread"), "tid"), 5007);
        assert_non_null(strstr(str(get(f, "thread"), "profile"), "pid 5000: Thread 5007"));
        assert_true(num(get(f, "numbers"), "start_seconds") >= 41 &&
                    num(get(f, "numbers"), "end_seconds") <= 46);
        assert_non_null(strstr(str(f, "where"), "from 10.0 s to 13.0 s"));
        only_kinds(doc, "cpu-spike", NULL);
        cJSON_Delete(doc);
}

/* Samples the converter left out (a thread id no thread has) are said, counted from the record. */
static void test_left_out_samples_are_said(void **state)
{
        cJSON *doc = build("pam_idle-no-leaffc_20260101_150000", WITH_ALL);
        const cJSON *q = get(doc, "data_quality");
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        assert_int_equal((int) num(q, "left_out_samples"), 600);
        assert_true(num(q, "left_out_percent") > 0 && num(q, "left_out_percent") < 100);
        report_print_text(doc, f);
        fclose(f);
        assert_non_null(strstr(text, "600 samples ("));
        assert_non_null(
                strstr(text, "a thread id no thread has (a failed read): the conversion left them out"));
        only_kinds(doc, NULL);
        free(text);
        cJSON_Delete(doc);
        /* without the count in the record: no such line */
        doc = build("pam_idle-no-leaffc_20260101_120000", WITH_ALL);
        assert_null(get(doc, "data_quality"));
        cJSON_Delete(doc);
}

static void test_spike_after_restart_on_one_clock(void **state)
{
        /* The same, merged as pamprofd merges now: pid 5000's threads begin with 31.95 s of nothing
         * (its run's start on the first run's clock), so the spike is where speedscope's Time Order
         * view shows it, 42-45 s, and no offset is added twice. */
        cJSON *doc = build("pam_rc-stream_20260101_140000", WITH_ALL);
        const cJSON *f = finding(doc, "cpu-spike");

        assert_thread(f, "RCStreamer");
        assert_int_equal((int) num(get(f, "thread"), "tid"), 5007);
        assert_true(num(get(f, "numbers"), "start_seconds") >= 41 &&
                    num(get(f, "numbers"), "end_seconds") <= 46);
        assert_non_null(strstr(str(f, "where"), "Time Order view from 42.0 s to 45.0 s"));
        assert_function(f, "encode_rc_channels", 80);
        only_kinds(doc, "cpu-spike", NULL);
        cJSON_Delete(doc);
}

/*
 * Issue 13 on py-spy profiles (the captures of test-report-captures.c are
 * Austin's): OutboxSender looks at its outbox every millisecond for 15 us and
 * time.sleep()s in between (mqtt.py:212): asleep in 98.6 % of the samples,
 * 912 wake-ups a second by the CSV (the simulation's own count).
 */
static void test_polling(void **state)
{
        cJSON *doc = build("pam_idle-poller_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "polling"), *n = get(f, "numbers"), *t;
        bool dispatch = false;

        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "OutboxSender");
        assert_function(f, "_drain_outbox", 212);
        assert_true(num(n, "wakeups_per_second") > 880 && num(n, "wakeups_per_second") < 940);
        assert_true(num(n, "idle_percent") > 97);
        assert_true(num(n, "core_percent") > 1 && num(n, "core_percent") < 2);
        assert_true(num(n, "cpu_per_wakeup_us") > 10 &&
                    num(n, "cpu_per_wakeup_us") < 20); /* 15 us by design */
        only_kinds(doc, "polling", NULL);
        cJSON_ArrayForEach(t, get(doc, "threads"))
        {
                assert_true(isfinite(num(t, "wakeups_per_second")));
                /* DispatchWorker wakes as often, for items handed over a queue: work arriving, not polling. */
                if (strcmp(str(t, "name"), "DispatchWorker") == 0) {
                        assert_true(num(t, "wakeups_per_second") > 250 && num(t, "idle_percent") > 95);
                        dispatch = true;
                }
        }
        assert_true(dispatch);
        f = NULL;
        cJSON_ArrayForEach(t, get(doc, "findings"))
        {
                assert_null(f); /* one finding: OutboxSender's */
                f = t;
        }
        cJSON_Delete(doc);
        /* Without _threads.csv there is no wake-up count: no polling finding (the stacks alone cannot tell). */
        doc = build("pam_idle-poller_20260101_120000", WITH_PROFILE | WITH_CSV | WITH_SESSION);
        cJSON_ArrayForEach(t, get(doc, "findings"))
        {
                assert_string_not_equal(str(t, "kind"), "polling");
        }
        cJSON_Delete(doc);
}

/* A coroutine every 4 ms for 30 us (rc.py:44): the loop wakes 250 times a second; at 100 Hz the samples
 * catch one run in about 300, never its period. */
static void test_loop_wakeups(void **state)
{
        cJSON *doc = build("pam_idle-fastloop_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "loop-wakeups"), *n = get(f, "numbers");

        assert_string_equal(str(f, "severity"), "problem");
        assert_thread(f, "MainThread");
        assert_function(f, "stream_rc_override", 44);
        assert_true(num(n, "wakeups_per_second") > 240 && num(n, "wakeups_per_second") < 260);
        assert_true(num(n, "every_ms") > 3.8 && num(n, "every_ms") < 4.2);
        assert_true(num(n, "period_visible_hz") >= 500 && num(n, "period_visible_hz") <= 600);
        assert_true(num(n, "step_us") > 15 && num(n, "step_us") < 60); /* 30 us by design */
        assert_true(num(n, "runs_seen") >= 20);
        assert_non_null(strstr(str(f, "title"), "stream_rc_override"));
        only_kinds(doc, "loop-wakeups", NULL);
        cJSON_Delete(doc);
}

/* json.loads(json.dumps(status)) on one line, 0.4 ms twice a second: a note, at the bottom. */
static void test_cheap_roundtrip(void **state)
{
        cJSON *doc = build("pam_idle-roundtrip_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "serialization"), *n = get(f, "numbers"), *e;
        bool same_line = false;

        assert_string_equal(str(f, "severity"), "note");
        assert_thread(f, "StatusBridge");
        assert_function(f, "_publish_status", 48);
        assert_true(num(n, "core_percent") > 0.02 && num(n, "core_percent") < 0.2);
        cJSON_ArrayForEach(e, get(f, "evidence"))
        {
                same_line = same_line || strstr(e->valuestring, "on one line");
        }
        assert_true(same_line);
        only_kinds(doc, "serialization", NULL);
        cJSON_Delete(doc);
        /* An expensive one beside it ranks first: problems before notes. */
        doc = build("pam_mission-execution_20260101_120000", WITH_ALL);
        assert_string_equal(str(cJSON_GetArrayItem(get(doc, "findings"), 0), "severity"), "problem");
        cJSON_Delete(doc);
}

/* Periodic work the samples found gets the scheduler's count as evidence, not a second finding. */
static void test_wakeups_as_evidence(void **state)
{
        cJSON *doc = build("pam_idle-fastpoll_20260101_120000", WITH_ALL);
        const cJSON *f = finding(doc, "periodic");

        assert_true(num(get(f, "numbers"), "wakeups_per_second") > 480 &&
                    num(get(f, "numbers"), "wakeups_per_second") < 520); /* every 2 ms */
        only_kinds(doc, "periodic", "cpu-target", NULL);
        cJSON_Delete(doc);
}

static void test_vs_wakeups(void **state)
{
        ReportPaths pa, pb;
        ReportFds a, b;
        cJSON *doc = NULL;
        const cJSON *v, *t, *x;
        char *err = NULL;
        bool row = false;

        fds_of("pam_idle-poller_20260101_120000", WITH_ALL, &a, &pa);
        fds_of("pam_idle-no-leaffc_20260101_120000", WITH_ALL, &b, &pb);
        assert_int_equal(report_build(&a, &b, &doc, &err), 0);
        v = get(doc, "vs");
        t = cJSON_GetArrayItem(get(v, "thread_wakeups"), 0);
        assert_string_equal(str(t, "name"), "OutboxSender");
        assert_true(num(t, "change") > 880);
        assert_true(cJSON_IsNull(get(t, "other_wakeups_per_second")));
        cJSON_ArrayForEach(x, get(v, "csv"))
        {
                if (strcmp(str(x, "figure"), "wakeups_mean") != 0)
                        continue;
                row = true;
                assert_true(num(x, "change") > 880);
        }
        assert_true(row);
        cJSON_Delete(doc);
        fds_close(&a);
        fds_close(&b);
        report_paths_done(&pa);
        report_paths_done(&pb);
}

static void test_vs(void **state)
{
        ReportPaths pa, pb;
        ReportFds a, b;
        cJSON *doc = NULL;
        const cJSON *v, *t;
        char *err = NULL;

        fds_of("pam_idle-fastpoll_20260101_120000", WITH_ALL, &a, &pa);
        fds_of("pam_idle-no-leaffc_20260101_120000", WITH_ALL, &b, &pb);
        b.label = "before";
        assert_int_equal(report_build(&a, &b, &doc, &err), 0);
        v = get(doc, "vs");
        assert_string_equal(str(v, "other"), "before");
        t = cJSON_GetArrayItem(get(v, "threads"), 0);
        assert_string_equal(str(t, "name"), "TelemetryPoller");
        assert_true(num(t, "change") > 15);
        assert_true(cJSON_IsNull(get(t, "other_core_percent")));
        assert_string_equal(str(cJSON_GetArrayItem(get(v, "functions"), 0), "name"), "poll_status");
        t = cJSON_GetArrayItem(get(v, "csv"), 0);
        assert_string_equal(str(t, "figure"), "cpu_mean");
        assert_true(num(t, "this") > num(t, "other"));
        cJSON_Delete(doc);
        fds_close(&a);
        fds_close(&b);
        report_paths_done(&pa);
        report_paths_done(&pb);
}

static void test_text_matches_json(void **state)
{
        cJSON *doc = build("pam_idle-busywait_20260101_120000", WITH_ALL);
        const cJSON *f;
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);

        report_print_text(doc, out);
        fclose(out);
        assert_non_null(strstr(text, "Findings, most important first:"));
        cJSON_ArrayForEach(f, get(doc, "findings"))
        {
                const cJSON *e;
                assert_non_null(strstr(text, str(f, "title")));
                assert_non_null(strstr(text, str(f, "where")));
                cJSON_ArrayForEach(e, get(f, "evidence"))
                {
                        assert_non_null(strstr(text, e->valuestring));
                }
        }
        assert_non_null(strstr(text, "Thread 4249 \"LinkWaiter\""));
        assert_non_null(strstr(text, "Hot code"));
        assert_non_null(strstr(text, "CPU and memory"));
        free(text);
        cJSON_Delete(doc);
}

static void test_write_fd(void **state)
{
        ReportPaths p;
        ReportFds fds;
        char txt[] = "/tmp/test-report-txt-XXXXXX", js[] = "/tmp/test-report-json-XXXXXX";
        int t = mkstemp(txt), j = mkstemp(js);
        char buf[1 << 16];
        ssize_t n;
        cJSON *doc;

        assert_true(t >= 0 && j >= 0);
        fds_of("pam_mission-execution_20260101_120000", WITH_ALL, &fds, &p);
        assert_int_equal(report_write_fd(&fds, t, j, NULL, NULL), 0);
        /* The descriptors are left open, at the end of what was written. */
        assert_true(lseek(j, 0, SEEK_CUR) > 100);
        assert_int_equal(lseek(j, 0, SEEK_SET), 0);
        n = read(j, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        doc = cJSON_Parse(buf);
        assert_non_null(doc);
        finding(doc, "serialization");
        cJSON_Delete(doc);
        assert_int_equal(lseek(t, 0, SEEK_SET), 0);
        n = read(t, buf, sizeof(buf) - 1);
        assert_true(n > 0);
        buf[n] = '\0';
        assert_non_null(strstr(buf, "[serialization]"));
        /* Read a second time from the same descriptors: they are rewound, not consumed. */
        assert_int_equal(report_write_fd(&fds, -1, -1, NULL, NULL), 0);
        fds_close(&fds);
        report_paths_done(&p);
        close(t);
        close(j);
        unlink(txt);
        unlink(js);
}

static void test_bad_inputs(void **state)
{
        ReportFds fds = REPORT_FDS_INIT;
        cJSON *doc = NULL;
        char *err = NULL;
        char path[] = "/tmp/test-report-bad-XXXXXX";
        int fd = mkstemp(path);

        assert_int_equal(report_build(&fds, NULL, &doc, &err), -EINVAL);
        assert_non_null(err);
        free(err);
        err = NULL;
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "{\"$schema\":\"speedscope\",\"profiles\":[", 36), 36);
        fds.profile = fd;
        fds.profile_name = "cut.json";
        assert_int_equal(report_build(&fds, NULL, &doc, &err), -EBADMSG);
        assert_non_null(strstr(err, "cut.json: the file ends early"));
        free(err);
        err = NULL;
        /* A bad CSV next to a good profile is a warning, not a failure. */
        {
                ReportPaths p;
                ReportFds f2;
                fds_of("pam_idle-no-leaffc_20260101_120000", WITH_PROFILE, &f2, &p);
                f2.csv = fd;
                assert_int_equal(report_build(&f2, NULL, &doc, &err), 0);
                assert_non_null(strstr(cJSON_GetArrayItem(get(doc, "warnings"), 0)->valuestring,
                                       "CPU CSV not used"));
                cJSON_Delete(doc);
                f2.csv = -1;
                fds_close(&f2);
                report_paths_done(&p);
        }
        close(fd);
        unlink(path);
}

static void test_double_standin(void **state)
{
        /* tests/tools/py-spy (the test double) against the PAM stand-in: its sleeps read as idle. */
        const char *dir = getenv("PAMPROF_FIXTURES");
        char *path;
        ReportFds fds = REPORT_FDS_INIT;
        cJSON *doc = NULL;
        const cJSON *t;

        assert_non_null(dir);
        assert_true(asprintf(&path, "%s/report/standin-double_profile.speedscope.json", dir) > 0);
        fds.profile = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fds.profile >= 0);
        fds.idle = 1;
        assert_int_equal(report_build(&fds, NULL, &doc, NULL), 0);
        assert_int_equal(cJSON_GetArraySize(get(doc, "findings")), 0);
        assert_int_equal(cJSON_GetArraySize(get(doc, "threads")), 4);
        cJSON_ArrayForEach(t, get(doc, "threads"))
        {
                assert_true(num(t, "idle_percent") > 95);
        }
        assert_true(cJSON_IsTrue(get(cJSON_GetArrayItem(get(doc, "threads"), 0), "event_loop")));
        cJSON_Delete(doc);
        close(fds.profile);
        free(path);
}

static void test_siblings(void **state)
{
        char *prof = fixture("pam_idle-leak_20260101_120000_profile.speedscope.json");
        char *csv = fixture("pam_idle-leak_20260101_120000_cpu.csv");
        ReportPaths p;

        assert_int_equal(report_find_siblings(csv, &p), 0);
        assert_string_equal(p.profile, prof);
        assert_non_null(p.threads);
        assert_non_null(p.session);
        assert_non_null(strstr(p.prefix, "pam_idle-leak_20260101_120000"));
        report_paths_done(&p);
        assert_int_equal(report_find_siblings("/nonexistent/pam_x_1_2_cpu.csv", &p), 0);
        assert_null(p.profile);
        assert_null(p.csv);
        report_paths_done(&p);
        free(prof);
        free(csv);
}

/* ---- the pieces ---- */

/*
 * A thread of 6000 samples (60 s at 100 Hz) waiting in threading's wait, and in task() where in_task
 * says: the period finding on exactly known timelines.
 */

static cJSON *periodic_of(bool (*in_task)(size_t i, unsigned *seed))
{
        SsModel *m = ss_model_new();
        uint32_t idle[3] = { 0, 1, 2 }, work[3] = { 0, 1, 3 };
        unsigned seed = 42;
        RpContext c;
        cJSON *findings = cJSON_CreateArray(), *sec;

        assert_int_equal(ss_model_add_frame(m, "run", "/usr/lib/python3.11/threading.py", 975), 0);
        assert_int_equal(ss_model_add_frame(m, "loop", "/opt/pam/app.py", 10), 0);
        assert_int_equal(ss_model_add_frame(m, "wait", "/usr/lib/python3.11/threading.py", 324), 0);
        assert_int_equal(ss_model_add_frame(m, "task", "/opt/pam/app.py", 40), 0);
        assert_int_equal(ss_model_begin_profile(m), 0);
        assert_int_equal(ss_model_set_name(m, "Thread 7 \"Ticker\""), 0);
        assert_int_equal(ss_model_set_unit(m, "seconds"), 0);
        for (size_t i = 0; i < 6000; i++)
                assert_int_equal(ss_model_add_sample(m, in_task(i, &seed) ? work : idle, 3), 0);
        assert_int_equal(ss_model_add_weights(m, 0.01, 6000), 0);
        assert_int_equal(ss_model_end_profile(m, NULL), 0);
        assert_int_equal(ss_model_finish(m, NULL), 0);
        assert_int_equal(rp_context_build(m, NULL, 0, &(RpOptions){ .idle = 1, .duration = NAN }, &c), 0);
        sec = cJSON_CreateObject();
        cJSON_AddItemToObject(sec, "periodic", report_periodic(&c, findings));
        cJSON_AddItemToObject(sec, "findings", findings);
        rp_context_done(&c);
        ss_model_free(m);
        return sec;
}

static bool every_second_sometimes(size_t i, unsigned *seed)
{
        /* 2 samples every 100, at a jittered spot, caught 60 % of the time */
        size_t k = i % 100;
        return k >= 50 && k < 52 && (i / 100) % 5 != 1 && (i / 100) % 5 != 3;
}

static bool every_40ms(size_t i, unsigned *seed)
{
        return i % 4 == 0;
}

static bool independent_fifth(size_t i, unsigned *seed)
{
        return rand_r(seed) % 5 == 0; /* in 20 % of samples, whatever the one before */
}

static bool random_rare(size_t i, unsigned *seed)
{
        return rand_r(seed) % 150 == 0; /* now and then, no period */
}

static void test_periodic_timelines(void **state)
{
        cJSON *sec = periodic_of(every_second_sometimes), *p = cJSON_GetArrayItem(get(sec, "periodic"), 0);

        assert_int_equal(cJSON_GetArraySize(get(sec, "periodic")), 1);
        assert_true(fabs(num(p, "period_seconds") - 1.0) < 0.02);
        assert_false(cJSON_IsTrue(get(p, "fast")));
        assert_int_equal(cJSON_GetArraySize(get(sec, "findings")), 0); /* once a second is fine */
        cJSON_Delete(sec);

        /* 25 times a second: flagged (py-spy's clock, the sample count, cannot time periods this short,
         * so it is reported as work faster than the report can time) */
        sec = periodic_of(every_40ms);
        assert_int_equal(cJSON_GetArraySize(get(sec, "findings")), 1);
        assert_non_null(
                strstr(str(cJSON_GetArrayItem(get(sec, "findings"), 0), "title"), "every few milliseconds"));
        cJSON_Delete(sec);

        sec = periodic_of(independent_fifth);
        p = cJSON_GetArrayItem(get(sec, "periodic"), 0);
        assert_true(cJSON_IsTrue(get(p, "fast")));
        assert_int_equal(cJSON_GetArraySize(get(sec, "findings")), 1);
        cJSON_Delete(sec);

        sec = periodic_of(random_rare);
        assert_int_equal(cJSON_GetArraySize(get(sec, "periodic")), 0);
        cJSON_Delete(sec);
}

static WaitKind wait_of(const char *name, const char *file, const char *caller, const char *caller_file)
{
        SsModel *m = ss_model_new();
        uint32_t stack[3] = { 0, 1, 2 };
        WaitKind k;

        assert_int_equal(ss_model_add_frame(m, "run", "/usr/lib/python3.11/threading.py", 975), 0);
        assert_int_equal(ss_model_add_frame(m, caller, caller_file, 10), 0);
        assert_int_equal(ss_model_add_frame(m, name, file, 20), 0);
        assert_int_equal(ss_model_begin_profile(m), 0);
        assert_int_equal(ss_model_add_sample(m, stack, 3), 0);
        assert_int_equal(ss_model_end_profile(m, NULL), 0);
        assert_int_equal(ss_model_finish(m, NULL), 0);
        k = classify_wait(m, m->threads[0].runs[0].node);
        ss_model_free(m);
        return k;
}

static void test_classify(void **state)
{
        const char *lib = "/usr/lib/python3.11/", *app = "/opt/pam/app.py";
        char t[128], q[128], s[128], c[128], so[128], ssl[128], run[128];
        SsFrame f;

        snprintf(t, sizeof(t), "%sthreading.py", lib);
        snprintf(q, sizeof(q), "%squeue.py", lib);
        snprintf(s, sizeof(s), "%sselectors.py", lib);
        snprintf(c, sizeof(c), "%sconcurrent/futures/thread.py", lib);
        snprintf(so, sizeof(so), "%ssocket.py", lib);
        snprintf(ssl, sizeof(ssl), "%sssl.py", lib);
        snprintf(run, sizeof(run), "%sasyncio/runners.py", lib);
        assert_int_equal(wait_of("wait", t, "loop", app), WAIT_LOCK);
        assert_int_equal(wait_of("wait", t, "get", q), WAIT_QUEUE);
        assert_int_equal(wait_of("_wait_for_tstate_lock", t, "join", t), WAIT_JOIN);
        assert_int_equal(wait_of("select", s, "_run_once", app), WAIT_SELECT);
        assert_int_equal(wait_of("_worker", c, "run", t), WAIT_QUEUE);
        assert_int_equal(wait_of("readinto", so, "readline", app), WAIT_IO);
        /* asyncio's selector loop accepts and reads only ready, non-blocking sockets: no wait (issue 17) */
        {
                char sel[128], sslp[128], ss[128];
                snprintf(sel, sizeof(sel), "%sasyncio/selector_events.py", lib);
                snprintf(sslp, sizeof(sslp), "%sasyncio/sslproto.py", lib);
                snprintf(ss, sizeof(ss), "%ssocketserver.py", lib);
                assert_int_equal(
                        wait_of("socket.accept", so, "BaseSelectorEventLoop._accept_connection", sel),
                        WAIT_NONE);
                assert_int_equal(wait_of("accept", so, "_accept_connection", sel), WAIT_NONE);
                assert_int_equal(wait_of("SSLObject.read", ssl, "SSLProtocol._do_read__copied", sslp),
                                 WAIT_NONE);
                /* a blocking server's accept, and a read of a blocking socket's file, still wait */
                assert_int_equal(wait_of("socket.accept", so, "TCPServer.get_request", ss), WAIT_IO);
                assert_int_equal(wait_of("SocketIO.readinto", so, "readline", app), WAIT_IO);
        }
        assert_int_equal(wait_of("read", ssl, "recv", app), WAIT_IO);
        assert_int_equal(wait_of("run", run, "run", run), WAIT_SELECT);      /* uvloop: the loop is in C */
        assert_int_equal(wait_of("sleep", "time", "loop", app), WAIT_SLEEP); /* the test double's */
        assert_int_equal(wait_of("sleep", "<built-in>", "loop", app), WAIT_SLEEP);
        /* --native: the C frames below the Python line. */
        assert_int_equal(wait_of("clock_nanosleep", "libc.so.6", "pysleep", "Modules/timemodule.c"),
                         WAIT_SLEEP);
        assert_int_equal(wait_of("__GI___poll", "/lib/libc.so.6", "loop", app), WAIT_SELECT);
        assert_int_equal(wait_of("do_futex_wait", "libc.so.6", "loop", app), WAIT_LOCK);
        assert_int_equal(wait_of("__libc_recv", "libc.so.6", "loop", app), WAIT_IO);
        assert_int_equal(wait_of("time_sleep", "timemodule.c", "loop", app), WAIT_SLEEP);
        /* Work: the same names elsewhere, and Python code in general. */
        assert_int_equal(wait_of("wait", app, "loop", app), WAIT_NONE);
        assert_int_equal(wait_of("sleep", "/usr/lib/python3.11/asyncio/tasks.py", "loop", app), WAIT_NONE);
        assert_int_equal(wait_of("compute", app, "loop", app), WAIT_NONE);
        assert_int_equal(wait_of("memcpy", "libc.so.6", "loop", app), WAIT_NONE);

        f = (SsFrame){ .name = "get", .file = "/venv/lib/python3.11/site-packages/requests/api.py" };
        assert_int_equal(classify_blocking(&f), BLOCK_HTTP);
        f = (SsFrame){ .name = "run", .file = "/usr/lib/python3.11/subprocess.py" };
        assert_int_equal(classify_blocking(&f), BLOCK_SUBPROCESS);
        f = (SsFrame){ .name = "read_text", .file = "/usr/lib/python3.11/pathlib.py" };
        assert_int_equal(classify_blocking(&f), BLOCK_FILE);
        f = (SsFrame){ .name = "stat", .file = "/usr/lib/python3.11/pathlib.py" };
        assert_int_equal(classify_blocking(&f), BLOCK_NONE);
        {
                const char *l = NULL;
                f = (SsFrame){ .name = "dumps", .file = "/usr/lib/python3.11/json/__init__.py" };
                assert_int_equal(classify_serializer(&f, &l), SER_DUMPS);
                assert_string_equal(l, "json");
                f = (SsFrame){ .name = "raw_decode", .file = "/usr/lib/python3.11/json/decoder.py" };
                assert_int_equal(classify_serializer(&f, &l), SER_LOADS);
                f = (SsFrame){ .name = "_pickle_loads_impl", .file = "Modules/_pickle.c" };
                assert_int_equal(classify_serializer(&f, &l), SER_LOADS);
                assert_string_equal(l, "pickle");
                f = (SsFrame){ .name = "dumps", .file = "/opt/pam/mine.py" };
                assert_int_equal(classify_serializer(&f, &l), SER_NONE);
        }
        f = (SsFrame){ .name = "_run", .file = "/usr/lib/python3.11/asyncio/events.py" };
        assert_int_equal(classify_loop(&f), LOOP_CALLBACK);
        assert_true(frame_is_plumbing(&f));
        f = (SsFrame){ .name = "<module>", .file = "uvicorn/__main__.py" };
        assert_true(frame_is_plumbing(&f));
        f = (SsFrame){ .name = "run", .file = "/usr/lib/python3/dist-packages/uvicorn/server.py" };
        assert_true(frame_is_plumbing(&f));
        f = (SsFrame){ .name = "publish_health_status", .file = "petal_app_manager/main.py" };
        assert_false(frame_is_plumbing(&f));
        f = (SsFrame){ .name = "x", .file = "/opt/myasyncio/x.py" };
        assert_false(frame_is_plumbing(&f));
        f = (SsFrame){ .name = "_run_once", .file = "/usr/lib/python3.11/asyncio/base_events.py" };
        assert_int_equal(classify_loop(&f), LOOP_DRIVER);
        f = (SsFrame){ .name = "x",
                       .file = "/opt/pam/.venv/lib/python3.11/site-packages/petal_app_manager/x.py" };
        assert_false(frame_is_stdlib(&f));
        assert_string_equal(short_file(f.file), "petal_app_manager/x.py");
        f = (SsFrame){ .name = "x", .file = "/usr/lib/python3.11/json/encoder.py" };
        assert_true(frame_is_stdlib(&f));
        assert_string_equal(short_file(f.file), "json/encoder.py");
        assert_true(file_is("/a/threading.py", "threading.py"));
        assert_false(file_is("/a/mythreading.py", "threading.py"));
}

static FILE *text_file(const char *text)
{
        FILE *f = fmemopen((void *) text, strlen(text), "r");

        assert_non_null(f);
        return f;
}

static void test_csv_readers(void **state)
{
        const char *csv = "\xEF\xBB\xBF"
                          "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp\r\n"
                          "1.0,1.5,200.0,2.5,2026-02-11T14:30:22.500+01:00\r\n"
                          "2.0,x,200.0,2.5,t\r\n"      /* text where a number belongs */
                          "0.5,1.0,200.0,2.5,t\r\n"    /* time going backwards */
                          "3.0,,201.0,2.5,t,extra\r\n" /* a field too many */
                          "4.0,,201.5,2.5,t\r\n";      /* not measured: NAN */
        const char *threads =
                "elapsed_seconds,tid,thread_name,cpu_core_percent\n"
                "1,10,\"a,b\",5\n1,11,\"new\nline\",1\n2,10,\"a,b\",15\n2,11,x,1e999\n3,10,q,20\n";
        ReportSeries s;
        ThreadCpu *t = NULL;
        size_t n = 0;
        FILE *f;

        f = text_file(csv);
        assert_int_equal(report_series_read(f, &s, NULL), 0);
        fclose(f);
        assert_int_equal(s.n, 2);
        assert_int_equal(s.skipped, 3);
        assert_float_equal(s.cpu[0], 1.5, 1e-6);
        assert_true(isnan(s.cpu[1]));
        assert_false(s.has_core);
        assert_true(fabs(s.first_unix - 1770816622.5) < 1e-3); /* 13:30:22.5 UTC */
        report_series_done(&s);

        f = text_file("a,b,c\n1,2,3\n");
        {
                char *err = NULL;
                assert_int_equal(report_series_read(f, &s, &err), -EBADMSG);
                assert_non_null(strstr(err, "not a CPU CSV"));
                free(err);
        }
        fclose(f);

        f = text_file(threads);
        assert_int_equal(report_threads_read(f, NAN, 2.5, &t, &n, NULL), 0);
        fclose(f);
        assert_int_equal(n, 2);
        assert_int_equal(t[0].tid, 10);
        assert_string_equal(t[0].name, "a,b");
        assert_int_equal(t[0].n, 2); /* the row at 3 s is outside the window */
        assert_float_equal(t[0].sum, 20, 1e-9);
        assert_float_equal(t[0].max, 15, 1e-9);
        assert_string_equal(t[1].name, "new\nline");
        assert_int_equal(t[1].n, 1); /* 1e999 is not a number */
        free(t);

        assert_true(isnan(report_parse_iso8601("yesterday")));
        assert_true(fabs(report_parse_iso8601("1970-01-01T00:01:00Z") - 60) < 1e-9);
        assert_true(fabs(report_parse_iso8601("1970-01-01T01:00:00.25-01:00") - 7200.25) < 1e-9);
}

static void test_seed_csv(void **state)
{
        /* The seed's own five-column CSV, with the plot's fixture. */
        const char *dir = getenv("PAMPROF_FIXTURES");
        char *p;
        FILE *f;
        ReportSeries s;

        assert_non_null(dir);
        assert_true(asprintf(&p, "%s/plot/pam_idle-no-leaffc_20260211_143022_cpu.csv", dir) > 0);
        f = fopen(p, "re");
        assert_non_null(f);
        assert_int_equal(report_series_read(f, &s, NULL), 0);
        assert_true(s.n > 0);
        assert_false(s.has_prof);
        fclose(f);
        report_series_done(&s);
        free(p);
}

static void test_session_facts(void **state)
{
        const char *text =
                "{\"id\":\"pam_x_20260101_120000\",\"scenario\":\"x\",\"started_at_unix\":100,"
                "\"options\":{\"interval\":1,\"rate\":50},\"profile\":{\"chunks\":["
                "{\"started_at_unix\":130,\"idle\":false,\"target_pid\":9,\"started_elapsed_seconds\":30},"
                "{\"started_at_unix\":102.5,\"target_pid\":8,\"started_elapsed_seconds\":2.5},"
                "{\"started_at_unix\":160,\"target_pid\":9,\"started_elapsed_seconds\":60}]}}";
        ReportSession s;
        FILE *f = text_file(text);

        assert_int_equal(report_session_read(f, &s, NULL), 0);
        fclose(f);
        assert_string_equal(s.scenario, "x");
        assert_float_equal(s.rate, 50, 0);
        assert_float_equal(s.profile_start_unix, 102.5, 1e-9); /* the earliest run */
        assert_int_equal(s.profile_runs, 3);
        assert_int_equal(s.idle, 0);
        assert_true(fabs(s.profile_start_elapsed - 2.5) < 1e-9);
        assert_int_equal(s.n_run_pids, 2); /* each pid's first run */
        assert_int_equal(s.run_pid[0], 9);
        assert_true(fabs(s.run_pid_elapsed[0] - 30) < 1e-9);
        assert_int_equal(s.run_pid[1], 8);
        f = text_file(
                "{\"profile\":{\"command\":\"py-spy record --pid 5 --rate 100 --format speedscope\"}}");
        assert_int_equal(report_session_read(f, &s, NULL), 0);
        fclose(f);
        assert_int_equal(s.idle, 0); /* py-spy without --idle */
        f = text_file("{\"profile\":{\"command\":\"py-spy record --pid 5 --idle --output x\"}}");
        assert_int_equal(report_session_read(f, &s, NULL), 0);
        fclose(f);
        assert_int_equal(s.idle, 1);
        f = text_file("[1,2]");
        assert_int_equal(report_session_read(f, &s, NULL), -EBADMSG);
        fclose(f);
}

/* A series of n rows, one every dt seconds, memory from fn. */
static cJSON *memory_every(size_t n, double dt, double (*fn)(size_t i, int32_t *pid))
{
        ReportSeries s = { .first_unix = NAN };
        cJSON *findings = cJSON_CreateArray(), *sec, *mem;

        s.n = s.cap = n;
        s.t = calloc(n, sizeof(double));
        s.cpu = calloc(n, sizeof(float));
        s.core = calloc(n, sizeof(float));
        s.mem = calloc(n, sizeof(float));
        s.prof = calloc(n, sizeof(float));
        s.pid = calloc(n, sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
                s.t[i] = dt * (double) (i + 1);
                s.cpu[i] = 1;
                s.pid[i] = 7;
                s.mem[i] = (float) fn(i, &s.pid[i]);
        }
        sec = report_series(&s, NULL, true, findings);
        mem = cJSON_DetachItemFromObject(sec, "memory");
        cJSON_AddItemToObject(mem, "findings", findings);
        cJSON_Delete(sec);
        report_series_done(&s);
        return mem;
}

static cJSON *memory_of(size_t n, double (*fn)(size_t i, int32_t *pid))
{
        return memory_every(n, 1.0, fn);
}

static double flat_noise(size_t i, int32_t *pid)
{
        return 200 + ((i * 7919) % 13) * 0.1;
}

static double leak_then_restart(size_t i, int32_t *pid)
{
        if (i < 100)
                return 300 + i * 2.0; /* the old PAM leaked, then exited */
        *pid = 8;
        return 200 + ((i * 31) % 7) * 0.05;
}

static double slow_growth(size_t i, int32_t *pid)
{
        return 200 + i * (1.0 / 3600) * 60 + ((i * 7919) % 13) * 0.02; /* 60 MB/h over 10 minutes */
}

/* Issue 13's leak: 33.6 -> 53.5 MB in 20 s at --interval 0.5, every row higher than the last. */
static double short_leak(size_t i, int32_t *pid)
{
        return 33.6 + 0.4975 * (double) i + ((i * 7919) % 5) * 0.01;
}

/* A fresh app's warm-up: steps of 0.12 MB (malloc's arenas), ever rarer, 1.7 MB in the first 40 s; flat after. */
static double warm_up(size_t i, int32_t *pid)
{
        static const size_t at[] = { 2, 4, 7, 10, 14, 18, 23, 28, 34, 40, 47, 55, 64, 72 };
        double m = 35.0;

        for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++)
                m += i >= at[k] ? 0.122 : 0;
        return m;
}

/* Flat, one jump of 5 MB (a batch loaded once), flat. */
static double one_step(size_t i, int32_t *pid)
{
        return 120 + (i >= 40 ? 5.0 : 0) + ((i * 7919) % 7) * 0.01;
}

/* A collector's sawtooth: 8 MB up over 20 s, back down, again and again. */
static double sawtooth(size_t i, int32_t *pid)
{
        return 150 + 0.4 * (double) (i % 20);
}

/* Two processes, each flat: a restart from a bigger PAM to a smaller one is no trend. */
static double restart_smaller(size_t i, int32_t *pid)
{
        *pid = i < 50 ? 7 : 8;
        return (i < 50 ? 300 : 200) + ((i * 7919) % 7) * 0.01;
}

static void test_memory_verdicts(void **state)
{
        cJSON *m;

        m = memory_of(600, flat_noise);
        assert_string_equal(str(m, "verdict"), "stable");
        assert_int_equal(cJSON_GetArraySize(get(m, "findings")), 0);
        cJSON_Delete(m);
        m = memory_of(600, leak_then_restart); /* the longest stretch with one pid is the new, flat PAM */
        assert_string_equal(str(m, "verdict"), "stable");
        assert_int_equal((int) num(m, "fit_pid"), 8);
        cJSON_Delete(m);
        m = memory_of(600, slow_growth);
        assert_string_equal(str(m, "verdict"), "leak");
        assert_true(fabs(num(m, "trend_mb_per_hour") - 60) < 5);
        cJSON_Delete(m);
        m = memory_of(5, flat_noise);
        assert_string_equal(str(m, "verdict"), "too short");
        cJSON_Delete(m);
        /* 20 s are enough when the rise is large and steady: a leak, with MB/h and a confidence */
        m = memory_every(40, 0.5, short_leak);
        assert_string_equal(str(m, "verdict"), "leak");
        assert_string_equal(str(m, "confidence"), "high");
        assert_true(fabs(num(m, "trend_mb_per_hour") - 3582) < 60); /* 0.995 MB/s */
        assert_true(num(m, "ci95_mb_per_hour") > 0 && num(m, "ci95_mb_per_hour") < 100);
        {
                const cJSON *f = cJSON_GetArrayItem(get(m, "findings"), 0);
                assert_string_equal(str(f, "kind"), "memory-leak");
                assert_string_equal(str(f, "severity"), "problem");
        }
        cJSON_Delete(m);
        /* the same at one row a second */
        m = memory_every(20, 1.0, short_leak);
        assert_string_equal(str(m, "verdict"), "leak");
        cJSON_Delete(m);
        /* a warm-up is no leak, and has no MB/h (it was "+189 MB/h, leak" in issue 17) */
        m = memory_every(120, 1.0, warm_up);
        assert_string_equal(str(m, "verdict"), "warm-up");
        assert_null(get(m, "trend_mb_per_hour"));
        assert_int_equal(cJSON_GetArraySize(get(m, "findings")), 0);
        assert_non_null(strstr(str(m, "description"), "not a leak"));
        cJSON_Delete(m);
        m = memory_every(100, 1.0, one_step);
        assert_string_equal(str(m, "verdict"), "step");
        assert_int_equal(cJSON_GetArraySize(get(m, "findings")), 0);
        cJSON_Delete(m);
        m = memory_every(200, 1.0, sawtooth);
        assert_string_equal(str(m, "verdict"), "sawtooth");
        assert_int_equal(cJSON_GetArraySize(get(m, "findings")), 0);
        cJSON_Delete(m);
        /* never across pids: the longer stretch alone, flat */
        m = memory_every(120, 1.0, restart_smaller);
        assert_string_equal(str(m, "verdict"), "stable");
        assert_null(get(m, "trend_mb_per_hour"));
        cJSON_Delete(m);
}

/* Near-identical spikes are one finding that lists them; a different one has its own (issue 17). */
static void test_spikes_alike(void **state)
{
        ReportSeries s = { .first_unix = NAN };
        cJSON *findings = cJSON_CreateArray(), *sec;
        const cJSON *f;
        size_t n = 120, spikes = 0, alike = 0;

        s.n = s.cap = n;
        s.t = calloc(n, sizeof(double));
        s.cpu = calloc(n, sizeof(float));
        s.core = calloc(n, sizeof(float));
        s.mem = calloc(n, sizeof(float));
        s.prof = calloc(n, sizeof(float));
        s.pid = calloc(n, sizeof(int32_t));
        for (size_t i = 0; i < n; i++) {
                s.t[i] = (double) i + 1;
                s.cpu[i] = (float) (2 + ((i * 7919) % 5) * 0.1);
                s.mem[i] = 100;
                s.pid[i] = 7;
        }
        s.cpu[20] = 12.0f; /* the same burst every 20 s */
        s.cpu[40] = 13.5f;
        s.cpu[60] = 12.4f;
        s.cpu[80] = 11.8f;
        s.cpu[100] = 40.0f; /* and one of another size */
        sec = report_series(&s, NULL, true, findings);
        cJSON_ArrayForEach(f, findings)
        {
                if (strcmp(str(f, "kind"), "cpu-spike") != 0)
                        continue;
                spikes++;
                if (num(get(f, "numbers"), "spikes") == 4) {
                        alike++;
                        assert_non_null(strstr(str(f, "title"), "4 CPU spikes alike"));
                        assert_int_equal(cJSON_GetArraySize(get(f, "spikes_at")), 4);
                } else
                        assert_true(num(get(f, "numbers"), "peak_cpu_percent") == 40);
        }
        assert_int_equal(spikes, 2);
        assert_int_equal(alike, 1);
        assert_int_equal(cJSON_GetArraySize(get(sec, "spikes")), 5); /* each still listed */
        cJSON_Delete(sec);
        cJSON_Delete(findings);
        report_series_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_clean),
                cmocka_unit_test(test_busy_wait),
                cmocka_unit_test(test_qualified_names),
                cmocka_unit_test(test_fast_periodic),
                cmocka_unit_test(test_async_sleep),
                cmocka_unit_test(test_async_sleep_no_cpu),
                cmocka_unit_test(test_serialization),
                cmocka_unit_test(test_wait_on_cpu),
                cmocka_unit_test(test_leak),
                cmocka_unit_test(test_no_idle_stacks),
                cmocka_unit_test(test_spike_lined_up),
                cmocka_unit_test(test_spike_after_restart),
                cmocka_unit_test(test_spike_after_restart_on_one_clock),
                cmocka_unit_test(test_left_out_samples_are_said),
                cmocka_unit_test(test_vs),
                cmocka_unit_test(test_polling),
                cmocka_unit_test(test_loop_wakeups),
                cmocka_unit_test(test_cheap_roundtrip),
                cmocka_unit_test(test_wakeups_as_evidence),
                cmocka_unit_test(test_vs_wakeups),
                cmocka_unit_test(test_text_matches_json),
                cmocka_unit_test(test_write_fd),
                cmocka_unit_test(test_bad_inputs),
                cmocka_unit_test(test_double_standin),
                cmocka_unit_test(test_siblings),
                cmocka_unit_test(test_periodic_timelines),
                cmocka_unit_test(test_classify),
                cmocka_unit_test(test_csv_readers),
                cmocka_unit_test(test_seed_csv),
                cmocka_unit_test(test_session_facts),
                cmocka_unit_test(test_memory_verdicts),
                cmocka_unit_test(test_spikes_alike),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
