/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Deleting sessions: one on request (`pamprofctl delete ID`), or the oldest
 * ones when there are more than keep_sessions or they take more than
 * keep_mb, never the running one. A session's files are found from its
 * record and removed only by their recorded names, in the recorded
 * directory opened without following symlinks.
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct Manager Manager;

/*
 * dir_fd: the session's directory as the client opened it (the daemon may be
 * sandboxed away from a user's /tmp or /home), or -1 to open the recorded path.
 * 0; -ENOENT: no such session; -EBUSY: it is running. *ret_removed: files
 * removed; *ret_unreachable: the directory could not be opened, its files stay.
 */
int session_delete(Manager *m, const char *id, int dir_fd, size_t *ret_removed, bool *ret_unreachable,
                   char **ret_error);

/* Applies keep_sessions and keep_mb; logs what it removed. */
void retention_apply(Manager *m);
