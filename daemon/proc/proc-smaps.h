/* SPDX-License-Identifier: MIT */
#pragma once

/* /proc/PID/smaps_rollup (Linux >= 4.14): one summed mapping. */

#include <stddef.h>
#include <stdint.h>

/* Pss in kB (not Pss_Anon/Pss_File/...). -ENOENT without a Pss line
 * (a process without memory map, a kernel thread), -EBADMSG, -ERANGE. */
int proc_smaps_rollup_parse(const char *buf, size_t len, uint64_t *ret_pss_kb);
