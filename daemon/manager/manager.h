/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's one state object, passed explicitly (no globals beyond
 * configuration and logging). It owns the event loop and the pieces that
 * hang off it: the control socket, the target watcher and at most one session.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>
#include <sys/types.h>

#include "config.h"
#include "session.h"
#include "time-util.h"

typedef struct Child Child;
typedef struct Control Control;
typedef struct Metrics Metrics;
typedef struct PendingStart PendingStart;
typedef struct Recovery Recovery;
typedef struct Recorder Recorder;
typedef struct Retention Retention;
typedef struct PendingDelete PendingDelete;

typedef struct Manager {
        sd_event *event;
        Config config;
        const ConfigSource *source; /* for SIGHUP: the file and flags the daemon started with */
        int proc_fd;                /* dirfd of config.proc_root */
        int state_fd;               /* dirfd of config.state_dir */
        int records_fd;             /* state_dir/sessions: one record per session */
        int staging_fd;             /* state_dir/staging: where py-spy writes, private to the daemon */
        int upload_fd;              /* state_dir/upload: the Pyroscope spool, once pyroscope_url is set */
        Control *control;
        Watcher *watcher;
        Session *session;  /* NULL when idle */
        Session *finished; /* stopped, freed on the next loop iteration */
        SessionOwner session_owner;
        sd_event_source *reap_source;
        PendingStart *pending;         /* a start waiting for PAM to appear */
        Recovery *recovery;            /* profiles of interrupted sessions still to collect */
        Retention *retention;          /* the oldest sessions going, in a child */
        PendingDelete *deletes[8];     /* `pamprofctl delete`s under way, each in a child */
        sd_event_source *status_timer; /* STATUS= refresh while recording */
        gid_t allowed_gid;             /* config.allowed_group, looked up at start and on reload */
        bool allowed_gid_valid;
        Child *group_lookup;  /* a reload's lookup, while it runs */
        char *group_old_name; /* the group's name before that reload */
        usec_t started_mono;
        bool exiting;
        unsigned sessions_started;
        Metrics *metrics;   /* pamprofd.prom in config.metrics_dir; NULL: off */
        Recorder *recorder; /* the flight recorder; NULL: recorder = off */
} Manager;

/* What a session needs from the daemon (a start and the recorder's captures): profiler_path is
 * the recorder's Austin; a start sets the one its profiler is configured with. */
void manager_session_env(Manager *m, SessionEnv *ret);

/* state_dir/upload (and its rejected/), created for pamprofd-upload's group when pyroscope_url is
 * first set: the descriptor, or -1 when off or it cannot be (logged). */
int manager_upload_fd(Manager *m);

/* Takes over config (its strings are freed with the manager). */
int manager_new(const Config *config, const ConfigSource *source, Manager **ret);
Manager *manager_free(Manager *m);
/* Opens directories, the socket, the watcher; recovers interrupted sessions. */
int manager_startup(Manager *m);
int manager_run(Manager *m);

/* What a session is told to call back: it ended; its figures changed. */
const SessionOwner *manager_session_owner(Manager *m);

/* Looks up config.allowed_group (in a child process, bounded) into allowed_gid. */
void manager_resolve_group(Manager *m, const char *old_name);
/* The same on a reload, in a child from the loop; the gid in force stays until it answers. */
void manager_resolve_group_async(Manager *m, const char *old_name);
/* manager-components.c: pamprofd.prom (when metrics_dir is set) and the flight recorder (when
 * recorder = on); without them the daemon runs on, and says so. */
void manager_start_metrics(Manager *m);
void manager_start_recorder(Manager *m);
/* The store's retention, with the running session (if any) kept. */
void manager_apply_retention(Manager *m);

/* Keeps `systemctl status` current (STATUS=). */
void manager_update_status(Manager *m);
