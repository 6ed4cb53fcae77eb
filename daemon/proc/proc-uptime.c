/* SPDX-License-Identifier: MIT */
#include "proc-uptime.h"

#include <errno.h>
#include <stdint.h>

#include "proc-field.h"

int proc_uptime_parse(const char *buf, size_t len, double *ret_seconds)
{
        const char *p = buf, *end = buf + len, *dot = NULL;
        uint64_t whole, frac = 0, scale = 1;
        size_t n = 0;

        while (p + n < end && p[n] >= '0' && p[n] <= '9')
                n++;
        if (n == 0 || proc_field_u64(p, n, &whole) < 0)
                return -EBADMSG;
        p += n;
        if (p < end && *p == '.') {
                dot = ++p;
                while (p < end && *p >= '0' && *p <= '9' && scale < UINT64_C(1000000000)) {
                        frac = frac * 10 + (uint64_t) (*p++ - '0');
                        scale *= 10;
                }
                if (p == dot)
                        return -EBADMSG;
        }
        if (p < end && *p != ' ' && *p != '\n')
                return -EBADMSG;
        *ret_seconds = (double) whole + (double) frac / (double) scale;
        return 0;
}
