/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/PID/cmdline: the arguments, each ending in a NUL. Joined by single
 * spaces into one string, trailing NULs dropped, for matching a regular
 * expression and for showing to a person. A process that rewrote its argv
 * (setproctitle) has one NUL-less string, kept as is; a kernel thread or a
 * zombie has none, giving "".
 */

#include <stddef.h>

/* A malloc'd string in *ret; -ENOMEM. */
int proc_cmdline_parse(const char *buf, size_t len, char **ret);
