/* SPDX-License-Identifier: MIT */
#include "proc-cmdline.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int proc_cmdline_parse(const char *buf, size_t len, char **ret)
{
        char *s;

        while (len > 0 && buf[len - 1] == '\0')
                len--;
        s = malloc(len + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                s[i] = buf[i] == '\0' ? ' ' : buf[i];
        s[len] = '\0';
        *ret = s;
        return 0;
}
