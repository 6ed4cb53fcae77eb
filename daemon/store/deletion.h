/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Deleting recorded sessions without the loop waiting for the kernel to free their files (some
 * 200 ms for a 300 MB profile here, more on a Pi's SD card): the files go in a child
 * (child_remove_sets_start), then, back in the loop, the records. A daemon that dies in between
 * leaves records whose files are gone or going; the next delete or retention finishes them.
 * `pamprofctl delete` and retention use it.
 */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#define DELETION_MAX 32 /* sessions in one deletion (one child) */

typedef struct Deletion Deletion;

typedef struct DeletionOutcome {
        char id[128];
        int r;            /* 0: its record is gone; -ENOENT: there was none; -errno */
        size_t removed;   /* its files removed */
        bool unreachable; /* its directory could not be opened: its files stay */
} DeletionOutcome;

/* Called once, from the loop, when every session is done; the Deletion is freed after it returns. */
typedef void (*DeletionDoneFunc)(const DeletionOutcome *out, size_t n, void *userdata);

/*
 * Deletes sessions ids[0..n): their recorded files, then their records. dir_fds[i] (or NULL, or
 * -1 in it): the session's directory as a client opened it, taken; otherwise the recorded path
 * is opened. 0 with *ret when it runs; -E2BIG (more than DELETION_MAX), -ENOMEM, or the child's
 * error, with nothing done and no done().
 */
int deletion_start(sd_event *e, int records_fd, const char *const *ids, const int *dir_fds, size_t n,
                   DeletionDoneFunc done, void *userdata, Deletion **ret);

/* Cancels: the child is killed (what it removed is gone), no record is touched, no done(). */
Deletion *deletion_free(Deletion *d);
