/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Starting a helper child (py-spy) the way it must be started from a daemon
 * whose event loop blocks signals: a clean signal mask and default
 * dispositions (else SIGINT, py-spy's only clean stop, would never arrive),
 * its own session, stdin from /dev/null, stdout and stderr into one pipe for
 * the log, no inherited descriptors, SIGINT when the daemon dies (so py-spy
 * still writes its file), and, when run as root, a bounding set holding only
 * the capabilities it is given.
 */

#include <stdint.h>
#include <sys/types.h>

typedef struct SpawnOptions {
        char *const *argv;  /* argv[0] is the path to execute */
        int output_fd;      /* stdout and stderr; -1: /dev/null */
        int death_signal;   /* sent to the child if the daemon dies; 0: none */
        uint64_t keep_caps; /* capability mask kept in the bounding set (root only) */
} SpawnOptions;

int spawn_child(const SpawnOptions *o, pid_t *ret_pid);
