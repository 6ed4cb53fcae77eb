/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/PID/task/TID/schedstat: "run_ns wait_ns timeslices" (kernel
 * sched_info: se.sum_exec_runtime, sched_info.run_delay, sched_info.pcount).
 *
 * run_ns is the thread's exact run time, the same counter the stat ticks are
 * derived from. timeslices counts the times the scheduler put the thread on
 * a CPU: once after each wake-up from a sleep, and once more each time it
 * resumes after being preempted while runnable. The sampler uses it as the
 * thread's wake-ups (sampler.c says why it, and not status's
 * voluntary_ctxt_switches).
 */

#include <stddef.h>
#include <stdint.h>

typedef struct ProcSchedstat {
        uint64_t run_ns;     /* time on a CPU */
        uint64_t wait_ns;    /* time runnable, waiting for a CPU */
        uint64_t timeslices; /* times put on a CPU */
} ProcSchedstat;

/* 0; -EBADMSG when a field is missing, -ERANGE when one overflows. */
int proc_schedstat_parse(const char *buf, size_t len, ProcSchedstat *ret);
