/* SPDX-License-Identifier: MIT */
#include "sampler-internal.h"

#include <math.h>

#include "proc-read.h"
#include "proc-smaps.h"

/* ---- descendants ---- */

typedef struct TreeScan {
        Sampler *sampler;
        const ProcStat *root;
        size_t n;
} TreeScan;

static void member_from_stat(ProcMember *m, const ProcStat *st)
{
        *m = (ProcMember){
                .pid = st->pid,
                .ppid = st->ppid,
                .starttime = st->starttime,
                .utime = st->utime,
                .stime = st->stime,
                .cutime = st->cutime,
                .cstime = st->cstime,
                .rss_pages = st->rss,
                .threads = st->num_threads,
        };
}

static int add_proc(pid_t pid, void *userdata)
{
        TreeScan *scan = userdata;
        Sampler *s = scan->sampler;
        ProcMember *m;
        char path[32];
        ProcStat st;
        size_t len;
        int r;

        if (scan->n == s->tree_cap) {
                r = sampler_grow_tree(s, s->tree_cap * 2);
                if (r < 0)
                        return r;
        }
        m = &s->tree[s->cur][scan->n];
        if (pid == scan->root->pid) {
                member_from_stat(m, scan->root); /* the reading the CPU maths uses */
                scan->n++;
                return 0;
        }
        snprintf(path, sizeof(path), "%d/stat", (int) pid);
        r = proc_read_file(s->opts.proc_fd, path, s->buf, sizeof(s->buf), &len);
        if (r == -ESRCH || r == -EACCES)
                return 0; /* exited since the listing; or hidden (hidepid) */
        if (r < 0)
                return r;
        if (proc_stat_parse(s->buf, len, &st) < 0)
                return 0; /* not ours to judge: skip it */
        member_from_stat(m, &st);
        scan->n++;
        return 0;
}

/* Scans the proc root for the target's descendants into tree[cur]; their
 * ticks since the previous scan (not for a baseline), memory and threads. */
int sampler_sample_tree(Sampler *s, const ProcStat *root, bool baseline, Reading *rd)
{
        ProcMember *cur;
        TreeScan scan = { .sampler = s, .root = root };
        uint64_t du = 0, ds = 0;
        size_t n;
        int r;

        r = proc_list_ids(s->root_fd, s->dents, sizeof(s->dents), add_proc, &scan);
        if (r < 0)
                return r;
        cur = s->tree[s->cur];
        n = proc_tree_select(cur, scan.n, root->pid, s->selected);
        if (n == 0)
                return -ESRCH; /* the root itself was not listed: gone */
        s->n_tree[s->cur] = n;

        if (!baseline)
                proc_tree_children_delta(s->tree[!s->cur], s->n_tree[!s->cur], cur, n, root->pid, &du, &ds);
        rd->snap.child_utime += du;
        rd->snap.child_stime += ds;
        rd->rss_pages = rd->threads = 0;
        for (size_t i = 0; i < n; i++) {
                rd->rss_pages += cur[i].rss_pages;
                rd->threads += cur[i].threads;
        }
        rd->processes = (unsigned) n;
        return 0;
}

/* ---- PSS ---- */

static int read_pss_kb(Sampler *s, int dir_fd, const char *relpath, uint64_t *ret_kb)
{
        size_t len;
        int r;

        r = proc_read_file(dir_fd, relpath, s->buf, sizeof(s->buf), &len);
        if (r < 0)
                return r;
        return proc_smaps_rollup_parse(s->buf, len, ret_kb);
}

/* PSS of the target (and descendants), or NAN when it is not this sample's
 * turn or cannot be read (no smaps_rollup, no permission). Read at the sample
 * nearest each deadline of its own cadence, without drift. */
double sampler_sample_pss(Sampler *s, usec_t now, usec_t interval)
{
        uint64_t total = 0, kb;

        if (s->opts.pss_interval == 0)
                return NAN;
        if (s->pss_next != 0 && now + interval / 2 < s->pss_next)
                return NAN;
        /* The first read sets the cadence; later ones keep to it. */
        s->pss_next = s->pss_next == 0 ? now + s->opts.pss_interval : s->pss_next + s->opts.pss_interval;
        if (s->pss_next <= now)
                s->pss_next = now + s->opts.pss_interval; /* after a long gap */

        if (read_pss_kb(s, s->pid_fd, "smaps_rollup", &kb) < 0)
                return NAN;
        total = kb;
        if (s->opts.include_children)
                for (size_t i = 0; i < s->n_tree[s->cur]; i++) {
                        const ProcMember *m = &s->tree[s->cur][i];
                        char path[48];

                        if (m->pid == s->pid)
                                continue;
                        snprintf(path, sizeof(path), "%d/smaps_rollup", (int) m->pid);
                        if (read_pss_kb(s, s->opts.proc_fd, path, &kb) == 0)
                                total += kb; /* a child gone or without memory adds nothing */
                }
        return (double) total * 1024.0 / MIB;
}
