/* SPDX-License-Identifier: MIT */
/* Files written for clients: never through a symlink, never over a file; atomic replacement. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"

static char dir[64];
static int dir_fd = -1;

static int setup(void **state)
{
        strcpy(dir, "/tmp/pamprof-fs-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return dir_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        char cmd[128];

        close(dir_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        return system(cmd) == 0 ? 0 : -1;
}

static void test_create_is_exclusive_and_nofollow(void **state)
{
        char victim[128];
        int fd = -1;

        assert_int_equal(create_file_at(dir_fd, "a.csv", (uid_t) -1, (gid_t) -1, &fd), 0);
        assert_int_equal(write_all(fd, "x\n", 2), 0);
        close(fd);
        assert_int_equal(create_file_at(dir_fd, "a.csv", (uid_t) -1, (gid_t) -1, &fd), -EEXIST);

        snprintf(victim, sizeof(victim), "%s/victim", dir);
        assert_int_equal(symlinkat(victim, dir_fd, "link.csv"), 0);
        assert_int_equal(create_file_at(dir_fd, "link.csv", (uid_t) -1, (gid_t) -1, &fd), -EEXIST);
        assert_int_equal(access(victim, F_OK), -1); /* the symlink's target was not created */
        assert_int_equal(symlinkat("/etc/passwd", dir_fd, "link2.csv"), 0);
        assert_int_equal(create_file_at(dir_fd, "link2.csv", (uid_t) -1, (gid_t) -1, &fd), -EEXIST);
}

static void test_atomic_write_replaces_a_symlink_not_its_target(void **state)
{
        char victim[128], *text = NULL;
        struct stat st;
        FILE *f;

        snprintf(victim, sizeof(victim), "%s/precious", dir);
        f = fopen(victim, "w");
        fputs("keep\n", f);
        fclose(f);
        assert_int_equal(symlinkat(victim, dir_fd, "s.json"), 0);
        assert_int_equal(write_file_atomic_at(dir_fd, "s.json", "{}\n", 3, (uid_t) -1, (gid_t) -1), 0);
        assert_int_equal(fstatat(dir_fd, "s.json", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(read_file_at(dir_fd, "s.json", 1024, &text, NULL), 0);
        assert_string_equal(text, "{}\n");
        free(text);
        assert_int_equal(read_file_at(dir_fd, "precious", 1024, &text, NULL), 0);
        assert_string_equal(text, "keep\n");
        free(text);
        /* no temp file left behind */
        assert_int_equal(faccessat(dir_fd, ".s.json.tmp", F_OK, 0), -1);
}

static void test_read_file_limits(void **state)
{
        char *text = NULL;

        assert_int_equal(write_file_atomic_at(dir_fd, "big", "0123456789", 10, (uid_t) -1, (gid_t) -1), 0);
        assert_int_equal(read_file_at(dir_fd, "big", 5, &text, NULL), -EFBIG);
        assert_int_equal(read_file_at(dir_fd, "missing", 5, &text, NULL), -ENOENT);
}

static void test_dir_writable_by(void **state)
{
        gid_t none[1] = { 0 };

        assert_int_equal(fchmod(dir_fd, 0755), 0);
        assert_int_equal(fchown(dir_fd, 1000, 1000), 0);
        assert_true(dir_writable_by(dir_fd, 0, 0, NULL, 0));
        assert_true(dir_writable_by(dir_fd, 1000, 1000, NULL, 0));
        assert_false(dir_writable_by(dir_fd, 1001, 1000, NULL, 0));
        assert_int_equal(fchmod(dir_fd, 0775), 0);
        assert_true(dir_writable_by(dir_fd, 1001, 1000, NULL, 0));
        none[0] = 1000;
        assert_true(dir_writable_by(dir_fd, 1001, 5, none, 1));
        assert_false(dir_writable_by(dir_fd, 1001, 5, NULL, 0));
        assert_int_equal(fchmod(dir_fd, 0777), 0);
        assert_true(dir_writable_by(dir_fd, 1001, 5, NULL, 0));
        assert_int_equal(fchmod(dir_fd, 0555), 0);
        assert_false(dir_writable_by(dir_fd, 1000, 1000, NULL, 0));
        assert_int_equal(fchmod(dir_fd, 0700), 0);
        assert_int_equal(fchown(dir_fd, 0, 0), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_create_is_exclusive_and_nofollow),
                cmocka_unit_test(test_atomic_write_replaces_a_symlink_not_its_target),
                cmocka_unit_test(test_read_file_limits),
                cmocka_unit_test(test_dir_writable_by),
        };
        if (geteuid() != 0) /* fchown to other uids needs root */
                return cmocka_run_group_tests(tests, setup, teardown) ? 1 : 0;
        return cmocka_run_group_tests(tests, setup, teardown);
}
