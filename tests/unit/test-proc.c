/* SPDX-License-Identifier: MIT */
/* The /proc parsers on real, hostile and truncated text, and the reader. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanup.h"
#include "proc-cmdline.h"
#include "proc-comm.h"
#include "proc-cpus.h"
#include "proc-field.h"
#include "proc-meminfo.h"
#include "proc-read.h"
#include "proc-schedstat.h"
#include "proc-smaps.h"
#include "proc-stat.h"
#include "proc-uptime.h"

#define S(lit) lit, sizeof(lit) - 1 /* a literal and its length, without the NUL */

static const char stat_line[] =
        "1234 (python3) S 1 1234 1234 0 -1 4194560 1500 0 3 0 1000 200 7 8 20 0 3 0 5000 "
        "419430400 25600 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0 "
        "0 0 0 0 0 0 0 0\n";

static void test_stat_plain(void **state)
{
        ProcStat st;

        assert_int_equal(proc_stat_parse(S(stat_line), &st), 0);
        assert_int_equal(st.pid, 1234);
        assert_string_equal(st.comm, "python3");
        assert_int_equal(st.state, 'S');
        assert_int_equal(st.ppid, 1);
        assert_int_equal(st.utime, 1000);
        assert_int_equal(st.stime, 200);
        assert_int_equal(st.cutime, 7);
        assert_int_equal(st.cstime, 8);
        assert_int_equal(st.num_threads, 3);
        assert_int_equal(st.starttime, 5000);
        assert_int_equal(st.vsize, 419430400);
        assert_int_equal(st.rss, 25600);
}

static void test_stat_hostile_comm(void **state)
{
        /* A name may hold ") ", "(", spaces and a newline: the comm ends at the last ')'. */
        static const char text[] =
                "42 (a) S 1 (b\n c)) R 7 42 42 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 99 0 5 0\n";
        static const char empty[] = "42 () R 7 42 42 0 -1 0 0 0 0 0 11 12 0 0 20 0 1 0 99 0 5 1\n";
        ProcStat st;

        assert_int_equal(proc_stat_parse(S(text), &st), 0);
        assert_string_equal(st.comm, "a) S 1 (b\n c)");
        assert_int_equal(st.state, 'R');
        assert_int_equal(st.ppid, 7);
        assert_int_equal(st.utime, 11);
        assert_int_equal(st.stime, 12);
        assert_int_equal(st.starttime, 99);
        assert_int_equal(st.rss, 5);

        assert_int_equal(proc_stat_parse(S(empty), &st), 0);
        assert_string_equal(st.comm, "");
}

static void test_stat_long_comm(void **state)
{
        char text[512];
        ProcStat st;
        int n;

        n = snprintf(text, sizeof(text), "5 (%0100d) S 2 0 0 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 0 0\n", 0);
        assert_int_equal(proc_stat_parse(text, (size_t) n, &st), 0);
        assert_int_equal(strlen(st.comm), PROC_COMM_MAX);
        assert_int_equal(st.utime, 1);
}

