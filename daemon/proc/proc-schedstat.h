/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/PID/task/TID/schedstat: "run_ns wait_ns timeslices". The first field
 * is the thread's se.sum_exec_runtime, in nanoseconds, the same counter the
 * stat ticks are derived from.
 */

#include <stddef.h>
#include <stdint.h>

int proc_schedstat_parse(const char *buf, size_t len, uint64_t *ret_runtime_ns);
