/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Files the daemon writes for a client: created inside a directory fd with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so they never follow a planted symlink and
 * never overwrite, then given to the client's uid.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Creates name in dir_fd for writing; -EEXIST if anything is there already. uid (uid_t)-1: keep root. */
int create_file_at(int dir_fd, const char *name, uid_t uid, gid_t gid, int *ret_fd);

/* Writes all of buf, retrying short writes and EINTR. 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);

/*
 * Replaces name in dir_fd with data, atomically: a fresh temp file created
 * O_EXCL|O_NOFOLLOW, written, fsynced, owned by uid, renamed over name
 * (rename never follows a symlink at name).
 */
int write_file_atomic_at(int dir_fd, const char *name, const char *data, size_t len, uid_t uid, gid_t gid);

/* Reads a whole (small) file below dir_fd, NUL-terminated, O_NOFOLLOW. */
int read_file_at(int dir_fd, const char *name, size_t max, char **ret, size_t *ret_len);

/* mkdir -p, mode for the components it creates. */
int mkdir_parents(const char *path, mode_t mode);

/* Free space for unprivileged users on the filesystem of fd, in MiB. */
int disk_free_mb(int fd, uint64_t *ret);

/* Opens an absolute directory path component by component, refusing symlinks and "..". fd or -errno. */
int open_dir_nofollow(const char *path);

/* May a process with these credentials write into the directory behind fd? From its access ACL, as the
 * kernel reads it, or its mode bits when it has none. */
bool dir_writable_by(int dir_fd, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups);
