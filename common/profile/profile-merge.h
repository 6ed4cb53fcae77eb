/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Merging a session's py-spy runs (chunks, PAM restarts) into the one
 * seed-named speedscope file: shared frames de-duplicated, one sampled
 * profile per thread, runs in time order. Threads of a later PAM pid than
 * the first run's are named "pid N: ..." so a person sees which is which.
 * Each thread is on the first run's clock: a thread first seen in a later run,
 * or coming back after a gap between runs, starts with an empty sample as long
 * as the time before its run (the Austin converter does the same within a run).
 * Streaming: memory grows with the number of distinct frames, not samples.
 */

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

typedef struct MergeInput {
        int fd;       /* a complete speedscope file */
        pid_t pid;    /* PAM's pid during that run */
        double start; /* when the run started, in seconds on one clock for all inputs (0: unknown) */
} MergeInput;

typedef struct MergeFacts {
        size_t profiles, frames, samples;
        double seconds;      /* the sum of the weights of the longest profile */
        cJSON *threads;      /* when set by the caller: the profiles' names are added */
        const char *sampler; /* set by the caller: who made the runs ("Austin"), for the document's name */
} MergeFacts;

/* Writes the merged document to out_fd. -EBADMSG when an input is not speedscope. */
int profile_merge(const MergeInput *in, size_t n, int out_fd, MergeFacts *ret_facts);

/* The facts of one file, read the same way. */
int profile_facts(int fd, MergeFacts *ret);
