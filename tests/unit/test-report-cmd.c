/* SPDX-License-Identifier: MIT */
/* pamprofctl report as a command: arguments, siblings found by name, exit codes, --json, --vs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd-report.h"

typedef struct Run {
        int code;
        char *out, *err;
} Run;

static char *slurp(int fd)
{
        size_t cap = 1 << 16, n = 0;
        char *s = malloc(cap);
        ssize_t k;

        assert_non_null(s);
        lseek(fd, 0, SEEK_SET);
        while ((k = read(fd, s + n, cap - n - 1)) > 0) {
                n += (size_t) k;
                if (n + 1 == cap) {
                        cap *= 2;
                        s = realloc(s, cap);
                        assert_non_null(s);
                }
        }
        s[n] = '\0';
        return s;
}

/* Runs `pamprofctl report ARGS...` with its stdout and stderr caught. */
static Run run(const char *first, ...)
{
        char *argv[16] = { (char *) "report" };
        int argc = 1, saved_out, saved_err, out, err;
        char po[] = "/tmp/test-report-cmd-out-XXXXXX", pe[] = "/tmp/test-report-cmd-err-XXXXXX";
        va_list ap;
        Run r;

        va_start(ap, first);
        for (const char *a = first; a; a = va_arg(ap, const char *))
                argv[argc++] = (char *) a;
        va_end(ap);
        out = mkstemp(po);
        err = mkstemp(pe);
        assert_true(out >= 0 && err >= 0);
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(1);
        saved_err = dup(2);
        dup2(out, 1);
        dup2(err, 2);
        r.code = cmd_report(argc, argv);
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
        r.out = slurp(out);
        r.err = slurp(err);
        close(out);
        close(err);
        unlink(po);
        unlink(pe);
        return r;
}

static void run_done(Run *r)
{
        free(r->out);
        free(r->err);
}

static char *fixture(const char *name)
{
        const char *dir = getenv("PAMPROF_REPORT_FIXTURES");
        char *p;

        assert_non_null(dir);
        assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void test_usage(void **state)
{
        Run r = run(NULL);

        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, "which session?"));
        run_done(&r);
        r = run("--bogus", "x", NULL);
        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, "unknown option"));
        run_done(&r);
        r = run("a", "b", NULL);
        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, "--vs"));
        run_done(&r);
        r = run("x", "--csv", NULL);
        assert_int_equal(r.code, 2);
        assert_non_null(strstr(r.err, "needs a value"));
        run_done(&r);
        r = run("--help", NULL);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "Usage: pamprofctl report"));
        run_done(&r);
}

static void test_missing(void **state)
{
        Run r = run("pam_nosuch_20260101_000000", NULL);

        assert_int_equal(r.code, 1);
        assert_non_null(strstr(r.err, "daemon"));
        run_done(&r);
        r = run("/nonexistent/pam_x_20260101_000000_profile.speedscope.json", NULL);
        assert_int_equal(r.code, 1);
        assert_non_null(strstr(r.err, "no such file"));
        run_done(&r);
}

static void test_by_profile_finds_siblings(void **state)
{
        char *p = fixture("pam_idle-busywait_20260101_120000_profile.speedscope.json");
        Run r = run(p, NULL);

        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "Report on pam_idle-busywait_20260101_120000"));
        assert_non_null(strstr(r.out, "[busy-wait]"));
        assert_non_null(strstr(r.out, "CPU MEAN/MAX"));   /* the threads CSV was found */
        assert_non_null(strstr(r.out, "CPU and memory")); /* and the CPU CSV */
        assert_string_equal(r.err, "");
        run_done(&r);
        free(p);
}

static void test_json_and_prefix(void **state)
{
        char *p = fixture("pam_idle-leak_20260101_120000");
        Run r = run(p, "--json", NULL);
        cJSON *doc;

        assert_int_equal(r.code, 0);
        doc = cJSON_Parse(r.out);
        assert_non_null(doc);
        assert_string_equal(cJSON_GetObjectItem(doc, "label")->valuestring, "pam_idle-leak_20260101_120000");
        assert_string_equal(
                cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "findings"), 0), "kind")
                        ->valuestring,
                "memory-leak");
        cJSON_Delete(doc);
        run_done(&r);
        free(p);
}

static void test_csv_only_and_scenario(void **state)
{
        char *csv = fixture("pam_idle-leak_20260101_120000_cpu.csv");
        char *dir = fixture("");
        char copy[512];
        Run r;

        /* A CSV copied elsewhere has no siblings: CPU and memory only, and the scenario from --scenario. */
        snprintf(copy, sizeof(copy), "/tmp/test-report-cmd-%d.csv", (int) getpid());
        {
                FILE *a = fopen(csv, "re"), *b = fopen(copy, "we");
                char buf[4096];
                size_t n;
                assert_non_null(a);
                assert_non_null(b);
                while ((n = fread(buf, 1, sizeof(buf), a)) > 0)
                        assert_int_equal(fwrite(buf, 1, n, b), n);
                fclose(a);
                fclose(b);
        }
        r = run(copy, "--scenario", "mission-execution", NULL);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "profile: none"));
        assert_non_null(strstr(r.out, "scenario mission-execution\n"));
        assert_non_null(strstr(r.out, "[memory-leak]"));
        run_done(&r);
        r = run(copy, "--idle-scenario", NULL);
        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "idle scenario"));
        run_done(&r);
        unlink(copy);
        free(csv);
        free(dir);
}

static void test_vs(void **state)
{
        char *a = fixture("pam_idle-fastpoll_20260101_120000_profile.speedscope.json");
        char *b = fixture("pam_idle-no-leaffc_20260101_120000_cpu.csv");
        Run r = run(a, "--vs", b, NULL);

        assert_int_equal(r.code, 0);
        assert_non_null(strstr(r.out, "Compared with pam_idle-no-leaffc_20260101_120000:"));
        assert_non_null(strstr(r.out, "TelemetryPoller"));
        run_done(&r);
        free(a);
        free(b);
}

static void test_not_a_profile(void **state)
{
        char path[] = "/tmp/test-report-cmd-bad-XXXXXX";
        int fd = mkstemp(path);
        Run r;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "[1,2,3]\n", 8), 8);
        close(fd);
        r = run(path, NULL);
        assert_int_equal(r.code, 1);
        assert_non_null(strstr(r.err, path));
        assert_non_null(strstr(r.err, "not a speedscope file"));
        run_done(&r);
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_usage),
                cmocka_unit_test(test_missing),
                cmocka_unit_test(test_by_profile_finds_siblings),
                cmocka_unit_test(test_json_and_prefix),
                cmocka_unit_test(test_csv_only_and_scenario),
                cmocka_unit_test(test_vs),
                cmocka_unit_test(test_not_a_profile),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
