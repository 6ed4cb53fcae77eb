/* SPDX-License-Identifier: MIT */
/*
 * The flight recorder's stack ring (common/recorder/stack-ring.c) and its
 * speedscope writer (stack-ring-write.c): per-second buckets, the caps and
 * the "other" count, eviction past the window, memory over hours of
 * simulated seconds, and the document of a window read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "intern.h"
#include "stack-ring.h"

#define PID 500
#define HEADER "# austin: 3.7.0\n# interval: 10000\n# mode: wall\n\n"

static StackRing *ring(unsigned seconds, unsigned max_stacks, size_t max_bytes)
{
        StackRing *r = NULL;

        assert_int_equal(stack_ring_new(&(StackRingOptions){ .seconds = seconds,
                                                             .max_stacks = max_stacks,
                                                             .max_bytes = max_bytes },
                                        &r),
                         0);
        stack_ring_feed(r, 1, HEADER, strlen(HEADER));
        return r;
}

/* One sample line: P500;T<iid>:<tid>;<frames> <us> */
static void sample(StackRing *r, uint64_t second, long tid, const char *frames, unsigned us)
{
        char line[1024];
        int n = snprintf(line, sizeof(line), "P%d;T0:%ld;%s %u\n", PID, tid, frames, us);

        assert_int_equal(stack_ring_feed(r, second, line, (size_t) n), 0);
}

static StackRingStats stats(const StackRing *r)
{
        StackRingStats st;

        stack_ring_stats(r, &st);
        return st;
}

static void test_intern_counts(void **state)
{
        Intern t;
        uint32_t a, b, again;
        bool added;

        intern_init(&t);
        assert_int_equal(intern_add(&t, "x.py:f:1", 8, &a, &added), 0);
        assert_true(added);
        assert_int_equal(intern_add(&t, "x.py:g:2", 8, &b, &added), 0);
        assert_int_equal(intern_add(&t, "x.py:f:1", 8, &again, &added), 0);
        assert_false(added);
        assert_int_equal(a, again);
        assert_int_equal(intern_find(&t, "x.py:g:2", 8), b);
        assert_int_equal(intern_find(&t, "x.py:h:3", 8), UINT32_MAX);
        assert_int_equal(intern_unref(&t, a), 1);
        intern_remove(&t, a); /* still held: stays */
        assert_int_equal(intern_find(&t, "x.py:f:1", 8), a);
        assert_int_equal(intern_unref(&t, a), 0);
        intern_remove(&t, a);
        assert_int_equal(intern_find(&t, "x.py:f:1", 8), UINT32_MAX);
        assert_int_equal(intern_count(&t), 1);
        assert_int_equal(intern_bytes(&t), 8);
        /* its id is reused */
        assert_int_equal(intern_add(&t, "y.py:k:9", 8, &again, &added), 0);
        assert_int_equal(again, a);
        assert_int_equal(intern_find(&t, "x.py:g:2", 8), b);
        intern_done(&t);
}

static void test_per_second_buckets(void **state)
{
        StackRing *r = ring(10, 0, 0);
        StackRingStats st;

        sample(r, 100, 501, "a.py:main:1;a.py:work:5", 10000);
        sample(r, 100, 501, "a.py:main:1;a.py:work:5", 10000); /* the same entry, counted twice */
        sample(r, 100, 502, "a.py:main:1;a.py:work:5", 10000); /* another thread: its own entry */
        sample(r, 101, 501, "a.py:main:1;a.py:idle:9", 10000);
        /* a line cut anywhere joins the next piece */
        assert_int_equal(stack_ring_feed(r, 102, "P500;T0:501;a.py:ma", 19), 0);
        assert_int_equal(stack_ring_feed(r, 102, "in:1 10000\nnot austin\n", 22), 0);
        st = stats(r);
        assert_int_equal(st.samples, 5);
        assert_int_equal(st.bad_lines, 1);
        assert_int_equal(st.entries, 4);
        assert_int_equal(st.stacks, 3);
        assert_int_equal(st.frames, 3);
        assert_int_equal(st.first_second, 100);
        assert_int_equal(st.last_second, 102);
        assert_int_equal(st.interval_us, 10000);
        stack_ring_free(r);
}

