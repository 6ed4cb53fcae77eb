/* SPDX-License-Identifier: MIT */
#include "proc-stat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "proc-field.h"
#include "proc-read.h"

/* Fields after the comm, numbered as in proc(5). */
enum {
        F_STATE = 3,
        F_PPID = 4,
        F_UTIME = 14,
        F_STIME = 15,
        F_CUTIME = 16,
        F_CSTIME = 17,
        F_NUM_THREADS = 20,
        F_STARTTIME = 22,
        F_VSIZE = 23,
        F_RSS = 24,
        /* Not kept, but required: a text cut inside rss would read as a
         * smaller number. Every kernel since 2.6 prints 40-odd fields. */
        F_RSSLIM = 25,
        F_LAST = F_RSSLIM,
};

/* memrchr() without _GNU_SOURCE. */
static const char *last_char(const char *s, size_t n, char c)
{
        while (n > 0)
                if (s[--n] == c)
                        return s + n;
        return NULL;
}

static int parse_pid(const char *s, size_t n, pid_t *ret)
{
        int64_t v;
        int r;

        r = proc_field_i64(s, n, &v);
        if (r < 0)
                return r;
        if (v > INT_MAX)
                return -ERANGE;
        if (v < 0)
                return -EBADMSG;
        *ret = (pid_t) v;
        return 0;
}

/* cutime, cstime and rss are printed signed; a negative one means 0. */
static int parse_signed_count(const char *s, size_t n, uint64_t *ret)
{
        int64_t v;
        int r;

        r = proc_field_i64(s, n, &v);
        if (r < 0)
                return r;
        *ret = v < 0 ? 0 : (uint64_t) v;
        return 0;
}

static int parse_field(ProcStat *st, int field, const char *tok, size_t n)
{
        uint64_t skip_u;
        int64_t skip_i;

        switch (field) {
        case F_STATE:
                if (n != 1)
                        return -EBADMSG;
                st->state = tok[0];
                return 0;
        case F_PPID:
                return parse_pid(tok, n, &st->ppid);
        case F_UTIME:
                return proc_field_u64(tok, n, &st->utime);
        case F_STIME:
                return proc_field_u64(tok, n, &st->stime);
        case F_CUTIME:
                return parse_signed_count(tok, n, &st->cutime);
        case F_CSTIME:
                return parse_signed_count(tok, n, &st->cstime);
        case F_NUM_THREADS:
                return proc_field_u64(tok, n, &st->num_threads);
        case F_STARTTIME:
                return proc_field_u64(tok, n, &st->starttime);
        case F_VSIZE:
                return proc_field_u64(tok, n, &st->vsize);
        case F_RSS:
                return parse_signed_count(tok, n, &st->rss);
        default:
                /* Not kept, but still a number: tpgid, priority... may be
                 * negative, rsslim is 2^64-1. */
                if (n > 0 && tok[0] == '-')
                        return proc_field_i64(tok, n, &skip_i);
                return proc_field_u64(tok, n, &skip_u);
        }
}

int proc_stat_parse(const char *buf, size_t len, ProcStat *ret)
{
        const char *open, *close, *p, *end = buf + len, *tok;
        ProcStat st = { 0 };
        size_t n, comm_len;
        int r;

        /* "PID (" */
        open = memchr(buf, '(', len);
        if (!open || open == buf || open[-1] != ' ')
                return -EBADMSG;
        r = parse_pid(buf, (size_t) (open - 1 - buf), &st.pid);
        if (r < 0)
                return r;

        /* The comm runs to the last ')', whatever it contains. */
        close = last_char(open + 1, (size_t) (end - open - 1), ')');
        if (!close)
                return -EBADMSG;
        comm_len = (size_t) (close - open - 1);
        if (comm_len > PROC_COMM_MAX)
                comm_len = PROC_COMM_MAX;
        memcpy(st.comm, open + 1, comm_len);
        st.comm[comm_len] = '\0';

        p = close + 1;
        if (p >= end || *p != ' ')
                return -EBADMSG;
        for (int field = F_STATE; field <= F_LAST; field++) {
                r = proc_field_next(&p, end, &tok, &n);
                if (r < 0)
                        return -EBADMSG; /* truncated */
                r = parse_field(&st, field, tok, n);
                if (r < 0)
                        return r;
        }

        *ret = st;
        return 0;
}

int proc_stat_read(int proc_fd, pid_t pid, ProcStat *ret)
{
        char path[32], buf[1024];
        size_t len;
        int r;

        snprintf(path, sizeof(path), "%d/stat", (int) pid);
        r = proc_read_file(proc_fd, path, buf, sizeof(buf), &len);
        if (r < 0)
                return r;
        return proc_stat_parse(buf, len, ret);
}
