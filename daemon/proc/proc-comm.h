/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * /proc/PID/comm and /proc/PID/task/TID/comm: the name (at most 15 bytes for
 * a user task) and a newline. The name itself may hold any byte but NUL,
 * commas and newlines included; the CSV writer quotes it.
 */

#include <stddef.h>

/* Copies the name without its final newline into ret (size >= 1), cut to
 * size - 1 bytes. -EBADMSG for an empty file. */
int proc_comm_parse(const char *buf, size_t len, char *ret, size_t size);