static void test_distinct_stack_cap(void **state)
{
        StackRing *r = ring(10, 4, 0);
        StackRingStats st;
        char frames[64];

        for (int i = 0; i < 10; i++) {
                snprintf(frames, sizeof(frames), "a.py:main:1;a.py:f%d:2", i);
                sample(r, 100, 501, frames, 10000);
        }
        /* a stack the second holds already, after the cap: still its own */
        sample(r, 100, 501, "a.py:main:1;a.py:f0:2", 10000);
        /* ...but not for a thread that had no entry of it: that goes to "other" */
        sample(r, 100, 502, "a.py:main:1;a.py:f0:2", 10000);
        st = stats(r);
        assert_int_equal(st.samples, 12);
        assert_int_equal(st.other_samples, 7);
        assert_int_equal(st.entries, 6); /* 4 stacks, 501's other, 502's other */
        assert_int_equal(st.stacks, 4);
        /* the next second has its own room */
        sample(r, 101, 501, "a.py:main:1;a.py:f9:2", 10000);
        assert_int_equal(stats(r).other_samples, 7);
        assert_int_equal(stats(r).stacks, 5);
        stack_ring_free(r);
}

static void test_byte_cap(void **state)
{
        StackRing *r = ring(10, 0, 600);
        StackRingStats st;
        char frames[256];

        for (int i = 0; i < 50; i++) {
                snprintf(frames, sizeof(frames),
                         "/srv/pam/a/rather/long/module/path_%02d.py:function_%02d:%d", i, i, i);
                sample(r, 100 + (unsigned) i % 3, 501, frames, 10000);
        }
        st = stats(r);
        assert_int_equal(st.samples, 50);
        assert_true(st.other_samples > 30);
        assert_true(st.frames < 20);
        /* what the table holds stays under the cap (frame keys plus the stacks' ids) */
        assert_true(st.frames * 50 + st.stacks * 4 <= 600 + 64);
        stack_ring_free(r);
}

static void test_eviction(void **state)
{
        StackRing *r = ring(5, 0, 0);
        StackRingStats st;
        char frames[64];

        for (unsigned s = 1; s <= 20; s++) {
                snprintf(frames, sizeof(frames), "a.py:main:1;a.py:second_%u:2", s);
                sample(r, 100 + s, 501, frames, 10000);
        }
        st = stats(r);
        assert_int_equal(st.first_second, 116);
        assert_int_equal(st.last_second, 120);
        assert_int_equal(st.stacks, 5);
        assert_int_equal(st.frames, 6); /* main, and one leaf a second held */
        assert_int_equal(st.entries, 5);
        /* a sample older than the ring is late, not kept */
        sample(r, 110, 501, "a.py:main:1", 10000);
        assert_int_equal(stats(r).late_samples, 1);
        assert_int_equal(stats(r).entries, 5);
        /* far ahead: everything before is released */
        sample(r, 1000, 501, "a.py:main:1", 10000);
        st = stats(r);
        assert_int_equal(st.first_second, 116); /* buckets not yet reused keep their second... */
        assert_int_equal(st.last_second, 1000);
        stack_ring_free(r);
}

