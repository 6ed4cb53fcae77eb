/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The flight recorder (recorder = on): while PAM runs it keeps the last
 * window of the sampler's rows (its own sampler, every second) and of
 * Austin's stacks (Austin streaming into the aggregator child, aggregator.h),
 * and when a trigger fires (trigger.h) or a snapshot is asked for, it saves
 * [trigger - before, trigger + after] as a session of its own (state
 * "captured"): the CSVs from the rows, the profile from the aggregator, then
 * the plot, the report and the spool as any session's.
 *
 * Owned by the manager, which hands it what a session needs (prepare) and
 * tells it when PAM comes and goes and when a user's session profiles PAM
 * (the recorder's Austin pauses meanwhile; its rows go on).
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include <cjson/cJSON.h>

#include "session.h"
#include "time-util.h"
#include "trigger.h"

typedef struct Recorder Recorder;

typedef struct RecorderOptions {
        int proc_fd;
        usec_t window, after;
        unsigned rate;           /* Austin's, Hz; 0: no stacks, rows only */
        const char *austin_path; /* configured, or "": PATH, then PAM's virtualenv */
        TriggerConfig triggers;
        bool threads;
} RecorderOptions;

typedef struct RecorderCallbacks {
        /* Fills what a capture's session needs (its strings borrowed until session_start returns) and
         * opens the output directory: 0, or -errno with the reason logged. */
        int (*prepare)(void *userdata, SessionEnv *env, int *ret_dir_fd, const char **ret_path);
        /* A capture has been written (or failed), for metrics and retention. */
        void (*captured)(void *userdata, const char *trigger, SessionState state);
        void *userdata;
} RecorderCallbacks;

int recorder_new(sd_event *e, const RecorderOptions *o, const RecorderCallbacks *cb, Recorder **ret);
Recorder *recorder_free(Recorder *r);

void recorder_target_found(Recorder *r, pid_t pid);
void recorder_target_lost(Recorder *r, pid_t pid);

/* A user's session profiles PAM (its own sampler): the recorder's Austin stops until resume. */
void recorder_pause(Recorder *r, const char *why);
void recorder_resume(Recorder *r);

typedef void (*RecorderSnapshotDone)(Session *capture, void *userdata);
/* A manual capture of [now - before, now + after]; done() once its files are final. 0, or -errno
 * with a sentence for the client. */
int recorder_snapshot(Recorder *r, usec_t before, usec_t after, const char *scenario, const Requester *who,
                      RecorderSnapshotDone done, void *userdata, char **ret_error);
void recorder_forget_waiter(Recorder *r, void *userdata);

cJSON *recorder_status_json(Recorder *r);
/* "recorder holding 120s, 0 captures in the last hour" for STATUS= */
void recorder_status_words(Recorder *r, char *buf, size_t size);
/* The IDs of captures still being written (retention keeps them). */
const char *recorder_busy_id(const Recorder *r);
