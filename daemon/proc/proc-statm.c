/* SPDX-License-Identifier: MIT */
#include "proc-statm.h"

#include <errno.h>

#include "proc-field.h"

int proc_statm_parse(const char *buf, size_t len, uint64_t *ret_rss_pages)
{
        const char *p = buf, *end = buf + len, *tok;
        uint64_t size, rss;
        size_t n;
        int r;

        if (proc_field_next(&p, end, &tok, &n) < 0)
                return -EBADMSG;
        r = proc_field_u64(tok, n, &size);
        if (r < 0)
                return r;
        if (proc_field_next(&p, end, &tok, &n) < 0)
                return -EBADMSG;
        r = proc_field_u64(tok, n, &rss);
        if (r < 0)
                return r;
        /* A text cut after the second field would pass unnoticed: demand the third. */
        if (proc_field_next(&p, end, &tok, &n) < 0)
                return -EBADMSG;

        *ret_rss_pages = rss;
        return 0;
}
