/* SPDX-License-Identifier: MIT */
#include "spool.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
        size_t n = *cap ? *cap : 16;
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        q = realloc(*p, n * size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}

void spool_array_done(SpoolArray *a)
{
        free(a->buf);
        free(a->blocks);
        a->buf = NULL;
        a->blocks = NULL;
        a->len = a->cap = a->n_blocks = a->cap_blocks = 0;
}

char *spool_room(SpoolArray *a, size_t need)
{
        if (grow((void **) &a->buf, &a->cap, a->len + need, 1) < 0)
                return NULL;
        return a->buf + a->len;
}

int spool_spill(Spool *sp, SpoolArray *a)
{
        if (grow((void **) &a->blocks, &a->cap_blocks, a->n_blocks + 1, sizeof(SpoolBlock)) < 0)
                return -ENOMEM;
        for (size_t done = 0; done < a->len;) {
                ssize_t k = pwrite(sp->fd, a->buf + done, a->len - done, (off_t) (sp->end + done));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -EIO;
                done += (size_t) k;
        }
        a->blocks[a->n_blocks++] = (SpoolBlock){ sp->end, a->len };
        sp->end += a->len;
        a->len = 0;
        return 0;
}

int spool_copy(const Spool *sp, const SpoolArray *a, FILE *out)
{
        char buf[64 * 1024];

        for (size_t i = 0; i < a->n_blocks; i++)
                for (size_t done = 0; done < a->blocks[i].len;) {
                        size_t left = a->blocks[i].len - done;
                        ssize_t k = pread(sp->fd, buf, left < sizeof(buf) ? left : sizeof(buf),
                                          (off_t) (a->blocks[i].off + done));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k <= 0)
                                return k < 0 ? -errno : -EIO;
                        fwrite(buf, 1, (size_t) k, out);
                        done += (size_t) k;
                }
        fwrite(a->buf, 1, a->len, out);
        return 0;
}

size_t spool_put_uint(char *dst, uint64_t v)
{
        char tmp[24];
        size_t n = 0;

        do
                tmp[n++] = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        for (size_t i = 0; i < n; i++)
                dst[i] = tmp[n - 1 - i];
        return n;
}

size_t spool_put_seconds(char *dst, uint64_t us)
{
        size_t n = spool_put_uint(dst, us / 1000000);
        uint64_t frac = us % 1000000;
        int digits = 6;

        if (frac == 0)
                return n;
        while (frac % 10 == 0) {
                frac /= 10;
                digits--;
        }
        dst[n++] = '.';
        for (int i = digits - 1; i >= 0; i--, frac /= 10)
                dst[n + (size_t) i] = (char) ('0' + frac % 10);
        return n + (size_t) digits;
}

int spool_add_seconds(SpoolArray *a, uint64_t us)
{
        char *o = spool_room(a, 32);

        if (!o)
                return -ENOMEM;
        if (a->any)
                *o++ = ',';
        o += spool_put_seconds(o, us);
        a->len = (size_t) (o - a->buf);
        a->any = true;
        return 0;
}
