/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include <systemd/sd-event.h>

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
