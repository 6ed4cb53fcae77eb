/* SPDX-License-Identifier: MIT */
#include "proc-schedstat.h"

#include <errno.h>

#include "proc-field.h"

int proc_schedstat_parse(const char *buf, size_t len, uint64_t *ret_runtime_ns)
{
        const char *p = buf, *end = buf + len, *tok;
        uint64_t run, other;
        size_t n;
        int r;

        if (proc_field_next(&p, end, &tok, &n) < 0)
                return -EBADMSG;
        r = proc_field_u64(tok, n, &run);
        if (r < 0)
                return r;
        /* The run time is the only figure used, but a text cut inside it
         * would read as a smaller number: require the two that follow. */
        for (int i = 0; i < 2; i++) {
                if (proc_field_next(&p, end, &tok, &n) < 0)
                        return -EBADMSG;
                r = proc_field_u64(tok, n, &other);
                if (r < 0)
                        return r;
        }
        *ret_runtime_ns = run;
        return 0;
}
