/* SPDX-License-Identifier: MIT */
#include "proc-schedstat.h"

#include <errno.h>

#include "proc-field.h"

int proc_schedstat_parse(const char *buf, size_t len, ProcSchedstat *ret)
{
        const char *p = buf, *end = buf + len, *tok;
        uint64_t v[3];
        size_t n;
        int r;

        /* All three, each whole: a text cut inside a number would read as a
         * smaller one, so the last must be followed by its newline. */
        for (int i = 0; i < 3; i++) {
                if (proc_field_next(&p, end, &tok, &n) < 0)
                        return -EBADMSG;
                r = proc_field_u64(tok, n, &v[i]);
                if (r < 0)
                        return r;
        }
        if (p >= end || *p != '\n')
                return -EBADMSG;
        *ret = (ProcSchedstat){ .run_ns = v[0], .wait_ns = v[1], .timeslices = v[2] };
        return 0;
}
