/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Deleting sessions: one on request (`pamprofctl delete ID`), or the oldest
 * ones when there are more than keep_sessions or they take more than
 * keep_mb, never the running one. A session's files are found from its
 * record and removed only by their recorded names, in the recorded
 * directory opened without following symlinks.
 */

#include <stddef.h>

typedef struct Manager Manager;

/* 0; -ENOENT: no such session; -EBUSY: it is running. *ret_removed: files removed. */
int session_delete(Manager *m, const char *id, size_t *ret_removed, char **ret_error);

/* Applies keep_sessions and keep_mb; logs what it removed. */
void retention_apply(Manager *m);
