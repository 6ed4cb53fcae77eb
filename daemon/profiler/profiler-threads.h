/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Thread names for a profiler run whose output has thread ids only
 * (Austin): the target's /proc/PID/task/TID/comm, read when the run starts
 * and every second while it goes on, appended to a file in staging when a
 * thread is new or renamed ("pid tid name" lines, austin-names.h). The
 * file outlives the threads, the target and a daemon crash; the converter
 * names the profiles from it.
 */

#include <sys/types.h>

typedef struct ThreadRecorder ThreadRecorder;

/* Creates (truncates) name in dir_fd. */
int thread_recorder_new(int dir_fd, const char *name, int proc_fd, ThreadRecorder **ret);
/* Notes pid's threads; a pid that is gone is not an error. */
void thread_recorder_scan(ThreadRecorder *t, pid_t pid);
ThreadRecorder *thread_recorder_free(ThreadRecorder *t);
