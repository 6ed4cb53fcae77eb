/* SPDX-License-Identifier: MIT */
/* Finding PAM in a proc tree: which matching process is PAM. Fixture trees are built here. */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "watcher.h"

static char root[64];
static regex_t re;

static void add_proc(int pid, int ppid, const char *comm, unsigned long long start, const char *cmdline,
                     size_t cmdline_len)
{
        char path[256];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%d", root, pid);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/%d/stat", root, pid);
        f = fopen(path, "w");
        fprintf(f,
                "%d (%s) S %d %d %d 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 %llu 123456 789 18446744073709551615\n",
                pid, comm, ppid, pid, pid, start);
        fclose(f);
        snprintf(path, sizeof(path), "%s/%d/cmdline", root, pid);
        f = fopen(path, "w");
        fwrite(cmdline, 1, cmdline_len, f);
        fclose(f);
}

#define CMD(s) s, sizeof(s) - 1

static int group_setup(void **state)
{
        return regcomp(&re, "uvicorn[^ ]*( .*)? petal_app_manager\\.main:app", REG_EXTENDED | REG_NOSUB);
}

static int group_teardown(void **state)
{
        regfree(&re);
        return 0;
}

/* Each test gets a proc tree of its own: none sees another's processes. */
static int setup(void **state)
{
        strcpy(root, "/tmp/pamprof-proc-XXXXXX");
        return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
        return system(cmd) == 0 ? 0 : -1;
}

static pid_t scan(char **cmdline)
{
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        pid_t pid = 0;
        int r = target_scan(fd, (const struct re_pattern_buffer *) &re, 0, &pid, cmdline);

        close(fd);
        return r < 0 ? r : pid;
}

static void test_nothing_matches(void **state)
{
        add_proc(1, 0, "systemd", 1, CMD("/sbin/init\0"));
        add_proc(2, 0, "kthreadd", 1, CMD(""));
        add_proc(50, 1, "python3", 10, CMD("/usr/bin/python3\0-m\0uvicorn\0other.main:app\0"));
        assert_int_equal(scan(NULL), -ESRCH);
}

static void test_interpreter_before_grep_and_parent_before_fork(void **state)
{
        char *cmdline = NULL;

        /* a grep that names PAM, started first */
        add_proc(90, 1, "grep", 5, CMD("grep\0uvicorn petal_app_manager.main:app\0"));
        /* PAM itself */
        add_proc(100, 1, "python3", 20,
                 CMD("/opt/pam/.venv/bin/python3\0/opt/pam/.venv/bin/uvicorn\0"
                     "petal_app_manager.main:app\0--port\0009000\0"));
        /* a fork of PAM, with the same command line, started later */
        add_proc(120, 100, "python3", 30,
                 CMD("/opt/pam/.venv/bin/python3\0/opt/pam/.venv/bin/uvicorn\0"
                     "petal_app_manager.main:app\0--port\0009000\0"));
        assert_int_equal(scan(&cmdline), 100);
        assert_non_null(strstr(cmdline, "uvicorn petal_app_manager.main:app --port 9000"));
        free(cmdline);
}

static void test_hostile_stat_is_skipped(void **state)
{
        char path[256];
        FILE *f;

        /* a process whose stat cannot be parsed is not chosen, though it is the oldest match,
         * and does not stop the scan: PAM, started later, is found */
        add_proc(100, 1, "python3", 20, CMD("/usr/bin/python3\0-m\0uvicorn\0petal_app_manager.main:app\0"));
        add_proc(200, 1, "python3", 1, CMD("uvicorn\0petal_app_manager.main:app\0"));
        snprintf(path, sizeof(path), "%s/200/stat", root);
        f = fopen(path, "w");
        fputs("200 (python3", f);
        fclose(f);
        assert_int_equal(scan(NULL), 100);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_nothing_matches, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interpreter_before_grep_and_parent_before_fork, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_hostile_stat_is_skipped, setup, teardown),
        };
        return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
