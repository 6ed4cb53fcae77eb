/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One profiling session: its files, its parts and its record.
 *
 * A session owns "parts" behind one interface (SessionPartOps): the monitor
 * (the sampler writing _cpu.csv and _threads.csv) now, the profiler child
 * (py-spy) next. The session tells every part when the target goes or comes
 * back and when to stop; a part that stops asynchronously (a child that must
 * write its file) calls session_part_stopped() when done. When every part
 * has stopped the session finalises: fsync, the plot, the last record.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include <cjson/cJSON.h>

#include "protocol.h"
#include "sample.h"
#include "stats.h"
#include "time-util.h"
#include "watcher.h"

typedef struct Session Session;

typedef enum SessionState {
        SESSION_RUNNING,
        SESSION_STOPPING,
        SESSION_STOPPED,
        SESSION_INTERRUPTED,
        SESSION_FAILED,
        SESSION_CAPTURED, /* a flight recorder capture, ended and whole */
        _SESSION_STATE_MAX,
} SessionState;

const char *session_state_to_string(SessionState s);

typedef struct SessionOptions {
        char scenario[PAMPROF_SCENARIO_MAX + 1];
        usec_t interval;
        usec_t duration; /* 0: until stopped */
        pid_t pid;       /* explicit target; 0: PAM from the watcher */
        bool include_children;
        bool monitor;
        bool profile;
        unsigned rate;
        bool idle, nonblocking, native, subprocesses, gil; /* py-spy's flags */
        char profiler[16]; /* the sampler's name (profiler.h); checked at start */
        /* A flight recorder capture: its clock starts `backdate` before it is created (the window
         * it holds), and it ends as "captured". */
        bool capture;
        usec_t backdate;
} SessionOptions;

/* Who asked, from SO_PEERCRED. */
typedef struct Requester {
        uid_t uid;
        gid_t gid;
        pid_t pid;
} Requester;

typedef struct SessionPartOps {
        const char *name;
        int (*start)(Session *s, void **ret_state);
        /* new_pid 0: the target is gone; old_pid 0: it is (back) here */
        void (*target_changed)(Session *s, void *state, pid_t old_pid, pid_t new_pid);
        /* Begin stopping; call session_part_stopped() when done (may be at once). */
        void (*stop)(Session *s, void *state);
        /* Live figures for status and the record. */
        void (*describe)(Session *s, void *state, cJSON *into);
        void (*free)(void *state);
} SessionPartOps;

typedef struct SessionFile {
        const char *key; /* "cpu_csv" */
        char name[256];  /* file name in the output dir; "" if none */
} SessionFile;

typedef void (*SessionDoneFunc)(Session *s, void *userdata);

/*
 * What a session is given, instead of reaching for its owner: the loop, the descriptors and
 * the limits in force when it started (copied: a reload meanwhile does not change a session).
 */
typedef struct SessionEnv {
        sd_event *event;
        int proc_fd, staging_fd, records_fd; /* the daemon's; not owned */
        const char *state_dir;               /* its staging/ holds the runs' raw files */
        const char *target_match;            /* for the record, when PAM is found by it */
        const Watcher *watcher;              /* PAM's command line, for the record (or NULL) */
        const char *profiler_path;           /* the configured executable of o->profiler, or "" */
        usec_t stop_timeout, chunk, pss_interval;
        unsigned max_profile_mb, min_free_mb;
        bool threads;
        /* pyroscope_url is set: the profile is spooled at stop into upload_fd (state_dir/upload, the
         * daemon's; not owned), which keeps at most upload_spool_mb. */
        bool upload;
        int upload_fd;
        unsigned upload_spool_mb;
        /* The parts to run, NULL-terminated; NULL: the monitor and the profiler, as the options
         * ask (a test hands in parts of its own). */
        const SessionPartOps *const *parts;
        void *part_data; /* for such parts: session_env(s)->part_data */
} SessionEnv;

/* How a session talks up: it has ended (and may be freed once this returns to the loop), or its
 * figures changed (status words). */
typedef struct SessionOwner {
        void (*finished)(Session *s, void *userdata);
        void (*changed)(Session *s, void *userdata);
        void *userdata;
} SessionOwner;

/*
 * Creates the files in dir_fd (taken over) and starts every part. On failure
 * returns -errno with a sentence for the client in *ret_error.
 */
int session_start(const SessionEnv *env, const SessionOwner *owner, const SessionOptions *o,
                  const Requester *who, int dir_fd, const char *dir_path, uid_t file_uid, gid_t file_gid,
                  pid_t target_pid, Session **ret, char **ret_error);

/* Ask it to stop; done(s, userdata) runs once it is final (maybe at once). */
int session_stop(Session *s, const char *reason, SessionDoneFunc done, void *userdata);
int session_add_stop_waiter(Session *s, SessionDoneFunc done, void *userdata); /* 0 or -ENOMEM */
void session_remove_stop_waiter(Session *s, void *userdata);

Session *session_free(Session *s);

/* From the manager, when the watcher reports PAM. */
void session_target_lost(Session *s, pid_t pid);
void session_target_found(Session *s, pid_t pid);

/* Parts' interface to their session. */
void session_part_stopped(Session *s, void *state);
/* An event for the journal and the record, which keeps the first EVENTS_FIRST and the last
 * EVENTS_LAST (the one before the gap says how many it left out, as "omitted_after"). */
#define EVENTS_FIRST 16
#define EVENTS_LAST 16
void session_event(Session *s, const char *type, pid_t pid, const char *fmt, ...) _printf_(4, 5);
int session_create_file(Session *s, const char *key, const char *suffix, int *ret_fd);
void session_fail(Session *s, int error, const char *what);

/* Accessors. */
const char *session_id(const Session *s);
const SessionOptions *session_options(const Session *s);
SessionState session_state(const Session *s);
pid_t session_target_pid(const Session *s);
/* The profiler child's pid while one runs (for its own CPU and memory), else 0. */
pid_t session_profiler_pid(const Session *s);
const SessionEnv *session_env(const Session *s);
/* Tells the owner the session's figures changed. */
void session_changed(Session *s);
sd_event *session_event_loop(const Session *s);
usec_t session_start_mono(const Session *s);
int session_dir_fd(const Session *s);
/* Wall-clock start and end (0 while it runs). */
usec_t session_start_real(const Session *s);
usec_t session_end_real(const Session *s);
/* Who the session's files belong to ((uid_t) -1: the daemon). */
uid_t session_file_uid(const Session *s);
gid_t session_file_gid(const Session *s);

/* The record: what _session.json holds. Caller frees. */
cJSON *session_to_json(const Session *s);
/* The short live form for status. */
cJSON *session_status_json(const Session *s);
/* ", 83 rows, py-spy ok" for systemctl status. */
void session_status_words(const Session *s, char *buf, size_t size);
/* The files of the session, for replies. */
cJSON *session_files_json(const Session *s);