/* Hours of a 20-thread PAM whose stacks keep changing (new functions all the time): flat memory. */
static void test_memory_flat(void **state)
{
        const unsigned window = 120, hours = 3, threads = 20, per_thread = 5;
        StackRing *r = ring(window, 0, 0);
        size_t first_hour = 0, peak = 0, heap_first_hour = 0, heap_peak = 0;
        char frames[256];
        unsigned seed = 1;

        for (unsigned s = 1; s <= hours * 3600; s++) {
                for (unsigned t = 0; t < threads; t++)
                        for (unsigned k = 0; k < per_thread; k++) {
                                seed = seed * 1103515245u + 12345u;
                                /* most stacks from a steady set, a few from a name never seen before */
                                unsigned fn = (seed >> 16) % 40;
                                int n;
                                if ((seed >> 8) % 16 == 0)
                                        n = snprintf(frames, sizeof(frames),
                                                     "pam/main.py:run:10;pam/jobs.py:job_%u_%u:7", s, t);
                                else
                                        n = snprintf(
                                                frames, sizeof(frames),
                                                "pam/main.py:run:10;pam/w%u.py:step:%u;pam/lib.py:f%u:3", t,
                                                fn, fn % 7);
                                assert_int_equal(
                                        stack_ring_add(r, s, PID, 600 + t, frames, (size_t) n, 10000), 0);
                        }
                if (s % 600 == 0) {
                        StackRingStats st = stats(r);
                        size_t heap = mallinfo2().uordblks; /* the allocator's own count; 0 under ASan */
                        if (s == 3600) {
                                first_hour = st.memory_bytes;
                                heap_first_hour = heap;
                        }
                        if (s > 3600 && st.memory_bytes > peak)
                                peak = st.memory_bytes;
                        if (s > 3600 && heap > heap_peak)
                                heap_peak = heap;
                        assert_true(st.first_second == s - window + 1);
                }
        }
        print_message("# memory after 1 h: %zu bytes (heap %zu), peak over hours 2-%u: %zu (heap %zu)\n",
                      first_hour, heap_first_hour, hours, peak, heap_peak);
        assert_true(first_hour > 0);
        assert_true(first_hour < 16u << 20);
        assert_true(peak <= first_hour + first_hour / 10);
        if (heap_first_hour > 0)
                assert_true(heap_peak <= heap_first_hour + heap_first_hour / 10);
        stack_ring_free(r);
}

/* ---- the writer ---- */

static char *write_window_on(const StackRing *r, uint64_t first, unsigned n, long focus_tid,
                             const AustinNames *names, StackRingWriteFacts *facts)
{
        char *doc = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&doc, &len);

        assert_non_null(f);
        assert_int_equal(stack_ring_write_speedscope(r, first, n, focus_tid, names, NULL, f, facts), 0);
        assert_int_equal(fclose(f), 0);
        return doc;
}

static char *write_window(const StackRing *r, uint64_t first, unsigned n, const AustinNames *names,
                          StackRingWriteFacts *facts)
{
        return write_window_on(r, first, n, 0, names, facts);
}

/* tests/tools/speedscope-check.py on the document, when the tests' directory is known. */
static void speedscope_check(const char *doc)
{
        const char *dir = getenv("PAMPROF_TESTS_DIR"), *py = getenv("PAMPROF_PYTHON");
        char path[] = "/tmp/test-stack-ring-XXXXXX", cmd[1024];
        FILE *f;
        int fd;

        if (!dir)
                return;
        fd = mkstemp(path);
        assert_true(fd >= 0);
        f = fdopen(fd, "w");
        fputs(doc, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "%s %s/tools/speedscope-check.py %s >/dev/null", py ? py : "python3", dir,
                 path);
        assert_int_equal(system(cmd), 0);
        unlink(path);
}

static const cJSON *profile_named(const cJSON *doc, const char *name)
{
        const cJSON *profiles = cJSON_GetObjectItem(doc, "profiles");

        for (int i = 0; i < cJSON_GetArraySize(profiles); i++) {
                const cJSON *p = cJSON_GetArrayItem(profiles, i);
                if (strcmp(cJSON_GetObjectItem(p, "name")->valuestring, name) == 0)
                        return p;
        }
        fail_msg("no profile named %s", name);
        return NULL;
}

