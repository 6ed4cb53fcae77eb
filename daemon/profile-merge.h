/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Merging a session's py-spy runs (chunks, PAM restarts) into the one
 * seed-named speedscope file: shared frames de-duplicated, one sampled
 * profile per thread, chunks in time order. Threads of a different PAM pid
 * than the first are named "pid N: ..." so a person sees which is which.
 */

#include <stddef.h>
#include <sys/types.h>

typedef struct MergeInput {
        int fd;            /* a complete speedscope file */
        pid_t pid;         /* PAM's pid during that run */
} MergeInput;

typedef struct MergeFacts {
        size_t profiles, frames, samples;
        double seconds;    /* the sum of the weights of the busiest profile */
} MergeFacts;

/* Writes the merged document to out_fd. -EFBIG when the inputs exceed max_bytes together. */
int profile_merge(const MergeInput *in, size_t n, int out_fd, size_t max_bytes, MergeFacts *ret_facts);

/* Facts of one file (threads as a JSON array of names), for the record. -EFBIG above max_bytes. */
struct cJSON;
int profile_facts(int fd, size_t max_bytes, MergeFacts *ret, struct cJSON **ret_threads);
