/* SPDX-License-Identifier: MIT */
/* Reading what the plot draws: _cpu.csv (ours and the seed's), _threads.csv, _session.json. */
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
#include <sys/mman.h>
#include <unistd.h>

#include "plot-csv.h"
#include "plot-session.h"
#include "plot-threads.h"

static char *fixture(const char *name)
{
        const char *dir = getenv("PAMPROF_FIXTURES");
        char *p;

        assert_non_null(dir);
        assert_true(asprintf(&p, "%s/plot/%s", dir, name) > 0);
        return p;
}

static int read_string(const char *text, PlotCpuData *d, char **err)
{
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        int r;

        assert_non_null(f);
        r = plot_cpu_read(f, "t.csv", d, err);
        fclose(f);
        return r;
}

static int read_fixture(const char *name, PlotCpuData *d)
{
        char *p = fixture(name);
        FILE *f = fopen(p, "re");
        int r;

        assert_non_null(f);
        r = plot_cpu_read(f, name, d, NULL);
        fclose(f);
        free(p);
        return r;
}

static void test_parse_double(void **state)
{
        double v;

        assert_int_equal(csv_parse_double("12.5", &v), 0);
        assert_float_equal(v, 12.5, 0);
        assert_int_equal(csv_parse_double(" 0.1 ", &v), 0);
        assert_true(v == 0.1); /* exactly strtod's answer */
        assert_int_equal(csv_parse_double("123456.789012", &v), 0);
        assert_true(v == strtod("123456.789012", NULL));
        assert_int_equal(csv_parse_double("1e3", &v), 0);
        assert_float_equal(v, 1000, 0);
        assert_int_equal(csv_parse_double("-3", &v), 0);
        assert_float_equal(v, -3, 0);
        assert_int_equal(csv_parse_double("", &v), -ENODATA);
        assert_int_equal(csv_parse_double("  ", &v), -ENODATA);
        assert_int_equal(csv_parse_double("abc", &v), -EINVAL);
        assert_int_equal(csv_parse_double("1.2.3", &v), -EINVAL);
        assert_int_equal(csv_parse_double("1e999", &v), -EINVAL);
        assert_int_equal(csv_parse_double("nan", &v), 0); /* parsed; the reader refuses it */
        assert_true(isnan(v));
}

static void test_seed_five_columns(void **state)
{
        PlotCpuData d = { 0 };

        assert_int_equal(read_fixture("pam_idle-no-leaffc_20260211_143022_cpu.csv", &d), 0);
        assert_int_equal(d.n, 150);
        assert_int_equal(d.skipped, 0);
        assert_null(d.prof_cpu);
        assert_null(d.pid);
        assert_true(d.has_cpu && d.has_mem);
        assert_float_equal(d.elapsed[1], 2.0, 0.03);
        assert_string_equal(d.first_timestamp, "2026-02-11T14:30:22.267459");
        plot_cpu_done(&d);
}

static void test_ours_fourteen_columns(void **state)
{
        PlotCpuData d = { 0 };
        size_t changes = 0;

        assert_int_equal(read_fixture("pam_mission-execution_20261127_203410_cpu.csv", &d), 0);
        assert_int_equal(d.n, 875);
        assert_int_equal(d.skipped, 0);
        assert_non_null(d.prof_cpu);
        assert_non_null(d.pid);
        assert_int_equal(d.pid[0], 48211);
        for (size_t i = 1; i < d.n; i++)
                changes += d.pid[i] != d.pid[i - 1];
        assert_int_equal(changes, 1);
        /* py-spy failed at 700 s: its column is empty, which is "not measured", not an error. */
        assert_true(isnan(d.prof_cpu[d.n - 1]));
        assert_false(isnan(d.prof_cpu[0]));
        plot_cpu_done(&d);
}

static void test_malformed_rows_skipped(void **state)
{
        PlotCpuData d = { 0 };

        assert_int_equal(read_fixture("malformed_cpu.csv", &d), 0);
        /* Good rows at 0, 1, 2, 9 (CRLF) and 10; text, negative, NaN, too few, too many,
         * time going back and an unclosed quote are each skipped and counted. */
        assert_int_equal(d.n, 5);
        assert_int_equal(d.skipped, 7);
        assert_int_equal(d.first_skipped_line, 5);
        assert_string_equal(d.first_skip_reason, "cpu_percent is \"abc\"");
        assert_float_equal(d.elapsed[3], 9, 0);
        assert_float_equal(d.cpu[4], 4.0, 0);
        plot_cpu_done(&d);
}

