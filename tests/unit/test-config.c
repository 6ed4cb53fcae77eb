/* SPDX-License-Identifier: MIT */
/* The configuration file: defaults, syntax, every error with file:line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "profiler.h"

static void expect_error(const char *text, const char *want)
{
        Config c;
        char *err = NULL;

        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_parse(&c, "test.conf", text, &err), -EINVAL);
        assert_non_null(err);
        if (!strstr(err, want))
                fail_msg("error \"%s\" does not contain \"%s\"", err, want);
        free(err);
        config_done(&c);
}

static void test_defaults(void **state)
{
        Config c;
        char *err = NULL;

        assert_int_equal(config_init(&c), 0);
        assert_string_equal(c.socket, "/run/pamprofd/pamprofd.sock");
        assert_string_equal(c.allowed_group, "pamprof");
        assert_string_equal(c.proc_root, "/proc");
        assert_true(c.interval == 1000000);
        assert_true(c.scan_interval == 2000000);
        assert_true(c.max_duration == 86400ULL * 1000000);
        assert_int_equal(c.rate, 100);
        assert_int_equal(c.max_profile_mb, 300);
        assert_true(c.threads);
        assert_int_equal(config_verify(&c, &err), 0);
        config_done(&c);
}

static void test_parse_values(void **state)
{
        Config c;
        char *err = NULL;
        const char *text = "# pamprofd.conf\n"
                           "\n"
                           "  interval = 0.5  \n"
                           "max_duration=3600\n"
                           "; also a comment\n"
                           "output_dir = \"/srv/pam profiles\"\n"
                           "target_match = 'uvicorn .*# not a comment'\n"
                           "threads = no\n"
                           "rate = 250\n"
                           "pyspy_path =\n";

        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_parse(&c, "t.conf", text, &err), 0);
        assert_null(err);
        assert_true(c.interval == 500000);
        assert_true(c.max_duration == 3600000000ULL);
        assert_string_equal(c.output_dir, "/srv/pam profiles");
        assert_string_equal(c.target_match, "uvicorn .*# not a comment");
        assert_false(c.threads);
        assert_int_equal(c.rate, 250);
        assert_string_equal(c.pyspy_path, "");
        config_done(&c);
}

static void test_errors_name_file_and_line(void **state)
{
        expect_error("interval = 1\nbogus = 2\n", "test.conf:2: unknown key \"bogus\"");
        expect_error("output-dir = /x\n", "test.conf:1: unknown key \"output-dir\"");
        expect_error("\n\ninterval = soon\n", "test.conf:3: interval must be a number of seconds");
        expect_error("interval = 0.01\n", "from 0.1 to 3600");
        expect_error("interval = -1\n", "test.conf:1:");
        expect_error("interval = nan\n", "test.conf:1:");
        expect_error("rate = 0\n", "rate must be a whole number from 1 to 1000");
        expect_error(
                "max_profile_mb = 1.5\n",
                "max_profile_mb must be a whole number from 0 to 1048576, not \"1.5\""); /* not 1.04858e+06 */
        expect_error("max_profile_mb = -1\n", "max_profile_mb must be a whole number");
        expect_error("rate = 12abc\n", "not \"12abc\"");
        expect_error("rate = -5\n", "rate must be");
        expect_error("rate = 99999999999999999999999\n", "rate must be");
        expect_error("threads = perhaps\n", "threads must be yes or no");
        expect_error("socket = relative.sock\n", "socket must be an absolute path");
        expect_error("no equals sign here\n", "test.conf:1: expected \"key = value\"");
        expect_error(" = value\n", "missing key");
        expect_error("socket = \"/run/x\n", "unterminated quote");
        expect_error("scan_interval = 0.5\n", "from 1 to 3600");
}

static void test_set_from_flag_and_verify(void **state)
{
        Config c;
        char *err = NULL;

        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_set(&c, "output-dir", "/tmp/out", &err), 0);
        assert_string_equal(c.output_dir, "/tmp/out");
        assert_int_equal(config_set(&c, "colour", "red", &err), -ENOENT);
        assert_non_null(strstr(err, "unknown key"));
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "target_match", "(unclosed", &err), 0);
        assert_int_equal(config_verify(&c, &err), -EINVAL);
        assert_non_null(strstr(err, "not a valid regular expression"));
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "target_match", "ok", &err), 0);
        assert_int_equal(config_set(&c, "profiler", "perf", &err), 0);
        assert_int_equal(config_verify(&c, &err), -EINVAL);
        assert_non_null(strstr(err, "profiler must be py-spy or austin, not \"perf\""));
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "profiler", "austin", &err), 0);
        assert_int_equal(config_set(&c, "max_duration", "0.5", &err), 0);
        assert_int_equal(config_verify(&c, &err), -EINVAL);
        assert_non_null(strstr(err, "max_duration is shorter than interval"));
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "max_duration", "0", &err), 0);
        /* metrics_dir: off by default, else absolute; metrics_interval 1 to 3600 s. */
        assert_string_equal(c.metrics_dir, "");
        assert_int_equal(c.metrics_interval, 15 * USEC_PER_SEC);
        assert_int_equal(config_set(&c, "metrics-dir", "textfile", &err), 0);
        assert_int_equal(config_verify(&c, &err), -EINVAL);
        assert_non_null(strstr(err, "metrics_dir must be empty or an absolute path"));
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "metrics_dir", "/var/lib/prometheus/node-exporter", &err), 0);
        assert_int_equal(config_verify(&c, &err), 0);
        assert_int_equal(config_set(&c, "metrics_interval", "0.5", &err), -EINVAL);
        free(err);
        err = NULL;
        assert_int_equal(config_set(&c, "metrics-interval", "60", &err), 0);
        assert_int_equal(c.metrics_interval, 60 * USEC_PER_SEC);
        config_done(&c);
}

/* A backend's executable is read by the key its row names. */
static void test_string_by_key(void **state)
{
        Config c;
        char *err = NULL;

        assert_int_equal(config_init(&c), 0);
        assert_string_equal(config_string(&c, austin_backend.path_key), "");
        assert_int_equal(config_set(&c, "pyspy_path", "/a/py-spy", &err), 0);
        assert_int_equal(config_set(&c, "austin-path", "/b/austin", &err), 0);
        assert_string_equal(config_string(&c, austin_backend.path_key), "/b/austin");
        assert_string_equal(config_string(&c, pyspy_backend.path_key), "/a/py-spy");
        assert_string_equal(config_string(&c, "interval"), ""); /* not a string key */
        assert_string_equal(config_string(&c, "colour"), "");   /* no such key */
        config_done(&c);
}

static void test_every_key_has_a_flag(void **state)
{
        const ConfigKeyInfo *keys;
        size_t n = config_keys(&keys);

        assert_true(n >= 12);
        for (size_t i = 0; i < n; i++) {
                assert_non_null(keys[i].flag);
                assert_non_null(keys[i].help);
                assert_null(strchr(keys[i].flag, '_'));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_parse_values),
                cmocka_unit_test(test_errors_name_file_and_line),
                cmocka_unit_test(test_set_from_flag_and_verify),
                cmocka_unit_test(test_every_key_has_a_flag),
                cmocka_unit_test(test_string_by_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
