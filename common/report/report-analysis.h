/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The findings, one file each, as pure functions over the classified
 * profile (report-profile.h) and the CSV series (report-csv.h). Each adds
 * its findings to `findings` (a JSON array, see report-finding.h) and
 * returns its section of the report (NULL when it has nothing to say).
 * The seed's "Interpretation Guide" and "Common Patterns" map onto them:
 *
 *   report_threads        1. worker thread overhead: idle share per thread (95 %+ in idle scenarios)
 *   report_hot            2. hot code: self and total time, overall and per thread
 *   report_periodic       3. periodic task frequency ("every few ms when it should be seconds")
 *   report_async          4. blocking operations in async code (pattern 3)
 *   report_busy           5. busy waiting (pattern 1; pattern 2 is report_periodic's fast work)
 *   report_serialization  6. redundant serialization (pattern 4)
 *   report_wakeups        what the stacks cannot show: polling threads and fast periodic work on the
 *                         event loop, from the threads' measured wake-ups (pattern 2, part 3)
 *   report_series         7. CPU against the idle target, spikes, memory trend, the profiler's cost
 */

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "report-csv.h"
#include "report-profile.h"

/* The table (20 threads at most) and, in *ret_groups (NULL: none), the rest summed up by entry function. */
cJSON *report_threads(const RpContext *c, bool idle_scenario, cJSON *findings, cJSON **ret_groups);
/* The first function under threading's machinery where thread ti spends most of its time (SS_NONE). */
uint32_t report_thread_entry(const RpContext *c, uint32_t ti);
cJSON *report_hot(const RpContext *c);
cJSON *report_periodic(const RpContext *c, cJSON *findings);
cJSON *report_async(const RpContext *c, cJSON *findings);
void report_busy(const RpContext *c, cJSON *findings);
cJSON *report_serialization(const RpContext *c, cJSON *findings);
/* loops: report_async's section (its coroutines name what wakes a loop); NULL: none. */
void report_wakeups(const RpContext *c, const cJSON *loops, cJSON *findings);
/* Separate stretches a second of loop thread ti's samples in asyncio's selector callbacks (socket events). */
double report_socket_events_per_second(const RpContext *c, uint32_t ti);
/* c may be NULL (no profile): spikes are then not lined up with code. */
cJSON *report_series(const ReportSeries *s, const RpContext *c, bool idle_scenario, cJSON *findings);

/* The function (its busiest line) where thread works most, by rp_own_frame; SS_NONE when it never works. */
uint32_t report_thread_top_frame(const RpContext *c, uint32_t thread, double *ret_seconds);

/* ---- --vs: what changed between two sessions (report-vs.c) ---- */
typedef struct VsSide VsSide;

/* What a comparison needs from one session; c and csv may be NULL. NULL when out of memory. */
VsSide *report_vs_side(const RpContext *c, const cJSON *csv, const char *label);
void report_vs_side_free(VsSide *s);
/* Threads and functions whose share changed most, and the CSV figures side by side. */
cJSON *report_vs(const VsSide *now, const VsSide *other);
