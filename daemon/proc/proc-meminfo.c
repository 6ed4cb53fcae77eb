/* SPDX-License-Identifier: MIT */
#include "proc-meminfo.h"

#include <errno.h>

#include "proc-field.h"

int proc_meminfo_parse(const char *buf, size_t len, uint64_t *ret_total_kb)
{
        uint64_t kb;
        int r;

        r = proc_field_kb_line(buf, len, "MemTotal", &kb);
        if (r < 0)
                return r;
        if (kb == 0)
                return -EBADMSG; /* we divide by it */
        *ret_total_kb = kb;
        return 0;
}
