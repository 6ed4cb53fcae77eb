/* SPDX-License-Identifier: MIT */
/* pamprofd.prom's text: every series with its HELP and TYPE, the conventions, the figures left out. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics-text.h"

static MetricsFigures full(void)
{
        return (MetricsFigures){
                .version = "0.1.0",
                .pam_up = true,
                .have_pam = true,
                .pam_cpu_user_seconds = 12.34,
                .pam_cpu_system_seconds = 1.5,
                .pam_rss_bytes = 104857600,
                .have_pam_pss = true,
                .pam_pss_bytes = 52428800,
                .pam_threads = 17,
                .pam_restarts = 2,
                .session_running = true,
                .have_profiler = true,
                .profiler_cpu_seconds = 0.25,
                .profiler_rss_bytes = 8388608,
                .sessions = { 3, 1, 0 },
                .have_profile_bytes = true,
                .profile_bytes = 123456789,
                .have_free_bytes = true,
                .free_bytes = 9876543210ULL,
                .have_last_session_end = true,
                .last_session_end = 1700000000.5,
                .recorder_on = true,
                .captures = { 2, 0, 0, 1, 4 },
        };
}

static char *format(const MetricsFigures *f)
{
        static char buf[METRICS_TEXT_MAX];
        int n = metrics_text_format(f, buf, sizeof(buf));

        assert_true(n > 0);
        assert_int_equal(strlen(buf), (size_t) n);
        return buf;
}

static void has_line(const char *text, const char *line)
{
        char want[512];

        snprintf(want, sizeof(want), "\n%s\n", line);
        if (strncmp(text, line, strlen(line)) == 0 && text[strlen(line)] == '\n')
                return;
        if (!strstr(text, want))
                fail_msg("missing line \"%s\" in:\n%s", line, text);
}

static void test_every_series(void **state)
{
        MetricsFigures f = full();
        const char *t = format(&f);

        has_line(t, "pamprofd_pam_up 1");
        has_line(t, "pamprofd_pam_cpu_seconds_total{mode=\"user\"} 12.34");
        has_line(t, "pamprofd_pam_cpu_seconds_total{mode=\"system\"} 1.50");
        has_line(t, "pamprofd_pam_rss_bytes 104857600");
        has_line(t, "pamprofd_pam_pss_bytes 52428800");
        has_line(t, "pamprofd_pam_threads 17");
        has_line(t, "pamprofd_pam_restarts_total 2");
        has_line(t, "pamprofd_session_running 1");
        has_line(t, "pamprofd_profiler_cpu_seconds_total 0.25");
        has_line(t, "pamprofd_profiler_rss_bytes 8388608");
        has_line(t, "pamprofd_sessions_total{outcome=\"stopped\"} 3");
        has_line(t, "pamprofd_sessions_total{outcome=\"failed\"} 1");
        has_line(t, "pamprofd_sessions_total{outcome=\"interrupted\"} 0");
        has_line(t, "pamprofd_profiles_bytes 123456789");
        has_line(t, "pamprofd_output_free_bytes 9876543210");
        has_line(t, "pamprofd_last_session_end_timestamp_seconds 1700000000.500");
        has_line(t, "pamprofd_build_info{version=\"0.1.0\"} 1");
        has_line(t, "# TYPE pamprofd_pam_cpu_seconds_total counter");
        has_line(t, "# TYPE pamprofd_pam_up gauge");
        has_line(t, "# TYPE pamprofd_sessions_total counter");
        has_line(t, "pamprofd_recorder_captures_total{trigger=\"cpu\"} 2");
        has_line(t, "pamprofd_recorder_captures_total{trigger=\"rss\"} 0");
        has_line(t, "pamprofd_recorder_captures_total{trigger=\"exit\"} 1");
        has_line(t, "pamprofd_recorder_captures_total{trigger=\"manual\"} 4");
        has_line(t, "# TYPE pamprofd_recorder_captures_total counter");
}

/* recorder = off: no recorder series at all (a 0 would say it is on and quiet). */
static void test_recorder_off_left_out(void **state)
{
        MetricsFigures f = full();

        f.recorder_on = false;
        assert_null(strstr(format(&f), "recorder"));
        assert_string_equal(metrics_trigger_to_string(METRICS_TRIGGER_THREADS), "threads");
        assert_null(metrics_trigger_to_string(_METRICS_TRIGGER_MAX));
}

/* Every sample line has a HELP and a TYPE before it, one each per name; counters end in _total. */
static void test_help_and_type_for_each_name(void **state)
{
        MetricsFigures f = full();
        char *t = strdup(format(&f)), *save = NULL, last_type[128] = "";

        assert_non_null(t);
        assert_true(t[strlen(t) - 1] == '\n');
        for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[128], type[32];
                if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
                        size_t n = strlen(name);
                        assert_true(strncmp(name, "pamprofd_", 9) == 0);
                        if (strcmp(type, "counter") == 0)
                                assert_true(n > 6 && strcmp(name + n - 6, "_total") == 0);
                        else
                                assert_string_equal(type, "gauge");
                        strcpy(last_type, name);
                        continue;
                }
                if (line[0] == '#')
                        continue;
                /* A sample: its name is the last TYPE's; two fields (no timestamp). */
                assert_true(strncmp(line, last_type, strlen(last_type)) == 0);
                assert_true(line[strlen(last_type)] == ' ' || line[strlen(last_type)] == '{');
                {
                        /* name or name{labels}, one space, the value: no timestamp after it */
                        const char *sp = strchr(line, ' '), *close = strrchr(line, '}');
                        assert_non_null(sp);
                        assert_ptr_equal(strrchr(line, ' '), close ? close + 1 : sp);
                        assert_null(strchr(line, '\t'));
                }
                assert_null(strstr(line, "pid"));
                assert_null(strstr(line, "percent"));
        }
        free(t);
}