/* The leaf frame's name of sample i. */
static const char *leaf(const cJSON *doc, const cJSON *sample)
{
        const cJSON *frames = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "shared"), "frames");
        int n = cJSON_GetArraySize(sample);

        if (n == 0)
                return "";
        return cJSON_GetObjectItem(cJSON_GetArrayItem(frames, cJSON_GetArrayItem(sample, n - 1)->valueint),
                                   "name")
                ->valuestring;
}

typedef struct Seen {
        double start;   /* the time the named leaf's first sample starts, seconds into the profile */
        double seconds; /* its weights summed */
        double total;   /* all weights */
        size_t samples, empty;
} Seen;

static Seen seen(const cJSON *doc, const cJSON *p, const char *name)
{
        const cJSON *samples = cJSON_GetObjectItem(p, "samples"),
                    *weights = cJSON_GetObjectItem(p, "weights");
        Seen s = { .start = -1 };
        double at = 0;

        assert_int_equal(cJSON_GetArraySize(samples), cJSON_GetArraySize(weights));
        for (int i = 0; i < cJSON_GetArraySize(samples); i++) {
                const cJSON *smp = cJSON_GetArrayItem(samples, i);
                double w = cJSON_GetArrayItem(weights, i)->valuedouble;
                assert_true(w >= 0);
                if (cJSON_GetArraySize(smp) == 0)
                        s.empty++;
                if (strcmp(leaf(doc, smp), name) == 0) {
                        if (s.start < 0)
                                s.start = at;
                        s.seconds += w;
                        s.samples++;
                }
                at += w;
        }
        s.total = at;
        return s;
}

static void test_write_window(void **state)
{
        StackRing *r = ring(30, 0, 0);
        AustinNames names = { 0 };
        StackRingWriteFacts facts;
        const cJSON *a, *b, *main_thread;
        cJSON *doc;
        char *text;
        Seen s;

        /* thread 501 ("worker"): spin at 100 (3 x 10 ms), wait at 102 (2 x 10 ms); 502: spin at 101;
         * the main thread (tid = pid): at 103; 99 and 104 have nothing */
        for (int i = 0; i < 3; i++)
                sample(r, 100, 501, "pam/main.py:run:1;pam/burn.py:spin:7", 10000);
        sample(r, 102, 501, "pam/main.py:run:1;pam/io.py:wait:3", 10000);
        sample(r, 102, 501, "pam/main.py:run:1;pam/io.py:wait:3", 10000);
        sample(r, 101, 502, "pam/main.py:run:1;pam/burn.py:spin:7", 10000);
        sample(r, 103, PID, "pam/main.py:<module>:1", 20000);
        /* outside the window: not written */
        sample(r, 98, 501, "pam/main.py:run:1;pam/old.py:before:1", 10000);
        sample(r, 105, 501, "pam/main.py:run:1;pam/new.py:after:1", 10000);
        assert_int_equal(austin_names_add(&names, PID, 501, "worker"), 0);

        text = write_window(r, 99, 6, &names, &facts);
        speedscope_check(text);
        doc = cJSON_Parse(text);
        assert_non_null(doc);
        assert_string_equal(cJSON_GetObjectItem(doc, "$schema")->valuestring,
                            "https://www.speedscope.app/file-format-schema.json");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "profiles")), 3);
        assert_int_equal(facts.profiles, 3);
        assert_int_equal(facts.samples, 7);
        assert_int_equal(facts.other_samples, 0);
        assert_int_equal(facts.seconds_with_samples, 4);
        assert_null(strstr(text, "before"));
        assert_null(strstr(text, "after"));
        /* no thread to focus on: the app opens on the first */
        assert_int_equal(cJSON_GetObjectItem(doc, "activeProfileIndex")->valueint, 0);
        assert_int_equal(facts.active, 0);

        a = profile_named(doc, "Thread 501 \"worker\"");
        b = profile_named(doc, "Thread 502");
        main_thread = profile_named(doc, "Thread 500 \"MainThread\"");
        /* every thread spans the window on its clock: 99 is second 0 */
        assert_string_equal(cJSON_GetObjectItem(a, "unit")->valuestring, "seconds");
        assert_true(cJSON_GetObjectItem(a, "startValue")->valuedouble == 0);
        assert_true(cJSON_GetObjectItem(a, "endValue")->valuedouble == 6);
        s = seen(doc, a, "spin");
        assert_true(fabs(s.start - 1.0) < 1e-6);
        assert_true(fabs(s.seconds - 0.03) < 1e-6);
        assert_true(fabs(s.total - 6.0) < 1e-5);
        s = seen(doc, a, "wait");
        assert_true(fabs(s.start - 3.0) < 1e-6);
        assert_true(fabs(s.seconds - 0.02) < 1e-6);
        /* empty seconds are empty samples: 99, rest of 100, 101 and the rest of 102 to 104 */
        assert_int_equal(s.empty, 3);
        s = seen(doc, b, "spin");
        assert_true(fabs(s.start - 2.0) < 1e-6);
        assert_true(fabs(s.seconds - 0.01) < 1e-6);
        assert_true(fabs(s.total - 6.0) < 1e-5);
        s = seen(doc, main_thread, "<module>");
        assert_true(fabs(s.start - 4.0) < 1e-6);
        assert_true(fabs(s.seconds - 0.02) < 1e-6);
        cJSON_Delete(doc);
        free(text);

        /* a capture's busiest thread: the app opens on its profile; one not in the window: the first */
        text = write_window_on(r, 99, 6, 502, &names, &facts);
        speedscope_check(text);
        doc = cJSON_Parse(text);
        assert_int_equal(facts.active, 2);
        a = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profiles"),
                               cJSON_GetObjectItem(doc, "activeProfileIndex")->valueint);
        assert_string_equal(cJSON_GetObjectItem(a, "name")->valuestring, "Thread 502");
        cJSON_Delete(doc);
        free(text);
        text = write_window_on(r, 99, 6, 999, &names, &facts);
        assert_non_null(strstr(text, "\"activeProfileIndex\":0,"));
        assert_int_equal(facts.active, 0);
        free(text);

        /* a window with nothing in it: valid, no profiles */
        text = write_window(r, 200, 5, NULL, &facts);
        speedscope_check(text);
        assert_int_equal(facts.profiles, 0);
        free(text);
        austin_names_done(&names);
        stack_ring_free(r);
}

