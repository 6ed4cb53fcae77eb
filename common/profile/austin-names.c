/* SPDX-License-Identifier: MIT */
#include "austin-names.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void austin_names_done(AustinNames *n)
{
        for (size_t i = 0; i < n->n; i++)
                free(n->v[i].name);
        free(n->v);
        *n = (AustinNames){ 0 };
}

int austin_names_add(AustinNames *n, long pid, long tid, const char *name)
{
        char *copy;

        if (n->n == n->cap) {
                size_t cap = n->cap ? n->cap * 2 : 32;
                AustinName *v = realloc(n->v, cap * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                n->v = v;
                n->cap = cap;
        }
        copy = strdup(name);
        if (!copy)
                return -ENOMEM;
        n->v[n->n++] = (AustinName){ pid, tid, copy };
        return 0;
}

/* "pid tid name" with the name unescaped into out (at least len + 1 bytes). */
static bool parse_one(const char *s, size_t len, long *pid, long *tid, char *out)
{
        const char *end = s + len;
        char *e, *o = out;
        char num[24];
        size_t k;

        for (int field = 0; field < 2; field++) {
                for (k = 0; s + k < end && s[k] != ' ' && k < sizeof(num) - 1; k++)
                        num[k] = s[k];
                if (k == 0 || s + k >= end || s[k] != ' ')
                        return false;
                num[k] = '\0';
                errno = 0;
                *(field ? tid : pid) = strtol(num, &e, 10);
                if (*e || errno || *(field ? tid : pid) <= 0)
                        return false;
                s += k + 1;
        }
        for (; s < end; s++) {
                if (*s == '\\' && s + 1 < end) {
                        s++;
                        *o++ = *s == 'n' ? '\n' : *s;
                } else
                        *o++ = *s;
        }
        *o = '\0';
        return true;
}

int austin_names_parse(AustinNames *n, const char *text, size_t len)
{
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t l;
                char *name;
                long pid, tid;
                int r = 0;

                if (!nl)
                        break; /* a line being written when the daemon died */
                l = (size_t) (nl - p);
                name = malloc(l + 1);
                if (!name)
                        return -ENOMEM;
                if (parse_one(p, l, &pid, &tid, name))
                        r = austin_names_add(n, pid, tid, name);
                free(name);
                if (r < 0)
                        return r;
                p = nl + 1;
        }
        return 0;
}

const char *austin_names_lookup(const AustinNames *n, long pid, long tid)
{
        for (size_t i = n ? n->n : 0; i > 0; i--)
                if (n->v[i - 1].tid == tid && n->v[i - 1].pid == pid)
                        return n->v[i - 1].name;
        return NULL;
}

int austin_names_format(long pid, long tid, const char *name, char *buf, size_t size)
{
        int k = snprintf(buf, size, "%ld %ld ", pid, tid);
        size_t o;

        if (k < 0 || (size_t) k >= size)
                return -ENOBUFS;
        o = (size_t) k;
        for (const char *s = name; *s; s++) {
                bool esc = *s == '\\' || *s == '\n';
                if (o + 2 + esc >= size)
                        return -ENOBUFS;
                if (esc)
                        buf[o++] = '\\';
                buf[o++] = *s == '\n' ? 'n' : *s;
        }
        buf[o++] = '\n';
        buf[o] = '\0';
        return (int) o;
}

void austin_thread_label(const AustinNames *n, long pid, long iid, long tid, bool process_prefix, char *buf,
                         size_t size)
{
        const char *name = tid == pid ? "MainThread" : austin_names_lookup(n, pid, tid);
        const char *own = austin_names_lookup(n, pid, pid);
        char process[48] = "", interp[48] = "";

        if (name && tid != pid && own && strcmp(name, own) == 0)
                name = NULL; /* the process's own name, inherited: the app never named this thread */
        if (process_prefix)
                snprintf(process, sizeof(process), "Process %ld ", pid);
        if (iid != 0)
                snprintf(interp, sizeof(interp), " (interpreter %ld)", iid);
        if (name)
                snprintf(buf, size, "%sThread %ld \"%s\"%s", process, tid, name, interp);
        else
                snprintf(buf, size, "%sThread %ld%s", process, tid, interp);
}
