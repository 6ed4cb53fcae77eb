/* SPDX-License-Identifier: MIT */
#pragma once

/* /proc/PID/statm: "size resident shared text lib data dt", in pages. */

#include <stddef.h>
#include <stdint.h>

/* The resident set (second field), in pages. -EBADMSG, -ERANGE. */
int proc_statm_parse(const char *buf, size_t len, uint64_t *ret_rss_pages);
