/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/uptime: "SECONDS IDLE\n", the seconds since boot with two decimals, as
 * CLOCK_BOOTTIME counts them; a process's age is this minus its stat starttime.
 */

#include <stddef.h>

/* -EBADMSG on anything but a non-negative decimal followed by a space or the end. */
int proc_uptime_parse(const char *buf, size_t len, double *ret_seconds);