static void test_stat_malformed(void **state)
{
        ProcStat st = { .pid = -77 };

        assert_int_equal(proc_stat_parse("", 0, &st), -EBADMSG);
        assert_int_equal(proc_stat_parse(S("\n"), &st), -EBADMSG);
        assert_int_equal(proc_stat_parse(S("1234 (python3"), &st), -EBADMSG);
        assert_int_equal(proc_stat_parse(S("1234 (python3)"), &st), -EBADMSG);
        assert_int_equal(proc_stat_parse(S("1234 (python3) S 1 1234"), &st), -EBADMSG);
        assert_int_equal(
                proc_stat_parse(S("(python3) S 1 1234 1234 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                -EBADMSG);
        assert_int_equal(
                proc_stat_parse(S("12x4 (p) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                -EBADMSG);
        /* A state of two letters, a letter in a number, a negative utime. */
        assert_int_equal(proc_stat_parse(S("1 (p) SS 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                         -EBADMSG);
        assert_int_equal(proc_stat_parse(S("1 (p) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                         -EBADMSG);
        assert_int_equal(proc_stat_parse(S("1 (p) S 1 1 1 0 -1 0 0 0 0 0 -1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                         -EBADMSG);
        /* Every prefix of a good line is refused (a truncated read), up to
         * the first digit of the field after rss, which proves rss whole. */
        for (size_t n = 0; n < (size_t) (strstr(stat_line, " 25600 ") - stat_line) + 8; n++)
                assert_true(proc_stat_parse(stat_line, n, &st) < 0);
        assert_int_equal(proc_stat_parse(stat_line, strstr(stat_line, " 25600 ") - stat_line + 8, &st), 0);
        st.pid = -77;
        assert_int_equal(st.pid, -77); /* never written on failure */
}

static void test_stat_overflow(void **state)
{
        ProcStat st;

        /* 20 digits, one above UINT64_MAX. */
        assert_int_equal(
                proc_stat_parse(
                        S("1 (p) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551616 2 0 0 20 0 1 0 3 0 5 0\n"),
                        &st),
                -ERANGE);
        assert_int_equal(
                proc_stat_parse(
                        S("1 (p) S 1 1 1 0 -1 0 0 0 0 0 99999999999999999999 2 0 0 20 0 1 0 3 0 5 0\n"),
                        &st),
                -ERANGE);
        assert_int_equal(
                proc_stat_parse(
                        S("1 (p) S 1 1 1 0 -1 0 0 0 0 0 18446744073709551615 2 0 0 20 0 1 0 3 0 5 0\n"),
                        &st),
                0);
        assert_true(st.utime == UINT64_MAX);
        /* A pid beyond int. */
        assert_int_equal(
                proc_stat_parse(S("99999999999 (p) S 1 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                -ERANGE);
        assert_int_equal(
                proc_stat_parse(S("1 (p) S 4294967297 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 3 0 5 0\n"), &st),
                -ERANGE);
}

/* This process's threads as the kernel lists them: one natively, more under
 * qemu-user, whose own threads are the process's too. */
static long own_threads(void)
{
        DIR *d = opendir("/proc/self/task");
        struct dirent *de;
        long n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

static void test_stat_self(void **state)
{
        long threads = own_threads();
        char buf[1024];
        ProcStat st;
        size_t len;
        int fd;

        fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(proc_read_file(fd, "self/stat", buf, sizeof(buf), &len), 0);
        assert_int_equal(proc_stat_parse(buf, len, &st), 0);
        assert_int_equal(st.pid, getpid());
        assert_int_equal(st.ppid, getppid());
        assert_int_equal(st.num_threads, threads);
        close(fd);
}

static void test_fields(void **state)
{
        uint64_t u = 5;
        int64_t i = 5;

        assert_int_equal(proc_field_u64(S("0"), &u), 0);
        assert_true(u == 0);
        assert_int_equal(proc_field_u64("", 0, &u), -EBADMSG);
        assert_int_equal(proc_field_u64(S("+1"), &u), -EBADMSG);
        assert_int_equal(proc_field_u64(S(" 1"), &u), -EBADMSG);
        assert_int_equal(proc_field_u64(S("00000000000000000000000001"), &u), 0);
        assert_true(u == 1);
        assert_int_equal(proc_field_i64(S("-9223372036854775808"), &i), 0);
        assert_true(i == INT64_MIN);
        assert_int_equal(proc_field_i64(S("-9223372036854775809"), &i), -ERANGE);
        assert_int_equal(proc_field_i64(S("9223372036854775808"), &i), -ERANGE);
        assert_int_equal(proc_field_i64(S("-"), &i), -EBADMSG);
}

static void test_uptime(void **state)
{
        double up = -1;

        assert_int_equal(proc_uptime_parse(S("12345.67 23456.78\n"), &up), 0);
        assert_float_equal(up, 12345.67, 1e-9);
        assert_int_equal(proc_uptime_parse(S("5 1\n"), &up), 0);
        assert_float_equal(up, 5, 0);
        assert_int_equal(proc_uptime_parse(S("-1.00 2.00\n"), &up), -EBADMSG);
        assert_int_equal(proc_uptime_parse(S("1.x 2\n"), &up), -EBADMSG);
        assert_int_equal(proc_uptime_parse(S("1. 2\n"), &up), -EBADMSG);
        assert_int_equal(proc_uptime_parse(S("99999999999999999999999.00 0\n"), &up), -EBADMSG);
        assert_int_equal(proc_uptime_parse("", 0, &up), -EBADMSG);
        assert_float_equal(up, 5, 0); /* untouched by a failure */
}

static void test_meminfo(void **state)
{
        uint64_t kb = 1;

        assert_int_equal(proc_meminfo_parse(S("MemTotal:        4096000 kB\nMemFree: 1 kB\n"), &kb), 0);
        assert_true(kb == 4096000);
        assert_int_equal(proc_meminfo_parse(S("MemFree: 1 kB\nMemTotal: 77 kB"), &kb),
                         0); /* no final newline */
        assert_true(kb == 77);
        assert_int_equal(proc_meminfo_parse(S("MemFree: 1 kB\n"), &kb), -ENOENT);
        assert_int_equal(proc_meminfo_parse(S("MemTotalX: 5 kB\n"), &kb), -ENOENT);
        assert_int_equal(proc_meminfo_parse(S(" MemTotal: 5 kB\n"), &kb), -ENOENT);
        assert_int_equal(proc_meminfo_parse(S("MemTotal:"), &kb), -EBADMSG);
        assert_int_equal(proc_meminfo_parse(S("MemTotal: abc kB\n"), &kb), -EBADMSG);
        assert_int_equal(proc_meminfo_parse(S("MemTotal: 5 MB\n"), &kb), -EBADMSG);
        assert_int_equal(proc_meminfo_parse(S("MemTotal: 5 kB junk\n"), &kb), -EBADMSG);
        assert_int_equal(proc_meminfo_parse(S("MemTotal: 0 kB\n"), &kb), -EBADMSG);
        assert_int_equal(proc_meminfo_parse(S("MemTotal: 99999999999999999999 kB\n"), &kb), -ERANGE);
        assert_int_equal(proc_meminfo_parse("", 0, &kb), -ENOENT);
        assert_true(kb == 77);
}

static void test_smaps_rollup(void **state)
{
        static const char text[] = "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0      [rollup]\n"
                                   "Rss:              102400 kB\n"
                                   "Pss_Anon:          40960 kB\n"
                                   "Pss:               81920 kB\n"
                                   "Pss_File:          40960 kB\n";
        uint64_t kb = 1;

        assert_int_equal(proc_smaps_rollup_parse(S(text), &kb), 0);
        assert_true(kb == 81920);
        assert_int_equal(proc_smaps_rollup_parse(S("Rss: 1 kB\nPss_Anon: 2 kB\n"), &kb), -ENOENT);
        assert_int_equal(proc_smaps_rollup_parse(S("Pss:\n"), &kb), -EBADMSG);
        assert_int_equal(proc_smaps_rollup_parse("", 0, &kb), -ENOENT);
        assert_true(kb == 81920);
}

static void test_schedstat(void **state)
{
        ProcSchedstat st = { .run_ns = 1 };

        assert_int_equal(proc_schedstat_parse(S("7500000000 1000000 857\n"), &st), 0);
        assert_true(st.run_ns == 7500000000ULL);
        assert_true(st.wait_ns == 1000000);
        assert_true(st.timeslices == 857);
        assert_int_equal(proc_schedstat_parse(S("18446744073709551615 0 18446744073709551615\n"), &st), 0);
        assert_true(st.run_ns == UINT64_MAX && st.timeslices == UINT64_MAX);

        st = (ProcSchedstat){ .run_ns = 1, .timeslices = 2 };
        /* A text cut anywhere, even after the third number's first digits,
         * would read as smaller counters: refused. */
        assert_int_equal(proc_schedstat_parse(S("7500000000 1000000 85"), &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse(S("7500000000 1000000"), &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse(S("75"), &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse("", 0, &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse(S("18446744073709551616 0 0\n"), &st), -ERANGE);
        assert_int_equal(proc_schedstat_parse(S("1 0 18446744073709551616\n"), &st), -ERANGE);
        assert_int_equal(proc_schedstat_parse(S("-1 0 0\n"), &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse(S("1 0 x\n"), &st), -EBADMSG);
        assert_int_equal(proc_schedstat_parse(S("1 0 5 \n"), &st), -EBADMSG);
        assert_true(st.run_ns == 1 && st.timeslices == 2); /* untouched on failure */
}

static void test_cmdline(void **state)
{
        char *s;

        assert_int_equal(
                proc_cmdline_parse(S("/usr/bin/python3\0-m\0uvicorn\0petal_app_manager.main:app\0"), &s), 0);
        assert_string_equal(s, "/usr/bin/python3 -m uvicorn petal_app_manager.main:app");
        free(s);
        assert_int_equal(proc_cmdline_parse(S("a\0\0b\0\0\0"), &s), 0);
        assert_string_equal(s, "a  b");
        free(s);
        assert_int_equal(proc_cmdline_parse(S("rewritten title with spaces"), &s), 0);
        assert_string_equal(s, "rewritten title with spaces");
        free(s);
        assert_int_equal(proc_cmdline_parse("", 0, &s), 0);
        assert_string_equal(s, "");
        free(s);
        assert_int_equal(proc_cmdline_parse(S("\0\0"), &s), 0);
        assert_string_equal(s, "");
        free(s);
}

static void test_cpus(void **state)
{
        unsigned n = 9;

        assert_int_equal(
                proc_cpus_parse(S("cpu  1 2 3\ncpu0 1 2 3\ncpu1 1 2 3\ncpu17 1\nintr 5 cpu9\n"), &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(proc_cpus_parse(S("cpu  1 2 3\nintr 5\n"), &n), -EBADMSG);
        assert_int_equal(proc_cpus_parse("", 0, &n), -EBADMSG);
        assert_int_equal(proc_cpus_parse(S("cpu0"), &n), 0); /* truncated after the name: still a line */
        assert_int_equal(n, 1);
        assert_int_equal(proc_cpus_parse(S("cpu"), &n), -EBADMSG);
}

static void test_comm(void **state)
{
        char name[17] = "old";

        assert_int_equal(proc_comm_parse(S("MAVLinkWorker-1\n"), name, sizeof(name)), 0);
        assert_string_equal(name, "MAVLinkWorker-1");
        assert_int_equal(proc_comm_parse(S("a,b \"c\"\n\n"), name, sizeof(name)), 0);
        assert_string_equal(name, "a,b \"c\"\n");
        assert_int_equal(proc_comm_parse(S("\n"), name, sizeof(name)), 0);
        assert_string_equal(name, "");
        assert_int_equal(proc_comm_parse(S("0123456789abcdefghij\n"), name, sizeof(name)), 0);
        assert_string_equal(name, "0123456789abcdef");
        assert_int_equal(proc_comm_parse(S("ab\0cd\n"), name, sizeof(name)), 0);
        assert_string_equal(name, "ab");
        strcpy(name, "kept");
        assert_int_equal(proc_comm_parse("", 0, name, sizeof(name)), -EBADMSG);
        assert_string_equal(name, "kept");
}

static void test_read_fixture(void **state)
{
        const char *fixtures = getenv("PAMPROF_FIXTURES");
        char path[4096], buf[64], small[8];
        _cleanup_close_ int root = -1;
        size_t len = 99;
        char *text;

        assert_non_null(fixtures);
        snprintf(path, sizeof(path), "%s/proc-a", fixtures);
        root = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);

        assert_int_equal(proc_read_file(root, "1234/task/1235/comm", buf, sizeof(buf), &len), 0);
        assert_int_equal(len, 16);
        assert_string_equal(buf, "MAVLinkWorker-1\n");
        /* A pid or thread that does not exist is "gone". */
        assert_int_equal(proc_read_file(root, "999/stat", buf, sizeof(buf), &len), -ESRCH);
        assert_int_equal(proc_read_file(root, "1234/task/999/schedstat", buf, sizeof(buf), &len), -ESRCH);
        /* Too big for the buffer, and exactly fitting. */
        assert_int_equal(proc_read_file(root, "1234/task/1235/comm", small, sizeof(small), &len), -EFBIG);
        assert_int_equal(proc_read_file(root, "1234/task/1235/comm", buf, 17, &len), 0);
        assert_int_equal(proc_read_file(root, "1234/task/1235/comm", buf, 16, &len), -EFBIG);
        assert_int_equal(len, 16);

        assert_int_equal(proc_read_file_alloc(root, "stat", 1 << 20, &text, &len), 0);
        assert_true(len > 100 && strlen(text) == len);
        free(text);
        assert_int_equal(proc_read_file_alloc(root, "stat", 100, &text, &len), -EFBIG);
        assert_int_equal(proc_read_file_alloc(root, "nonexistent", 100, &text, &len), -ESRCH);
}

static void test_read_gone(void **state)
{
        _cleanup_close_ int proc = -1, fd = -1;
        char path[32], buf[1024];
        size_t len;
        pid_t pid;

        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(proc >= 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        snprintf(path, sizeof(path), "%d/stat", (int) pid);
        fd = proc_open(proc, path, 0);
        assert_true(fd >= 0);
        assert_int_equal(proc_read_fd(fd, buf, sizeof(buf), &len), 0);
        assert_int_equal(proc_read_fd(fd, buf, sizeof(buf), &len), 0); /* again, from offset 0 */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        /* Held open: ESRCH from the read; by path: ENOENT from the open. Both are "gone". */
        assert_int_equal(proc_read_fd(fd, buf, sizeof(buf), &len), -ESRCH);
        assert_int_equal(proc_read_file(proc, path, buf, sizeof(buf), &len), -ESRCH);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_plain),     cmocka_unit_test(test_stat_hostile_comm),
                cmocka_unit_test(test_stat_long_comm), cmocka_unit_test(test_stat_malformed),
                cmocka_unit_test(test_stat_overflow),  cmocka_unit_test(test_stat_self),
                cmocka_unit_test(test_fields),         cmocka_unit_test(test_uptime),
                cmocka_unit_test(test_meminfo),        cmocka_unit_test(test_smaps_rollup),
                cmocka_unit_test(test_schedstat),      cmocka_unit_test(test_cmdline),
                cmocka_unit_test(test_cpus),           cmocka_unit_test(test_comm),
                cmocka_unit_test(test_read_fixture),   cmocka_unit_test(test_read_gone),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
