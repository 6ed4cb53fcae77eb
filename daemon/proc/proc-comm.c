/* SPDX-License-Identifier: MIT */
#include "proc-comm.h"

#include <errno.h>
#include <string.h>

int proc_comm_parse(const char *buf, size_t len, char *ret, size_t size)
{
        const char *nul;

        if (size == 0)
                return -EINVAL;
        nul = memchr(buf, '\0', len);
        if (nul)
                len = (size_t) (nul - buf);
        if (len == 0)
                return -EBADMSG;
        if (buf[len - 1] == '\n')
                len--;
        if (len > size - 1)
                len = size - 1;
        memcpy(ret, buf, len);
        ret[len] = '\0';
        return 0;
}
