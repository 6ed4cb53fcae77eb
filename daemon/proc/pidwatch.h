/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Learning that a process (not our child) has exited: a pidfd in the event
 * loop, which wakes us the moment it exits and costs nothing before. Where
 * pidfd_open(2) is missing (kernels before 5.3, valgrind) a slow timer checks
 * that the pid still exists with the same start time instead.
 */

#include <sys/types.h>
#include <systemd/sd-event.h>

#include "time-util.h"

typedef struct PidWatch PidWatch;
typedef void (*PidWatchExited)(void *userdata, pid_t pid);

int pidwatch_new(sd_event *e, int proc_fd, pid_t pid, usec_t fallback_interval, PidWatchExited cb,
                 void *userdata, PidWatch **ret);
PidWatch *pidwatch_free(PidWatch *w);

/* pidfd_open(2); -ENOSYS where the kernel (or valgrind) lacks it. */
int pidfd_open_pid(pid_t pid);
