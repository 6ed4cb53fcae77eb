/* SPDX-License-Identifier: MIT */
#include "proc-field.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n';
}

int proc_field_u64(const char *s, size_t n, uint64_t *ret)
{
        uint64_t v = 0;

        if (n == 0)
                return -EBADMSG;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned char) s[i] - '0';

                if (d > 9)
                        return -EBADMSG;
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int proc_field_i64(const char *s, size_t n, int64_t *ret)
{
        bool neg = n > 0 && s[0] == '-';
        uint64_t v;
        int r;

        r = proc_field_u64(s + neg, n - neg, &v);
        if (r < 0)
                return r;
        if (v > (uint64_t) INT64_MAX + neg)
                return -ERANGE;
        /* Written so that INT64_MIN does not overflow. */
        *ret = neg ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

int proc_field_next(const char **p, const char *end, const char **ret_token, size_t *ret_len)
{
        const char *s = *p, *t;

        while (s < end && is_space(*s))
                s++;
        if (s >= end)
                return -ENODATA;
        for (t = s; t < end && !is_space(*t); t++)
                ;
        *ret_token = s;
        *ret_len = (size_t) (t - s);
        *p = t;
        return 0;
}

/* Parses the value part "   1234 kB" of one line [s, eol). */
static int parse_kb_value(const char *s, const char *eol, uint64_t *ret)
{
        const char *tok;
        size_t n;
        uint64_t v;
        int r;

        r = proc_field_next(&s, eol, &tok, &n);
        if (r < 0)
                return -EBADMSG;
        r = proc_field_u64(tok, n, &v);
        if (r < 0)
                return r;
        r = proc_field_next(&s, eol, &tok, &n);
        if (r == 0 && (n != 2 || memcmp(tok, "kB", 2) != 0))
                return -EBADMSG;
        if (r == 0 && proc_field_next(&s, eol, &tok, &n) == 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int proc_field_kb_line(const char *buf, size_t len, const char *key, uint64_t *ret_kb)
{
        size_t klen = strlen(key);
        const char *p = buf, *end = buf + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));

                if (!eol)
                        eol = end;
                if ((size_t) (eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == ':')
                        return parse_kb_value(p + klen + 1, eol, ret_kb);
                p = eol + 1;
        }
        return -ENOENT;
}
