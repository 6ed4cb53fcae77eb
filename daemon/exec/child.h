/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Running a piece of work that reads large files or loads big libraries in
 * a short-lived child: the daemon's memory stays as it was, and a crash in
 * the work costs its result only. The daemon waits for it (the plot of a
 * day of rows, or the report of a 100 MB profile, take well under a second).
 */

#include <stddef.h>
#include <sys/types.h>

/* fn runs in the child; its return value, *out (out_size bytes) and *err come back. */
typedef int (*ChildWork)(void *arg, void *out, char **err);

int child_run(ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error);
/*
 * The same for work that needs only the descriptors it was given (render,
 * report): the child drops every capability and, as root, becomes uid:gid
 * (nobody when uid is root) before fn runs. Failing to drop fails the work.
 */
int child_run_unprivileged(uid_t uid, gid_t gid, ChildWork fn, void *arg, void *out, size_t out_size,
                           char **ret_error);
/*
 * The same, with prepare run first, before the privileges are dropped: for what must be loaded
 * with the daemon's rights (a module of the package) and has nothing to do with the input.
 */
int child_run_unprivileged_after(uid_t uid, gid_t gid, ChildWork prepare, ChildWork fn, void *arg, void *out,
                                 size_t out_size, char **ret_error);
/* The same, killed after timeout_ms instead of the two minutes a render or report may take. */
int child_run_for(int timeout_ms, ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error);
