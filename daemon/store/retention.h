/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Retention: the oldest sessions go when there are more than keep_sessions or they take
 * more than keep_mb, never the running one. The decision is a pure function over a
 * snapshot (retention_plan); retention_apply() takes the snapshot and acts on the plan.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

typedef struct RetentionEntry {
        char id[128];
        double started; /* unix seconds; the oldest go first */
        uint64_t bytes; /* of its files that could be reached */
} RetentionEntry;

typedef enum RetentionWhy {
        RETENTION_KEEP,
        RETENTION_TOO_MANY, /* more than keep_sessions */
        RETENTION_TOO_BIG,  /* more than keep_bytes in all */
} RetentionWhy;

/*
 * e[] sorted oldest first, the running session left out. Fills ret_why[i] for each entry
 * and returns how many are to go: the oldest, one at a time, while more than keep_sessions
 * remain (0: no limit) or the remaining ones take more than keep_bytes (0: no limit).
 */
size_t retention_plan(const RetentionEntry *e, size_t n, unsigned keep_sessions, uint64_t keep_bytes,
                      RetentionWhy *ret_why);

/*
 * Applies keep_sessions and keep_mb to the records in records_fd; running_id (or NULL) stays.
 * The files go in a child (deletion.h): the loop does not wait for them. *rt is made on the
 * first call and kept by the caller; a call while a deletion runs has the plan made again after
 * it, with these limits and this running_id. 0 or -ENOMEM.
 */
typedef struct Retention Retention;
int retention_run(Retention **rt, sd_event *e, int records_fd, const char *running_id,
                  unsigned keep_sessions, unsigned keep_mb);
Retention *retention_free(Retention *rt);