static void test_header_cases(void **state)
{
        PlotCpuData d = { 0 };
        char *err = NULL;

        /* Header only: fine, no rows; the caller words the error. */
        assert_int_equal(read_fixture("header-only_cpu.csv", &d), 0);
        assert_int_equal(d.n, 0);
        plot_cpu_done(&d);
        /* Nothing at all. */
        assert_int_equal(read_string("", &d, &err), -ENODATA);
        assert_non_null(strstr(err, "t.csv is empty"));
        free(TAKE_PTR(err));
        /* Someone else's CSV. */
        assert_int_equal(read_string("a,b,c\n1,2,3\n", &d, &err), -EBADMSG);
        assert_non_null(strstr(err, "not a pamprofd CPU CSV"));
        free(TAKE_PTR(err));
        /* Binary junk. */
        assert_int_equal(read_string("\x7f"
                                     "ELF\x01\x02\x03\n\xff\xfe",
                                     &d, NULL),
                         -EBADMSG);
        /* A BOM, CRLF, columns in another order, spaces and blank lines are all fine. */
        assert_int_equal(read_string("\xef\xbb\xbf"
                                     "memory_mb, elapsed_seconds ,cpu_percent\r\n"
                                     "\r\n100,0,1.5\r\n101,1,2.5\r\n\n",
                                     &d, NULL),
                         0);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.skipped, 0);
        assert_float_equal(d.mem[1], 101, 0);
        assert_float_equal(d.cpu[1], 2.5, 1e-6);
        plot_cpu_done(&d);
}

static void test_empty_cells_and_limits(void **state)
{
        PlotCpuData d = { 0 };

        assert_int_equal(read_string("elapsed_seconds,cpu_percent,memory_mb\n"
                                     "0,,100\n"         /* CPU not measured yet */
                                     ",1,100\n"         /* no time: skipped */
                                     "1,1e300,100\n"    /* beyond a float: skipped */
                                     "2,inf,100\n"      /* skipped */
                                     "3,\"2.5\",100\n"  /* quoted numbers are numbers */
                                     "4,1,100,extra\n", /* skipped */
                                     &d, NULL),
                         0);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.skipped, 4);
        assert_true(isnan(d.cpu[0]));
        assert_float_equal(d.cpu[1], 2.5, 0);
        plot_cpu_done(&d);
}

static void test_csv_reader_quotes(void **state)
{
        const char *text = "a,b,c\n1,\"x, \"\"y\"\"\nz\",3\n\"open,4\n";
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        CsvReader r;

        csv_reader_init(&r, f);
        assert_int_equal(csv_reader_next(&r), 1);
        assert_int_equal(csv_column(&r, "c"), 2);
        assert_int_equal(csv_reader_next(&r), 1);
        assert_false(r.malformed);
        assert_int_equal(r.nfields, 3);
        assert_string_equal(r.fields[1], "x, \"y\"\nz"); /* comma, doubled quote, newline */
        assert_int_equal(r.line_no, 2);
        assert_int_equal(csv_reader_next(&r), 1);
        assert_true(r.malformed); /* never closed */
        assert_int_equal(csv_reader_next(&r), 0);
        csv_reader_done(&r);
        fclose(f);
}

