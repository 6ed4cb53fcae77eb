/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Learning that a process (not our child) has exited: a pidfd in the event
 * loop, which wakes us the moment it exits and costs nothing before. Where
 * pidfd_open(2) is missing (kernels before 5.3, valgrind) a slow timer checks
 * that the pid still exists with the same start time instead.
 */

#include <stdbool.h>
#include <stdint.h>
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

/*
 * Asking, at one instant, whether a process (not our child) still runs: its
 * pidfd, taken when it was known to run, is readable once it has exited
 * (pid reuse cannot fool it); without pidfd_open, its start time in /proc
 * must still match and it must not be a zombie. For a sampler that ends by
 * itself: did its target end, or did the sampler stop early?
 */
typedef struct PidProbe {
        pid_t pid;
        int pidfd; /* -1: none, the start time decides */
        uint64_t starttime;
        int proc_fd;
} PidProbe;

/* 0, or -ESRCH when pid is not running now. Never blocks. */
int pid_probe_open(int proc_fd, pid_t pid, PidProbe *ret);
bool pid_probe_alive(const PidProbe *p);
void pid_probe_close(PidProbe *p);
