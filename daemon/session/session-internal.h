/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside the session: its state, shared by session.c (its life: start, parts, stop, the steps
 * of the stop) and session-record.c (what it says of itself: the record, status, events, its
 * files and its ID).
 */

#include <cjson/cJSON.h>

#include "log.h"
#include "pidwatch.h"
#include "session-parts.h"
#include "session.h"

#define SESSION_PARTS_MAX 4

typedef struct SessionPart {
        const SessionPartOps *ops;
        void *state;
        bool stopped;
} SessionPart;

typedef struct StopWaiter {
        SessionDoneFunc done;
        void *userdata;
} StopWaiter;

struct Session {
        SessionEnv env; /* its strings are the session's own copies */
        SessionOwner owner;
        char id[128];
        SessionOptions o;
        Requester who;
        SessionState state;
        char *end_reason;

        int dir_fd;
        char *dir_path;
        dev_t dir_dev;
        ino_t dir_ino;
        uid_t file_uid;
        gid_t file_gid;

        usec_t start_mono, start_real, end_mono, end_real;
        pid_t target_pid;       /* 0 while PAM is absent */
        char *target_cmdline;   /* an explicit --pid's, read at start (PAM's comes from the watcher) */
        PidWatch *target_watch; /* explicit --pid only */
        sd_event_source *duration_timer;

        cJSON *events;
        cJSON *memory_trend; /* the report's memory verdict, once it is made */
        SessionFile files[8];
        size_t n_files;
        SessionPart parts[SESSION_PARTS_MAX];
        size_t n_parts;
        StopWaiter *waiters; /* as many as clients wait; control bounds the clients */
        size_t n_waiters;
        bool finalised; /* finalising has begun */
        bool ended;     /* its files and record are final: waiters are answered at once */
        int failure;    /* first write error, -errno */
        /* The steps of the stop that run in children, while one runs. */
        Render *render;
        SessionReport *report;
        SessionSpool *spool;
};

/* session-record.c */
LogFields session_fields(const Session *s, const char *event, pid_t pid);
void session_add_time(cJSON *o, const char *key, usec_t realtime); /* ISO 8601, or null */
int session_pick_id(Session *s);
