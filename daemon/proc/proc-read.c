/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getdents64() */
#endif
#include "proc-read.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "proc-field.h"

/* ENOENT: the pid directory is gone; ESRCH: the task went away while the
 * file was open (procfs answers reads of a dead task with it). */
static int gone_to_esrch(int r)
{
        return r == -ENOENT || r == -ESRCH ? -ESRCH : r;
}

int proc_open(int dir_fd, const char *relpath, int flags)
{
        int fd;

        fd = openat(dir_fd, relpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | flags);
        if (fd < 0)
                return gone_to_esrch(negative_errno());
        return fd;
}

/*
 * Reads until EOF or until buf is full. A short read is taken as EOF: procfs
 * seq_files and cmdline fill the whole user buffer unless the text ends, and
 * regular files (fixtures) do the same, so the common case costs one read(2)
 * instead of a second one that returns 0.
 */
static int read_all(int fd, bool positioned, char *buf, size_t size, size_t *ret_len)
{
        size_t len = 0;
        char probe;
        ssize_t n;

        if (size == 0)
                return -EINVAL;
        for (;;) {
                if (positioned)
                        n = pread(fd, buf + len, size - 1 - len, (off_t) len);
                else
                        n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return gone_to_esrch(negative_errno());
                }
                len += (size_t) n;
                if (n == 0 || len < size - 1)
                        break;
                /* Full: is there more? */
                n = positioned ? pread(fd, &probe, 1, (off_t) len) : read(fd, &probe, 1);
                if (n < 0)
                        return gone_to_esrch(negative_errno());
                if (n > 0)
                        return -EFBIG;
                break;
        }
        buf[len] = '\0';
        *ret_len = len;
        return 0;
}

int proc_read_file(int dir_fd, const char *relpath, char *buf, size_t size, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;

        fd = proc_open(dir_fd, relpath, 0);
        if (fd < 0)
                return fd;
        return read_all(fd, false, buf, size, ret_len);
}

int proc_read_fd(int fd, char *buf, size_t size, size_t *ret_len)
{
        return read_all(fd, true, buf, size, ret_len);
}

int proc_read_file_alloc(int dir_fd, const char *relpath, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 4096, len;
        int r;

        fd = proc_open(dir_fd, relpath, 0);
        if (fd < 0)
                return fd;
        for (;;) {
                char *p;

                if (size > max + 1)
                        size = max + 1;
                p = realloc(buf, size);
                if (!p)
                        return -ENOMEM;
                buf = p;
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return negative_errno();
                r = read_all(fd, false, buf, size, &len);
                if (r != -EFBIG)
                        break;
                if (size > max)
                        return -EFBIG;
                size *= 4;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int proc_list_ids(int dir_fd, void *buf, size_t size, proc_id_fn fn, void *userdata)
{
        if (lseek(dir_fd, 0, SEEK_SET) < 0)
                return negative_errno();
        for (;;) {
                ssize_t n = getdents64(dir_fd, buf, size);

                if (n < 0)
                        return gone_to_esrch(negative_errno());
                if (n == 0)
                        return 0;
                for (ssize_t off = 0; off < n;) {
                        const struct dirent64 *d = (const void *) ((const char *) buf + off);
                        uint64_t id;
                        int r;

                        off += d->d_reclen;
                        if (proc_field_u64(d->d_name, strlen(d->d_name), &id) < 0 || id == 0 ||
                            id > INT32_MAX)
                                continue; /* ".", "..", "self", "sys", ... */
                        r = fn((pid_t) id, userdata);
                        if (r < 0)
                                return r;
                }
        }
}
