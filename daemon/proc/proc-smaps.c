/* SPDX-License-Identifier: MIT */
#include "proc-smaps.h"

#include "proc-field.h"

int proc_smaps_rollup_parse(const char *buf, size_t len, uint64_t *ret_pss_kb)
{
        return proc_field_kb_line(buf, len, "Pss", ret_pss_kb);
}
