/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside the periodic-work analysis (report-periodic.c): a candidate function of one thread, its
 * bursts' starts, and what report-period.c makes of them: the period that explains its gaps, or
 * work too fast to show one.
 */

#include "report-profile.h"

#define FAST_BURSTS 10.0    /* bursts per second, at least */
#define FAST_MEAN_BURST 1.6 /* samples */
#define REGULAR_EXPLAINED 0.8
#define CHANCE_MARGIN 0.25 /* ...and at least this much more than memoryless gaps would */
#define MULTIPLE_MAX 3

typedef struct Cand {
        uint32_t func, frame; /* frame: its busiest line in this thread */
        double work_s;
        uint64_t samples, episodes, ep_samples;
        double ep_seconds;
        float *starts;
        size_t n_starts, cap;
        double open_t; /* the open burst's start */
        uint64_t open_n;
        double first, last;
        /* results */
        double period, explained;
        bool fast, regular, dropped;
} Cand;

/* Decides k's period (or that it is fast work, or neither): k->period, explained, fast, regular. */
void period_judge(const RpContext *c, uint32_t ti, Cand *k);
/* Callees of a periodic function repeat with it: marks all but the outermost (most time) dropped. */
void period_dedupe(Cand *cand, size_t nc);
