/* SPDX-License-Identifier: MIT */
#include "proc-tree.h"

#include <stdlib.h>
#include <string.h>

#include "sort-util.h"

static int cmp_pid(const void *a, const void *b)
{
        pid_t x = ((const ProcMember *) a)->pid, y = ((const ProcMember *) b)->pid;

        return (x > y) - (x < y);
}

static const ProcMember *find(const ProcMember *v, size_t n, pid_t pid)
{
        ProcMember key = { .pid = pid };

        return bsearch(&key, v, n, sizeof(*v), cmp_pid);
}

size_t proc_tree_select(ProcMember *procs, size_t n, pid_t root, bool *selected)
{
        bool changed = true;
        size_t k = 0;

        qsort_safe(procs, n, sizeof(*procs), cmp_pid);
        for (size_t i = 0; i < n; i++)
                selected[i] = procs[i].pid == root;

        /* Grow the set until no process has a selected parent left out:
         * one pass per generation, and a tree is a few generations deep. */
        while (changed) {
                changed = false;
                for (size_t i = 0; i < n; i++) {
                        const ProcMember *parent;

                        if (selected[i] || procs[i].ppid <= 0)
                                continue;
                        parent = find(procs, n, procs[i].ppid);
                        if (parent && selected[parent - procs]) {
                                selected[i] = true;
                                changed = true;
                        }
                }
        }

        for (size_t i = 0; i < n; i++)
                if (selected[i])
                        procs[k++] = procs[i];
        if (!find(procs, k, root))
                return 0;
        return k;
}

/* The same process (not a reused pid) in the other set, or NULL. */
static const ProcMember *same(const ProcMember *v, size_t n, const ProcMember *m)
{
        const ProcMember *o = find(v, n, m->pid);

        return o && o->starttime == m->starttime ? o : NULL;
}

static int64_t diff(uint64_t a, uint64_t b)
{
        return (int64_t) a - (int64_t) b;
}

void proc_tree_children_delta(const ProcMember *prev, size_t n_prev, const ProcMember *cur, size_t n_cur,
                              pid_t root, uint64_t *ret_utime, uint64_t *ret_stime)
{
        int64_t total_u = 0, total_s = 0;

        for (size_t j = 0; j < n_cur; j++) {
                const ProcMember *c = &cur[j], *p = same(prev, n_prev, c);
                int64_t reaped_u, reaped_s;

                if (!p && c->pid == root)
                        continue; /* not the same root: the caller's baseline is stale */
                if (!p) {
                        /* New: everything it and its reaped children did. */
                        total_u += (int64_t) (c->utime + c->cutime);
                        total_s += (int64_t) (c->stime + c->cstime);
                        continue;
                }
                if (c->pid != root) {
                        total_u += diff(c->utime, p->utime) > 0 ? diff(c->utime, p->utime) : 0;
                        total_s += diff(c->stime, p->stime) > 0 ? diff(c->stime, p->stime) : 0;
                }

                /* Children it reaped since: less what was already counted of
                 * the vanished descendants whose reaper it was. */
                reaped_u = diff(c->cutime, p->cutime);
                reaped_s = diff(c->cstime, p->cstime);
                for (size_t i = 0; i < n_prev; i++) {
                        const ProcMember *v = &prev[i], *up = v;

                        if (same(cur, n_cur, v))
                                continue;
                        /* Up the vanished ancestors to the first one still here. */
                        for (size_t depth = 0; depth < n_prev; depth++) {
                                up = find(prev, n_prev, up->ppid);
                                if (!up || same(cur, n_cur, up))
                                        break;
                        }
                        if (up && up->pid == c->pid) {
                                reaped_u -= (int64_t) (v->utime + v->cutime);
                                reaped_s -= (int64_t) (v->stime + v->cstime);
                        }
                }
                total_u += reaped_u > 0 ? reaped_u : 0;
                total_s += reaped_s > 0 ? reaped_s : 0;
        }

        *ret_utime = total_u > 0 ? (uint64_t) total_u : 0;
        *ret_stime = total_s > 0 ? (uint64_t) total_s : 0;
}
