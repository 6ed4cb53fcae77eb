/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Running a piece of work that reads large files, parses what PAM controls
 * or loads big libraries in a short-lived child: the daemon's memory stays
 * as it was, a crash in the work costs its result only, and the event loop
 * goes on meanwhile. One protocol for every such child (the merge, the
 * conversion, the plot, the report, the group lookup):
 *
 *   fork; in the child: prepare (with the daemon's rights), close every
 *   descriptor but the ones given, drop privileges, work, write
 *   { return value, out bytes } then an error sentence into a pipe, _exit.
 *   In the daemon: the pipe is read and the exit collected by the event
 *   loop (an io and a child source), a timer SIGKILLs a child over its time
 *   limit, and done() gets the result from the loop. Nothing waits.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "time-util.h"

/* fn runs in the child; its return value, *out (out_size bytes) and *err come back. */
typedef int (*ChildWork)(void *arg, void *out, char **err);

typedef struct Child Child;

/* What a render or report may take before it is killed; the merge of max_profile_mb asks for more. */
#define CHILD_TIMEOUT_DEFAULT (120 * USEC_PER_SEC)

typedef struct ChildSpec {
        ChildWork work;
        /* Run first, before the privileges are dropped (a module of the package to load), or NULL. */
        ChildWork prepare;
        /*
         * Read by prepare and work in the child, from its copy of the memory at fork: the
         * caller may free it once child_start() returns.
         */
        void *arg;
        size_t out_size;
        /*
         * The child drops every capability, sets no_new_privs and, when the daemon is root,
         * becomes uid:gid (nobody when that is root, or (uid_t) -1: the daemon's own).
         */
        bool unprivileged;
        uid_t uid;
        gid_t gid;
        /* The only descriptors the child keeps, besides 0-2 and its pipe (after prepare). */
        const int *fds;
        size_t n_fds;
        usec_t timeout; /* 0: CHILD_TIMEOUT_DEFAULT */
} ChildSpec;

typedef struct ChildResult {
        int r;             /* work's return value; -ETIMEDOUT or -ECHILD when it gave none */
        const void *out;   /* out_size bytes (zeros when the child died); valid during done() */
        const char *error; /* its sentence, or why it gave no result; NULL when none */
        bool timed_out;    /* killed at its time limit */
} ChildResult;

/* From the event loop, once the child has exited and its pipe is read. c may be freed in here. */
typedef void (*ChildDoneFunc)(Child *c, const ChildResult *res, void *userdata);

/*
 * Forks the child and returns at once; done(c, result, userdata) follows from the loop
 * (never from inside child_start()). SIGCHLD must be blocked (as the daemon does from
 * main()). *ret is the caller's: child_free() it in done() or to cancel.
 */
int child_start(sd_event *e, const ChildSpec *spec, ChildDoneFunc done, void *userdata, Child **ret);

/* Cancels a child that still runs (SIGKILL, reaped at once, done() not called); NULL. */
Child *child_free(Child *c);

pid_t child_pid(const Child *c);

/*
 * Removes names in dir_fd in a child: the kernel frees a removed file's blocks in the call that
 * drops its last name, some 40 ms for a 50 MB run here, 200 ms for a 300 MB profile, and the loop
 * does not wait for that (nor for the journal's commit of it: the child fsyncs dir_fd). The child
 * keeps the daemon's identity (the names are the daemon's own) and dir_fd only; res->r is how many
 * it removed.
 */
int child_remove_start(sd_event *e, int dir_fd, const char *const *names, size_t n, ChildDoneFunc done,
                       void *userdata, Child **ret);

/* The same over several directories (a set of names in each), in one child; res->out is a
 * RemoveCounts: how many it removed in each set. */
#define REMOVE_SETS_MAX 32
typedef struct RemoveSet {
        int dir_fd;
        const char *const *names;
        size_t n;
} RemoveSet;
typedef struct RemoveCounts {
        unsigned removed[REMOVE_SETS_MAX];
} RemoveCounts;
int child_remove_sets_start(sd_event *e, const RemoveSet *sets, size_t n, ChildDoneFunc done, void *userdata,
                            Child **ret);

/*
 * The same, waiting: only where no event loop runs yet (the group lookup at start-up),
 * for a bounded lookup that is killed after timeout_ms.
 */
int child_run_for(int timeout_ms, ChildWork fn, void *arg, void *out, size_t out_size, char **ret_error);
