/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A speedscope profile (speedscope-model.h) as folded stacks, the text
 * Grafana Pyroscope's /ingest?format=folded takes: one line a distinct
 * stack, "thread;frame;...;leaf COUNT\n", root first, the thread's name as
 * the root frame, the count an integer number of samples.
 *
 * The server reads a body line by line with a 64 KiB line buffer and drops
 * everything after a longer line without a word, so no line is longer than
 * FOLDED_LINE_MAX (its newline included): a frame is cut to
 * FOLDED_FRAME_MAX bytes, and a stack deeper than a line holds keeps its
 * thread and its leaf side, the frames cut from the root side replaced by
 * one "[N frames cut]" frame (the samples stay, counted in cut_stacks).
 *
 * Frames read "name (file:line)" as py-spy's own folded output does; ';'
 * (the frame separator) becomes ':' and control characters '?', so a
 * hostile name cannot add a frame or a line. Threads are named by the part
 * of the profile's name in quotes (MainThread): the same thread of two
 * sessions, or of two PAM pids in one merged file, is one root, and stacks
 * that fold to the same text are summed.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "speedscope-model.h"

#define FOLDED_LINE_MAX (64 * 1024)
#define FOLDED_FRAME_MAX 1024

/* true: leave the stack that ends at node out (an idle stack, when a CPU profile is wanted). */
typedef bool (*FoldedSkipFunc)(const SsModel *m, uint32_t node, void *userdata);

typedef struct FoldedStats {
        uint64_t lines;          /* written */
        uint64_t samples;        /* in them */
        uint64_t skipped;        /* samples of stacks skip() left out */
        uint64_t skipped_stacks; /* and their distinct stacks */
        uint64_t cut_stacks;     /* stacks cut at the root side to fit a line */
        uint64_t cut_frames;     /* frames so cut, in all */
        uint64_t bytes;          /* written */
} FoldedStats;

/*
 * Writes m's stacks to f in the model's node order (a thread's stacks together), leaving out
 * those skip (or NULL) says. 0 and *ret_stats, or -EIO when f fails, -ENOMEM.
 */
int folded_write(const SsModel *m, FoldedSkipFunc skip, void *userdata, FILE *f, FoldedStats *ret_stats);