/* Figures not known are left out, series and all; the counters and up are always there. */
static void test_unknown_figures_left_out(void **state)
{
        MetricsFigures f = { .version = "0.1.0" };
        const char *t = format(&f);

        has_line(t, "pamprofd_pam_up 0");
        has_line(t, "pamprofd_pam_restarts_total 0");
        has_line(t, "pamprofd_session_running 0");
        has_line(t, "pamprofd_sessions_total{outcome=\"stopped\"} 0");
        has_line(t, "pamprofd_build_info{version=\"0.1.0\"} 1");
        assert_null(strstr(t, "pamprofd_pam_cpu_seconds_total"));
        assert_null(strstr(t, "pamprofd_pam_rss_bytes"));
        assert_null(strstr(t, "pamprofd_profiler_"));
        assert_null(strstr(t, "pamprofd_profiles_bytes"));
        assert_null(strstr(t, "pamprofd_output_free_bytes"));
        assert_null(strstr(t, "pamprofd_last_session_end"));

        /* Up but the figures not read (a pid that went between the watcher and the read). */
        f.pam_up = true;
        t = format(&f);
        has_line(t, "pamprofd_pam_up 1");
        assert_null(strstr(t, "pamprofd_pam_cpu_seconds_total"));

        /* PSS can be missing on its own (smaps_rollup refused). */
        f = full();
        f.have_pam_pss = false;
        t = format(&f);
        has_line(t, "pamprofd_pam_rss_bytes 104857600");
        assert_null(strstr(t, "pamprofd_pam_pss_bytes"));
}

/* A counter never goes below 0 nor prints NaN; a version label is escaped. */
static void test_hostile_values(void **state)
{
        MetricsFigures f = full();
        const char *t;

        f.pam_cpu_user_seconds = -1;
        f.pam_cpu_system_seconds = 0.0 / 0.0;
        f.version = "1.0\"\\\nx";
        t = format(&f);
        has_line(t, "pamprofd_pam_cpu_seconds_total{mode=\"user\"} 0.00");
        has_line(t, "pamprofd_pam_cpu_seconds_total{mode=\"system\"} 0.00");
        has_line(t, "pamprofd_build_info{version=\"1.0\\\"\\\\\\nx\"} 1");
        f.version = NULL;
        t = format(&f);
        has_line(t, "pamprofd_build_info{version=\"unknown\"} 1");
}

static void test_too_small_buffer(void **state)
{
        MetricsFigures f = full();
        char small[100];

        assert_int_equal(metrics_text_format(&f, small, sizeof(small)), -ENOBUFS);
        assert_string_equal(small, "");
        assert_int_equal(metrics_text_format(&f, small, 0), -ENOBUFS);
}

/* The largest text (every figure, the longest numbers, a long version) fits METRICS_TEXT_MAX. */
static void test_max_fits(void **state)
{
        MetricsFigures f = full();
        char version[400], buf[METRICS_TEXT_MAX];

        memset(version, '"', sizeof(version) - 1);
        version[sizeof(version) - 1] = '\0';
        f.version = version;
        f.pam_cpu_user_seconds = f.pam_cpu_system_seconds = f.profiler_cpu_seconds = 1e300;
        f.last_session_end = 1e300;
        f.pam_rss_bytes = f.pam_pss_bytes = f.pam_threads = f.pam_restarts = f.profiler_rss_bytes =
                f.profile_bytes = f.free_bytes = UINT64_MAX;
        for (int i = 0; i < _METRICS_OUTCOME_MAX; i++)
                f.sessions[i] = UINT64_MAX;
        for (int i = 0; i < _METRICS_TRIGGER_MAX; i++)
                f.captures[i] = UINT64_MAX;
        assert_true(metrics_text_format(&f, buf, sizeof(buf)) > 0);
}

static void test_outcome_names(void **state)
{
        assert_string_equal(metrics_outcome_to_string(METRICS_OUTCOME_STOPPED), "stopped");
        assert_string_equal(metrics_outcome_to_string(METRICS_OUTCOME_FAILED), "failed");
        assert_string_equal(metrics_outcome_to_string(METRICS_OUTCOME_INTERRUPTED), "interrupted");
        assert_null(metrics_outcome_to_string(_METRICS_OUTCOME_MAX));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_every_series),
                cmocka_unit_test(test_help_and_type_for_each_name),
                cmocka_unit_test(test_unknown_figures_left_out),
                cmocka_unit_test(test_hostile_values),
                cmocka_unit_test(test_too_small_buffer),
                cmocka_unit_test(test_max_fits),
                cmocka_unit_test(test_outcome_names),
                cmocka_unit_test(test_recorder_off_left_out),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
