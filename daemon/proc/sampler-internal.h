/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside the sampler: its state, shared by sampler.c (the target, one reading, the row),
 * sampler-threads.c (the threads' run times, wake-ups and names, the row of those that ended)
 * and sampler-tree.c (descendants and PSS).
 */

#include "cpu-math.h"
#include "proc-stat.h"
#include "proc-tree.h"
#include "sampler.h"

#define IO_BUF_SIZE 4096
#define DENTS_BUF_SIZE 16384
#define NAME_REFRESH 16 /* re-read a thread's comm every this many samples */
#define INITIAL_THREADS 64
#define INITIAL_PROCS 256
#define PROC_TEXT_MAX (4u << 20)
#define MIB (1024.0 * 1024.0)

typedef struct ThreadMeta {
        char name[sizeof(((ThreadSample *) NULL)->name)];
        unsigned name_age; /* samples since the comm was read */
        bool fresh;        /* first seen last sample: it may name itself just after starting */
} ThreadMeta;

/* The thread table of one sample; two of them, the previous and the current. */
typedef struct ThreadTable {
        ThreadRuntime *rt; /* sorted by tid */
        ThreadMeta *meta;  /* parallel to rt */
        size_t n;
} ThreadTable;

struct Sampler {
        SamplerOptions opts;
        unsigned ncpus;
        uint64_t mem_total_kb;
        uint64_t page_size;
        unsigned long clk_tck;
        int root_fd; /* our own descriptor of the proc root, for listing it */

        pid_t pid;   /* 0: detached */
        int pid_fd;  /* <proc>/PID: pins the process, a reused pid reads as gone */
        int stat_fd; /* <proc>/PID/stat, re-read with pread() */
        int task_fd; /* <proc>/PID/task, rewound and re-listed */
        bool have_schedstat;
        bool need_baseline; /* an error left the tables half-updated */
        CpuSnapshot prev;
        usec_t pss_next; /* 0: read PSS on the next sample */

        ThreadTable threads[2]; /* [cur] and [!cur] */
        unsigned cur;
        size_t threads_cap;
        ThreadSample *out;
        size_t n_out;

        ProcMember *tree[2]; /* [cur] and [!cur]: all processes, then the selection */
        size_t n_tree[2];
        bool *selected;
        size_t tree_cap;

        char buf[IO_BUF_SIZE];
        uint64_t dents[DENTS_BUF_SIZE / sizeof(uint64_t)]; /* getdents64, aligned for its records */
};

/* What one reading of the target gives, beyond the CPU snapshot. */
typedef struct Reading {
        CpuSnapshot snap;
        uint64_t rss_pages;
        uint64_t threads;
        unsigned processes;
        double pss_mb;
        double wakeups_per_second; /* NAN: not measured */
} Reading;

/* Grows array p to n elements: 0, or -ENOMEM with p as it was. */
#define GROW(p, n)                                                       \
        __extension__({                                                  \
                __typeof__(p) _q = reallocarray((p), (n), sizeof(*(p))); \
                if (_q)                                                  \
                        (p) = _q;                                        \
                _q ? 0 : -ENOMEM;                                        \
        })

int sampler_grow_threads(Sampler *s, size_t cap);
int sampler_grow_tree(Sampler *s, size_t cap);
int sampler_read_target_stat(Sampler *s, ProcStat *ret);

/* sampler-threads.c */
int sampler_sample_threads(Sampler *s, usec_t interval, bool *ret_exact, uint64_t *ret_delta_ns,
                           uint64_t *ret_wakeups);
void sampler_add_ended_row(Sampler *s, double process_core_percent);

/* sampler-tree.c */
int sampler_sample_tree(Sampler *s, const ProcStat *root, bool baseline, Reading *rd);
double sampler_sample_pss(Sampler *s, usec_t now, usec_t interval);
