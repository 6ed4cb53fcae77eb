/* SPDX-License-Identifier: MIT */
#pragma once

/* /proc/meminfo. */

#include <stddef.h>
#include <stdint.h>

/* MemTotal in kB. -ENOENT without a MemTotal line, -EBADMSG, -ERANGE. */
int proc_meminfo_parse(const char *buf, size_t len, uint64_t *ret_total_kb);