static int memfd_with(const char *text)
{
        int fd = memfd_create("t", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return fd;
}

static void test_threads(void **state)
{
        char *p = fixture("pam_mission-execution_20261127_203410_threads.csv");
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        PlotThreads t = { 0 };
        char label[96];
        bool quoted = false;

        assert_true(fd >= 0);
        assert_int_equal(plot_threads_read(fd, 0, 900, 800, 1.75, 4, &t, NULL), 0);
        assert_int_equal(t.n_threads, 18); /* 9 threads, twice: PAM restarted */
        assert_int_equal(t.n_top, 4);
        assert_true(t.has_other);
        assert_int_equal(t.skipped, 0);
        for (size_t i = 1; i < t.n_top; i++)
                assert_true(t.top[i - 1].sum >= t.top[i].sum);
        for (size_t i = 0; i < t.n_top; i++) {
                assert_true(t.top[i].line.n > 0 && t.top[i].line.n <= 4 * 800 + 64);
                plot_thread_label(&t.top[i], label, sizeof(label));
                assert_int_equal(strncmp(label, "Thread ", 7), 0);
        }
        plot_threads_done(&t);
        close(fd);
        free(p);

        /* A quoted name with a comma survives; bad rows are counted. */
        fd = memfd_with("elapsed_seconds,tid,thread_name,cpu_core_percent\n"
                        "0,10,\"worker, io\",50\n0,11,main,1\n1,10,\"worker, io\",40\n1,11,main,2\n"
                        "2,-4,bad,1\n2,12,x\n3,10,\"worker, io\",abc\n");
        assert_int_equal(plot_threads_read(fd, 0, 3, 100, 0, 5, &t, NULL), 0);
        assert_int_equal(t.skipped, 3);
        for (size_t i = 0; i < t.n_top; i++)
                quoted |= strcmp(t.top[i].name, "worker, io") == 0;
        assert_true(quoted);
        assert_int_equal(t.top[0].tid, 10);
        assert_float_equal(t.top[0].mean, 45, 1e-9);
        assert_false(t.has_other);
        plot_threads_done(&t);
        close(fd);

        /* The sampler's row of the threads that ended between samples (tid 0, no wake-ups) is a
         * series of its own, named as it is, not "Thread 0". */
        fd = memfd_with(
                "elapsed_seconds,tid,thread_name,cpu_core_percent,wakeups_per_second\n"
                "1,10,main,5,10\n1,0,(ended threads),80,\n2,10,main,5,10\n2,0,(ended threads),70,\n");
        assert_int_equal(plot_threads_read(fd, 0, 3, 100, 0, 5, &t, NULL), 0);
        assert_int_equal(t.skipped, 0);
        assert_int_equal(t.top[0].tid, 0);
        assert_float_equal(t.top[0].mean, 75, 1e-9);
        plot_thread_label(&t.top[0], label, sizeof(label));
        assert_string_equal(label, "(ended threads)");
        plot_threads_done(&t);
        close(fd);

        /* Not ours, and not seekable. */
        fd = memfd_with("x,y\n1,2\n");
        assert_int_equal(plot_threads_read(fd, 0, 1, 10, 0, 5, &t, NULL), -EBADMSG);
        close(fd);
        {
                int pfd[2];
                assert_int_equal(pipe(pfd), 0);
                assert_int_equal(plot_threads_read(pfd[0], 0, 1, 10, 0, 5, &t, NULL), -ESPIPE);
                close(pfd[0]);
                close(pfd[1]);
        }
}

static void test_session(void **state)
{
        char *p = fixture("pam_mission-execution_20261127_203410_session.json");
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        PlotSession s = { 0 };
        char *err = NULL;

        assert_int_equal(plot_session_read(fd, &s, NULL), 0);
        assert_string_equal(s.scenario, "mission-execution");
        assert_int_equal(s.pid, 48211);
        assert_float_equal(s.duration, 899.5, 0);
        /* session-start and -stop are not marked; the other five are, in time order. */
        assert_int_equal(s.n_events, 5);
        assert_int_equal(s.events[1].kind, PLOT_EVENT_TARGET_EXIT);
        assert_string_equal(s.events[1].label, "PAM exited");
        assert_string_equal(s.events[2].label, "PAM back, pid 48390");
        assert_int_equal(s.events[4].kind, PLOT_EVENT_PROFILER_FAILED);
        plot_session_done(&s);
        close(fd);
        free(p);

        /* Tolerant: missing and mistyped fields are simply absent. */
        {
                const char *j = "{\"scenario\":5,\"target\":\"x\",\"events\":[{\"type\":\"target-exit\"},"
                                "{\"elapsed_seconds\":\"3\",\"type\":\"x\"},7,{\"elapsed_seconds\":4,"
                                "\"type\":\"something-new\"}]}";
                assert_int_equal(plot_session_parse(j, strlen(j), &s, NULL), 0);
        }
        assert_null(s.scenario);
        assert_int_equal(s.pid, 0);
        assert_true(isnan(s.duration));
        assert_int_equal(s.n_events, 1);
        assert_string_equal(s.events[0].label, "something-new");
        plot_session_done(&s);
        assert_int_equal(plot_session_parse("[1,2]", 5, &s, &err), -EBADMSG);
        assert_non_null(err);
        free(err);
        assert_int_equal(plot_session_parse("{\"a\":", 5, &s, NULL), -EBADMSG);
}

/* The sampler that ran names the markers; the record's coverage and warning are read as given. */
static void test_session_profile(void **state)
{
        PlotSession s = { 0 };
        char text[96];
        const char *austin =
                "{\"profile\":{\"profiler\":\"austin\",\"profiler_name\":\"Austin\",\"coverage\":0.413,"
                "\"coverage_warning\":\"profile covers 41 % of the session (4.9 of 12.0 s): Austin stopped early 3 "
                "times and was restarted; see journalctl -u pamprofd\"},\"events\":["
                "{\"elapsed_seconds\":0.01,\"type\":\"profiler-start\"},"
                "{\"elapsed_seconds\":1,\"type\":\"profiler-early-exit\"},"
                "{\"elapsed_seconds\":2,\"type\":\"profiler-chunk\"},"
                "{\"elapsed_seconds\":3,\"type\":\"profiler-failed\"}]}";
        const char *older = "{\"profile\":{\"profiler\":\"austin\"},\"events\":[{\"elapsed_seconds\":1,"
                            "\"type\":\"profiler-chunk\"}]}";
        const char *pyspy =
                "{\"profile\":{\"profiler\":\"py-spy\",\"profiler_name\":\"py-spy\",\"coverage\":1},"
                "\"events\":[{\"elapsed_seconds\":1,\"type\":\"profiler-chunk\"}]}";
        const char *none = "{\"profile\":{\"coverage\":7},\"events\":[{\"elapsed_seconds\":1,"
                           "\"type\":\"profiler-chunk\"}]}";

        assert_int_equal(plot_session_parse(austin, strlen(austin), &s, NULL), 0);
        assert_string_equal(s.profiler, "Austin");
        assert_int_equal(s.n_events, 3);
        assert_int_equal(s.events[0].kind, PLOT_EVENT_PROFILER_EARLY);
        assert_string_equal(s.events[0].label, "Austin stopped early");
        assert_string_equal(s.events[1].label, "Austin chunk");
        assert_string_equal(s.events[2].label, "Austin failed");
        assert_float_equal(s.coverage, 0.413, 1e-12);
        assert_string_equal(s.coverage_warning,
                            "profile covers 41 % of the session (4.9 of 12.0 s): Austin stopped "
                            "early 3 times and was restarted; see journalctl -u pamprofd");
        plot_session_coverage_text(&s, text, sizeof(text));
        assert_string_equal(text, "Austin profile: 41 % of the session");
        plot_session_done(&s);

        /* A record from before the name was kept: "austin" is Austin. */
        assert_int_equal(plot_session_parse(older, strlen(older), &s, NULL), 0);
        assert_string_equal(s.events[0].label, "Austin chunk");
        assert_true(isnan(s.coverage));
        plot_session_coverage_text(&s, text, sizeof(text));
        assert_string_equal(text, "");
        plot_session_done(&s);

        assert_int_equal(plot_session_parse(pyspy, strlen(pyspy), &s, NULL), 0);
        assert_string_equal(s.events[0].label, "py-spy chunk");
        plot_session_coverage_text(&s, text, sizeof(text));
        assert_string_equal(text, "py-spy profile: 100 % of the session");
        assert_null(s.coverage_warning);
        plot_session_done(&s);

        /* No name, a coverage out of range: neither is made up. */
        assert_int_equal(plot_session_parse(none, strlen(none), &s, NULL), 0);
        assert_null(s.profiler);
        assert_string_equal(s.events[0].label, "profiler chunk");
        assert_true(isnan(s.coverage));
        plot_session_done(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_double),
                cmocka_unit_test(test_seed_five_columns),
                cmocka_unit_test(test_ours_fourteen_columns),
                cmocka_unit_test(test_malformed_rows_skipped),
                cmocka_unit_test(test_header_cases),
                cmocka_unit_test(test_empty_cells_and_limits),
                cmocka_unit_test(test_csv_reader_quotes),
                cmocka_unit_test(test_threads),
                cmocka_unit_test(test_session),
                cmocka_unit_test(test_session_profile),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
