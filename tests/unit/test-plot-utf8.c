/* SPDX-License-Identifier: MIT */
/* Text that is not UTF-8 (a thread name from /proc, a scenario in an old file) still gives an image. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "plot.h"

static int memfd(const char *name, const char *text)
{
        char path[] = "/tmp/pamprof-utf8-XXXXXX";
        int fd = mkstemp(path);

        (void) name;
        assert_true(fd >= 0);
        unlink(path);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        lseek(fd, 0, SEEK_SET);
        return fd;
}

static void test_bad_bytes_in_names_and_titles(void **state)
{
        const char *csv = "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp\n"
                          "1.0,2.0,30.0,0.1,2026-11-27T20:00:01.000+00:00\n"
                          "2.0,3.0,30.5,0.1,2026-11-27T20:00:02.000+00:00\n";
        const char *threads = "elapsed_seconds,tid,thread_name,cpu_core_percent\n"
                              "1.0,100,Worker\xff\xfe,4.0\n2.0,100,Worker\xff\xfe,6.0\n"
                              "1.0,101,Cut\xe2\x82,1.0\n2.0,101,Cut\xe2\x82,1.0\n";
        const char *session =
                "{\"id\":\"pam_x_20261127_200000\",\"scenario\":\"sc\xc0\xaf\","
                "\"events\":[{\"elapsed_seconds\":1.5,\"type\":\"target-exit\",\"message\":\"\xff\"}]}";
        int c = memfd("cpu", csv), t = memfd("threads", threads), s = memfd("session", session);
        int out = memfd("out", "");
        PlotOptions o = { .format = PLOT_FORMAT_PNG, .title = "title \xf0\x28\x8c\x28" };
        PlotStats st = { 0 };
        char *err = NULL;
        off_t size;

        assert_int_equal(plot_render_fd(c, s, t, out, &o, &st, &err), 0);
        assert_null(err);
        size = lseek(out, 0, SEEK_END);
        assert_true(size > 1000);
        close(c);
        close(t);
        close(s);
        close(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bad_bytes_in_names_and_titles),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
