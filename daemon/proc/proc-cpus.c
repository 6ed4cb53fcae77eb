/* SPDX-License-Identifier: MIT */
#include "proc-cpus.h"

#include <errno.h>
#include <string.h>

int proc_cpus_parse(const char *buf, size_t len, unsigned *ret_ncpus)
{
        const char *p = buf, *end = buf + len;
        unsigned n = 0;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));

                if (!eol)
                        eol = end;
                if (eol - p > 3 && memcmp(p, "cpu", 3) == 0 && p[3] >= '0' && p[3] <= '9')
                        n++;
                p = eol + 1;
        }
        if (n == 0)
                return -EBADMSG;
        *ret_ncpus = n;
        return 0;
}
