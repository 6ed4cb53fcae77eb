/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reading /proc files: bytes only, no parsing (earlyoom's read/parse split).
 *
 * Every path is relative to a directory descriptor: the proc root the daemon
 * was given (open("/proc") in production, a fixture tree in tests), or a
 * descriptor of one of its subdirectories. A process or thread that is gone
 * (ENOENT, ESRCH) is reported as -ESRCH, the normal "gone" case, so callers
 * need one test for it.
 */

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads relpath under dir_fd into buf and NUL-terminates it (so at most
 * size - 1 bytes of data). 0 and the data length in *ret_len;
 * -ESRCH when the process or thread is gone; -EFBIG when the file does not
 * fit; another -errno from openat/read.
 */
int proc_read_file(int dir_fd, const char *relpath, char *buf, size_t size, size_t *ret_len);

/*
 * The same for a descriptor kept open between samples: reads from offset 0
 * (seq_file regenerates the text for a read at offset 0), so one pread(2)
 * replaces openat + read + close.
 */
int proc_read_fd(int fd, char *buf, size_t size, size_t *ret_len);

/*
 * Reads a file of unknown size (/proc/stat on a machine with many CPUs,
 * a long command line) into a malloc'd, NUL-terminated buffer of at most
 * max bytes of data. -EFBIG beyond max, -ENOMEM, or as proc_read_file().
 */
int proc_read_file_alloc(int dir_fd, const char *relpath, size_t max, char **ret, size_t *ret_len);

/* openat() with O_RDONLY|O_CLOEXEC|O_NOFOLLOW and the mapping of "gone" to
 * -ESRCH; flags are added (O_DIRECTORY, say). The descriptor, or -errno. */
int proc_open(int dir_fd, const char *relpath, int flags);

/*
 * Calls fn for each numeric entry (a pid, a tid) of the directory dir_fd,
 * from its start (the descriptor is rewound, so one kept open lists afresh
 * each time). buf (aligned for struct dirent64, 8 bytes) is the getdents64
 * buffer, so no allocation happens. Stops at fn's first error and returns it;
 * -ESRCH when the directory's process is gone.
 */
typedef int (*proc_id_fn)(pid_t id, void *userdata);
int proc_list_ids(int dir_fd, void *buf, size_t size, proc_id_fn fn, void *userdata);
