/* SPDX-License-Identifier: MIT */
#pragma once

typedef struct Manager Manager;
typedef struct Recovery Recovery;

/*
 * At start: a record left "running" means the daemon died mid-session. Mark
 * it "interrupted", keep its files, count the rows that reached the CSV,
 * recompute the summary from them, and bring _session.json up to date where
 * the output directory can still be reached without following a symlink.
 */
void recovery_run(Manager *m);
Recovery *recovery_free(Recovery *r);
