/* SPDX-License-Identifier: MIT */
#include "austin-parse.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Decimal digits of [s, end) into *ret; false when empty, not digits or over max. */
static bool parse_u64(const char *s, const char *end, uint64_t max, uint64_t *ret)
{
        uint64_t v = 0;

        if (s >= end)
                return false;
        for (; s < end; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                if (v > (max - (uint64_t) (*s - '0')) / 10)
                        return false;
                v = v * 10 + (uint64_t) (*s - '0');
        }
        *ret = v;
        return true;
}

static bool parse_long(const char *s, const char *end, long *ret)
{
        bool neg = s < end && *s == '-';
        uint64_t v;

        if (!parse_u64(s + neg, end, (uint64_t) 1 << 62, &v))
                return false;
        *ret = neg ? -(long) v : (long) v;
        return true;
}

/* Austin 3.7 writes tids in decimal; older ones in hex with 0x. */
static bool parse_id(const char *s, const char *end, long *ret)
{
        uint64_t v = 0;

        if (end - s > 2 && s[0] == '0' && s[1] == 'x') {
                for (s += 2; s < end; s++) {
                        const char *digits = "0123456789abcdef", *d = memchr(digits, *s | 0x20, 16);
                        if (!d || v >> 59)
                                return false;
                        v = v * 16 + (uint64_t) (d - digits);
                }
                *ret = (long) v;
                return true;
        }
        return parse_long(s, end, ret);
}

static void copy_value(char *dst, size_t size, const char *v, size_t len)
{
        if (len >= size)
                len = size - 1;
        memcpy(dst, v, len);
        dst[len] = '\0';
}

static int parse_meta(const char *line, size_t len, AustinMeta *meta)
{
        const char *end = line + len, *key = line + 2, *colon = memchr(key, ':', (size_t) (end - key));
        const char *v;
        size_t klen;
        uint64_t n;

        if (!colon)
                return AUSTIN_LINE_META; /* a comment Austin did not write: harmless */
        klen = (size_t) (colon - key);
        v = colon + 1;
        while (v < end && *v == ' ')
                v++;
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
        if (KEY("austin"))
                copy_value(meta->version, sizeof(meta->version), v, (size_t) (end - v));
        else if (KEY("python"))
                copy_value(meta->python, sizeof(meta->python), v, (size_t) (end - v));
        else if (KEY("interval") && parse_u64(v, end, UINT64_MAX, &n))
                meta->interval_us = n;
        else if (KEY("duration") && parse_u64(v, end, UINT64_MAX, &n)) {
                meta->duration_us = n;
                meta->has_duration = true;
        } else if (KEY("multiprocess"))
                meta->multiprocess = (size_t) (end - v) == 2 && memcmp(v, "on", 2) == 0;
        else if (KEY("mode")) {
                static const struct {
                        const char *name;
                        AustinMode mode;
                } modes[] = { { "wall", AUSTIN_MODE_WALL },
                              { "cpu", AUSTIN_MODE_CPU },
                              { "memory", AUSTIN_MODE_MEMORY },
                              { "full", AUSTIN_MODE_FULL } };
                size_t vlen = (size_t) (end - v);

                meta->mode = AUSTIN_MODE_UNKNOWN;
                for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
                        if (vlen == strlen(modes[i].name) && memcmp(v, modes[i].name, vlen) == 0)
                                meta->mode = modes[i].mode;
        }
#undef KEY
        return AUSTIN_LINE_META;
}

/* "123", "123,0,-456" (full), "-456" (memory). */
static int parse_metric(const char *s, const char *end, AustinMode mode, AustinSample *ret)
{
        const char *comma = memchr(s, ',', (size_t) (end - s));
        long mem;

        if (mode == AUSTIN_MODE_MEMORY) {
                ret->time_us = 0;
                return parse_long(s, end, &mem) ? 0 : -EBADMSG;
        }
        if (!comma)
                return parse_u64(s, end, UINT64_MAX, &ret->time_us) ? 0 : -EBADMSG;
        /* full mode: time,idle,memory */
        if (!parse_u64(s, comma, UINT64_MAX, &ret->time_us))
                return -EBADMSG;
        ret->idle = comma + 1 < end && comma[1] == '1';
        return 0;
}

int austin_parse_line(const char *line, size_t len, AustinMeta *meta, AustinSample *ret)
{
        const char *end = line + len, *sp, *semi, *colon, *head_end;

        if (len > 0 && line[len - 1] == '\r')
                end--, len--;
        if (len == 0)
                return AUSTIN_LINE_EMPTY;
        if (line[0] == '#')
                return len >= 2 && line[1] == ' ' ? parse_meta(line, len, meta) : AUSTIN_LINE_META;
        if (line[0] != 'P')
                return -EBADMSG;
        /* The metric is after the last space (file names may hold spaces). */
        for (sp = end - 1; sp > line && *sp != ' '; sp--)
                ;
        if (*sp != ' ')
                return -EBADMSG;
        *ret = (AustinSample){ 0 };
        if (parse_metric(sp + 1, end, meta->mode, ret) < 0)
                return -EBADMSG;
        /* P<pid>;T<iid>:<tid>[;frames] */
        semi = memchr(line, ';', (size_t) (sp - line));
        if (!semi || !parse_long(line + 1, semi, &ret->pid) || semi + 1 >= sp || semi[1] != 'T')
                return -EBADMSG;
        head_end = memchr(semi + 1, ';', (size_t) (sp - semi - 1));
        if (!head_end)
                head_end = sp;
        colon = memchr(semi + 2, ':', (size_t) (head_end - semi - 2));
        if (colon) {
                if (!parse_long(semi + 2, colon, &ret->iid) || !parse_id(colon + 1, head_end, &ret->tid))
                        return -EBADMSG;
        } else if (!parse_id(semi + 2, head_end, &ret->tid)) /* Austin 2: T<tid> */
                return -EBADMSG;
        if (head_end < sp) {
                ret->frames = head_end + 1;
                ret->frames_len = (size_t) (sp - head_end - 1);
        } else {
                ret->frames = sp;
                ret->frames_len = 0;
        }
        return AUSTIN_LINE_SAMPLE;
}

bool austin_next_frame(const char **p, const char *end, const char **ret, size_t *ret_len)
{
        const char *s = *p, *semi;

        if (s >= end)
                return false;
        semi = memchr(s, ';', (size_t) (end - s));
        if (!semi)
                semi = end;
        *ret = s;
        *ret_len = (size_t) (semi - s);
        *p = semi < end ? semi + 1 : end;
        return true;
}

int austin_parse_frame(const char *s, size_t len, AustinFrame *ret)
{
        const char *end = s + len, *c2, *c1;

        for (c2 = end; c2 > s && c2[-1] != ':'; c2--)
                ;
        if (c2 == s)
                return -EBADMSG;
        c2--; /* the colon before the line */
        for (c1 = c2; c1 > s && c1[-1] != ':'; c1--)
                ;
        if (c1 == s)
                return -EBADMSG;
        c1--; /* the colon before the scope */
        *ret = (AustinFrame){
                .file = s,
                .file_len = (size_t) (c1 - s),
                .scope = c1 + 1,
                .scope_len = (size_t) (c2 - c1 - 1),
                .line = -1,
        };
        if (c2 + 1 < end && !parse_long(c2 + 1, end, &ret->line))
                return -EBADMSG;
        if (ret->line < 0)
                ret->line = -1;
        return 0;
}
