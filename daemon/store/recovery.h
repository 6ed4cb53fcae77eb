/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "stats.h"
#include "time-util.h"

typedef struct Recovery Recovery;

/*
 * At start: a record left "running" means the daemon died mid-session. Mark
 * it "interrupted", keep its files, count the rows that reached the CSV,
 * recompute the summary from them, and bring _session.json up to date where
 * the output directory can still be reached without following a symlink.
 * Profiles the sampler may still be writing are collected stop_timeout later,
 * by a timer on event; the Recovery holds it until freed.
 */
int recovery_run(sd_event *event, int records_fd, int staging_fd, usec_t stop_timeout, Recovery **ret);
Recovery *recovery_free(Recovery *r);
/* How many sessions it found interrupted (records left "running"). */
size_t recovery_interrupted(const Recovery *r);

/*
 * What reached a session's _cpu.csv before the daemon died, read as the plot and the report read
 * it: the whole rows (the last one, cut short, is left out; an empty cell is a figure not
 * measured, and the row still counts), added to stats, and the last elapsed_seconds. 0;
 * -ENODATA (no header); -EBADMSG (not a CPU CSV); -EIO, -ENOMEM.
 */
int recovery_csv_tally(FILE *f, size_t *ret_rows, SessionStats *stats, double *ret_last);
