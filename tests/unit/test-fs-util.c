/* SPDX-License-Identifier: MIT */
/* Files written for clients: never through a symlink, never over a file; atomic replacement. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "test-skip.h"

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

        if (geteuid() != 0)
                skip_because("giving the directory to other uids (fchown) needs root");

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

/* An access ACL as the kernel stores it: {tag, perm, id} entries, sorted by tag. */
static int set_acl(int fd, const unsigned (*e)[3], size_t n)
{
        struct {
                struct posix_acl_xattr_header h;
                struct posix_acl_xattr_entry e[16];
        } acl = { .h.a_version = htole32(POSIX_ACL_XATTR_VERSION) };

        for (size_t i = 0; i < n; i++)
                acl.e[i] = (struct posix_acl_xattr_entry){ htole16(e[i][0]), htole16(e[i][1]),
                                                           htole32(e[i][2]) };
        return fsetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl.h) + n * sizeof(acl.e[0]), 0);
}

#define RWX (ACL_READ | ACL_WRITE | ACL_EXECUTE)
#define R_X (ACL_READ | ACL_EXECUTE)

static void test_dir_writable_by_acl(void **state)
{
        /* owner 1000 rwx; user 2000 rwx; owning group 1000 r-x; group 3000 rwx; mask rwx; others r-x */
        static const unsigned acl[][3] = { { ACL_USER_OBJ, RWX, 0 },  { ACL_USER, RWX, 2000 },
                                           { ACL_GROUP_OBJ, R_X, 0 }, { ACL_GROUP, RWX, 3000 },
                                           { ACL_MASK, RWX, 0 },      { ACL_OTHER, R_X, 0 } };
        static const unsigned masked[][3] = { { ACL_USER_OBJ, RWX, 0 },  { ACL_USER, RWX, 2000 },
                                              { ACL_GROUP_OBJ, R_X, 0 }, { ACL_GROUP, RWX, 3000 },
                                              { ACL_MASK, R_X, 0 },      { ACL_OTHER, RWX, 0 } };
        gid_t g3000[1] = { 3000 }, g1000[1] = { 1000 };

        if (geteuid() != 0)
                skip_because("giving the directory to other uids (fchown) needs root");

        assert_int_equal(fchown(dir_fd, 1000, 1000), 0);
        assert_int_equal(fchmod(dir_fd, 0755), 0);
        if (set_acl(dir_fd, acl, 6) < 0) {
                assert_true(errno == EOPNOTSUPP);
                skip_because("this filesystem has no POSIX ACLs");
        }
        /* The group bits are now the mask (rwx): the mode alone would let the owning group in. */
        struct stat st;
        assert_int_equal(fstat(dir_fd, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0775);
        assert_false(dir_writable_by(dir_fd, 1001, 1000, NULL, 0)); /* owning group: r-x */
        assert_false(dir_writable_by(dir_fd, 1001, 5, g1000, 1));   /* ...as a supplementary group too */
        assert_true(dir_writable_by(dir_fd, 2000, 2000, NULL, 0));  /* named user */
        assert_true(dir_writable_by(dir_fd, 1001, 5, g3000, 1));    /* named group */
        /* A user in a group that matches but does not grant is denied, whatever the others' entry says. */
        assert_false(dir_writable_by(dir_fd, 4000, 1000, NULL, 0));
        assert_false(dir_writable_by(dir_fd, 4000, 4000, NULL, 0)); /* others: r-x */
        assert_true(dir_writable_by(dir_fd, 1000, 1000, NULL, 0));  /* owner */
        /* The mask limits named entries and groups, not the owner or the others. */
        assert_int_equal(set_acl(dir_fd, masked, 6), 0);
        assert_false(dir_writable_by(dir_fd, 2000, 2000, NULL, 0));
        assert_false(dir_writable_by(dir_fd, 1001, 5, g3000, 1));
        assert_true(dir_writable_by(dir_fd, 1000, 1000, NULL, 0));
        assert_true(dir_writable_by(dir_fd, 4000, 4000, NULL, 0));  /* others: rwx, outside the mask */
        assert_false(dir_writable_by(dir_fd, 4000, 1000, NULL, 0)); /* but a group that matches denies */
        /* Every case above agrees with the kernel's own answer (checked with setpriv and test -w). */
        assert_int_equal(fremovexattr(dir_fd, "system.posix_acl_access"), 0);
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
                cmocka_unit_test(test_dir_writable_by_acl),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