/* More than a second of samples in a second (several Austin samplers, clock skew): scaled to fit. */
static void test_write_scaled_and_other(void **state)
{
        StackRing *r = ring(30, 2, 0);
        StackRingWriteFacts facts;
        cJSON *doc;
        char *text;
        Seen s;

        for (int i = 0; i < 150; i++)
                sample(r, 100, 501, "a.py:main:1;a.py:hot:2", 10000); /* 1.5 s in a second */
        sample(r, 100, 501, "a.py:main:1;a.py:cold:3", 10000);
        sample(r, 100, 501, "a.py:main:1;a.py:third:4", 500000); /* past the cap: "other" */
        text = write_window(r, 100, 2, NULL, &facts);
        speedscope_check(text);
        doc = cJSON_Parse(text);
        assert_non_null(doc);
        assert_int_equal(facts.samples, 152);
        assert_int_equal(facts.other_samples, 1);
        s = seen(doc, cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profiles"), 0), "hot");
        assert_true(s.seconds < 1.0);
        assert_true(fabs(s.total - 2.0) < 0.01);
        s = seen(doc, cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "profiles"), 0), "<other stacks>");
        assert_int_equal(s.samples, 1);
        cJSON_Delete(doc);
        free(text);
        stack_ring_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_intern_counts),      cmocka_unit_test(test_per_second_buckets),
                cmocka_unit_test(test_distinct_stack_cap), cmocka_unit_test(test_byte_cap),
                cmocka_unit_test(test_eviction),           cmocka_unit_test(test_memory_flat),
                cmocka_unit_test(test_write_window),       cmocka_unit_test(test_write_scaled_and_other),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
