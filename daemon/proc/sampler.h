/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The sampler: CPU and memory of one process (and optionally its
 * descendants) from /proc, one SampleRow per call. It reads, it computes,
 * it does not log: errors go back to the session, which decides.
 *
 * All /proc access is relative to opts->proc_fd, so tests point it at a
 * fixture tree. The CPU maths is common/cpu-math.c, which also says which
 * counters are used and why.
 *
 * Cost per sample (see tests/bench/): threads off, pss off: one pread(2) of
 * a /proc/PID/stat descriptor kept open. Threads on: plus a listing of
 * task/ (kept open, rewound) and one schedstat per thread (run time and
 * wake-ups both), and a comm per thread when it is new and every 16th
 * sample after. PSS: one smaps_rollup
 * per process at its own cadence. Children: a listing of the proc root and
 * one stat per process on the machine. No allocation once the thread and
 * process tables have grown to size.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cleanup.h"
#include "sample.h"
#include "time-util.h"

typedef struct SamplerOptions {
        int proc_fd;           /* dirfd of the proc root (borrowed), e.g. open("/proc") or a fixture tree */
        bool include_children; /* sum PAM's descendants in (scan <proc>/ for ppid chains) */
        bool threads;          /* per-thread figures (ThreadSample), schedstat-exact CPU, wake-ups */
        usec_t pss_interval;   /* read smaps_rollup at most this often; 0 = never (pss_mb = NAN) */
} SamplerOptions;

typedef struct Sampler Sampler;

/* Reads ncpus (<proc>/stat), MemTotal (<proc>/meminfo), page size and
 * CLK_TCK once. -ENOMEM, or the error reading those files. */
int sampler_new(const SamplerOptions *opts, Sampler **ret);
Sampler *sampler_free(Sampler *s); /* accepts NULL */
DEFINE_TRIVIAL_CLEANUP_FUNC(Sampler *, sampler_free);
#define _cleanup_sampler_free_ _cleanup_(sampler_freep)

/* Takes the baseline of pid at now_mono (detaching from any previous
 * target first). 0, or -ESRCH if it is gone (or a zombie). */
int sampler_attach(Sampler *s, pid_t pid, usec_t now_mono);
/*
 * The same for a process that has just started (a profiler run): its baseline is its start,
 * no CPU at its birth (stat's starttime on the boot clock), so the first sample gives its CPU
 * over its whole life instead of nothing. Not with threads or children.
 */
int sampler_attach_since_start(Sampler *s, pid_t pid, usec_t now_mono);
void sampler_detach(Sampler *s);
pid_t sampler_pid(const Sampler *s); /* 0 when detached */

/*
 * Fills every figure of *ret_row except elapsed and realtime (the caller's,
 * left as they were). 0: a row; -ESRCH: the target is gone, or the sampler
 * is detached (it detaches itself); -ESTALE: pid reused, time not moving
 * forward, or an earlier error left the state unknown: a new baseline was
 * taken, no row. Another -errno: no row, and the next call takes a new
 * baseline.
 */
int sampler_sample(Sampler *s, usec_t now_mono, SampleRow *ret_row);

/* Per-thread figures of the last successful sample, sorted by tid (valid
 * until the next call; none when threads are off or the call failed). The
 * target's own threads only, not its descendants'. */
size_t sampler_threads(const Sampler *s, const ThreadSample **ret);
