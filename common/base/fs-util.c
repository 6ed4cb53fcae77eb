/* SPDX-License-Identifier: MIT */
#include "fs-util.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cleanup.h"

int create_file_at(int dir_fd, const char *name, uid_t uid, gid_t gid, int *ret_fd)
{
        _cleanup_close_ int fd = -1;

        fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (uid != (uid_t) -1 && fchown(fd, uid, gid) < 0) {
                int r = -errno;
                unlinkat(dir_fd, name, 0);
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = write(fd, p, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

int write_file_atomic_at(int dir_fd, const char *name, const char *data, size_t len, uid_t uid, gid_t gid)
{
        char tmp[512];
        _cleanup_close_ int fd = -1;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                if (snprintf(tmp, sizeof(tmp), ".%s.%ld.%u.tmp", name, (long) getpid(), attempt) >=
                    (int) sizeof(tmp))
                        return -ENAMETOOLONG;
                r = create_file_at(dir_fd, tmp, uid, gid, &fd);
                if (r != -EEXIST || attempt > 16)
                        break;
        }
        if (r < 0)
                return r;
        r = write_all(fd, data, len);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0)
                unlinkat(dir_fd, tmp, 0);
        return r;
}

int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;

        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        buf = malloc(max + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, buf + len, max - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len == max)
                        return -EFBIG;
        }
        buf[len] = '\0';
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int mkdir_parents(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != '\0')
                        continue;
                char c = *s;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = c;
                if (c == '\0')
                        break;
        }
        return 0;
}

static bool has_group(gid_t want, gid_t gid, const gid_t *groups, size_t n_groups)
{
        if (want == gid)
                return true;
        for (size_t i = 0; i < n_groups; i++)
                if (groups[i] == want)
                        return true;
        return false;
}

#define ACL_ENTRIES_MAX 256

/*
 * The kernel's check of a POSIX access ACL (posix_acl_permission() in
 * fs/posix_acl.c), on the xattr it stores (entries sorted by tag): the
 * owner's entry; a named user's, within the mask; any matching group entry
 * that grants, within the mask (a matching group that does not grant denies);
 * the others'. 1 granted, 0 denied, -errno when there is no ACL to read.
 */
static int acl_grants(int fd, const struct stat *st, uid_t uid, gid_t gid, const gid_t *groups,
                      size_t n_groups, unsigned want)
{
        struct {
                struct posix_acl_xattr_header h;
                struct posix_acl_xattr_entry e[ACL_ENTRIES_MAX];
        } acl;
        ssize_t size = fgetxattr(fd, "system.posix_acl_access", &acl, sizeof(acl));
        size_t n;
        bool found = false;

        if (size < 0)
                return errno == ERANGE ? 0 : -errno; /* more entries than anyone writes: deny */
        if ((size_t) size < sizeof(acl.h) || ((size_t) size - sizeof(acl.h)) % sizeof(acl.e[0]) != 0 ||
            le32toh(acl.h.a_version) != POSIX_ACL_XATTR_VERSION)
                return 0;
        n = ((size_t) size - sizeof(acl.h)) / sizeof(acl.e[0]);
        for (size_t i = 0; i < n; i++) {
                unsigned tag = le16toh(acl.e[i].e_tag), perm = le16toh(acl.e[i].e_perm);
                uint32_t id = le32toh(acl.e[i].e_id);

                switch (tag) {
                case ACL_USER_OBJ:
                        if (st->st_uid == uid)
                                return (perm & want) == want;
                        break;
                case ACL_USER:
                case ACL_GROUP_OBJ:
                case ACL_GROUP:
                        if (tag == ACL_USER
                                    ? id != uid
                                    : !has_group(tag == ACL_GROUP ? id : st->st_gid, gid, groups, n_groups))
                                break;
                        if (tag != ACL_USER) {
                                found = true;
                                if ((perm & want) != want)
                                        break;
                        }
                        for (size_t m = i + 1; m < n; m++)
                                if (le16toh(acl.e[m].e_tag) == ACL_MASK)
                                        return (perm & le16toh(acl.e[m].e_perm) & want) == want;
                        return (perm & want) == want;
                case ACL_OTHER:
                        return !found && (perm & want) == want;
                }
        }
        return 0;
}

bool dir_writable_by(int dir_fd, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups)
{
        struct stat st;
        int r;

        if (fstat(dir_fd, &st) < 0 || !S_ISDIR(st.st_mode))
                return false;
        if (uid == 0)
                return true;
        /* With an ACL the group bits are its mask, which may grant what the owning group's entry does not. */
        r = acl_grants(dir_fd, &st, uid, gid, groups, n_groups, ACL_WRITE | ACL_EXECUTE);
        if (r >= 0)
                return r > 0;
        if (st.st_uid == uid)
                return (st.st_mode & S_IWUSR) && (st.st_mode & S_IXUSR);
        if (has_group(st.st_gid, gid, groups, n_groups))
                return (st.st_mode & S_IWGRP) && (st.st_mode & S_IXGRP);
        return (st.st_mode & S_IWOTH) && (st.st_mode & S_IXOTH);
}

/* Opens an absolute directory path one component at a time, refusing any symlink on the way. */
int open_dir_nofollow(const char *path)
{
        _cleanup_free_ char *copy = strdup(path);
        char *save = NULL, *part;
        int fd;

        if (!copy)
                return -ENOMEM;
        if (path[0] != '/')
                return -EINVAL;
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
                int next;

                if (strcmp(part, "..") == 0) {
                        close(fd);
                        return -EINVAL;
                }
                next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                close(fd);
                if (next < 0)
                        return -errno;
                fd = next;
        }
        return fd;
}

int disk_free_mb(int fd, uint64_t *ret)
{
        struct statvfs sv;

        if (fstatvfs(fd, &sv) < 0)
                return -errno;
        *ret = (uint64_t) sv.f_bavail * sv.f_frsize / (1024 * 1024);
        return 0;
}
