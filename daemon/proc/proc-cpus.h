/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/stat: the number of "cpuN" lines, that is the CPUs online, the same
 * figure as sysconf(_SC_NPROCESSORS_ONLN) and psutil.cpu_count(). The
 * aggregate "cpu " line is not counted.
 */

#include <stddef.h>

/* -EBADMSG when there is no cpuN line. */
int proc_cpus_parse(const char *buf, size_t len, unsigned *ret_ncpus);
