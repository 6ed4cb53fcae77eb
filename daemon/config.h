/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's configuration: /etc/pamprofd/pamprofd.conf, "key = value"
 * lines, '#' comments. Every key has a default and a command-line flag
 * (--key-with-dashes) that overrides the file. Read-only once the daemon runs.
 */

#include <stdbool.h>
#include <stdio.h>

#include "time-util.h"

typedef struct Config {
        char *socket;         /* control socket path */
        char *output_dir;     /* where sessions go without --output */
        char *state_dir;      /* the daemon's records and staging */
        char *target_match;   /* POSIX extended regex over PAM's command line */
        char *target_unit;    /* or: PAM is this systemd unit's MainPID */
        char *allowed_group;  /* who besides root may start and stop */
        char *pyspy_path;     /* empty: PATH, then PAM's venv */
        char *austin_path;    /* empty: PATH, then PAM's venv */
        char *profiler;       /* the default sampler: py-spy or austin */
        char *proc_root;      /* /proc, or a fixture tree in tests */
        usec_t interval;      /* default sampling interval */
        usec_t max_duration;  /* cap on a session's length; 0: none */
        usec_t scan_interval; /* how often to look for PAM while it is absent */
        usec_t pss_interval;  /* how often to read smaps_rollup; 0: never */
        usec_t stop_timeout;  /* SIGINT to SIGKILL for the profiler */
        usec_t chunk;         /* restart py-spy this often; 0: one run per PAM pid */
        unsigned
                max_profile_mb; /* no new run once the next would pass this (speedscope chokes on ~375 MB) */
        unsigned rate;          /* py-spy's default sampling rate */
        unsigned max_connections;
        unsigned min_free_mb;   /* below this much free space a session does not start, or stops */
        unsigned keep_sessions; /* retention: at most this many sessions; 0: no limit */
        unsigned keep_mb;       /* retention: at most this much in all; 0: no limit */
        bool threads;           /* write the per-thread CSV */

        /* pamprofd.prom for node_exporter's textfile collector (empty: off), and how often it is
         * rewritten while no session samples. */
        char *metrics_dir;
        usec_t metrics_interval;
        /* Pyroscope (daemon/upload/): the daemon spools, pamprofd-upload sends; "" url: off */
        char *pyroscope_url;
        char *pyroscope_token_file; /* a bearer token, read by the uploader; "": none */
        char *pyroscope_tenant;     /* X-Scope-OrgID; "": none */
        unsigned upload_spool_mb;   /* the spool's bound: the oldest profiles go first */

        /* The flight recorder (daemon/recorder/): off unless recorder = on. */
        bool recorder;
        usec_t recorder_window, recorder_after, recorder_cooldown;
        unsigned recorder_rate;        /* Austin's, Hz; 0: rows only */
        unsigned recorder_cpu_percent; /* % of one core; 0: off */
        unsigned recorder_cpu_samples;
        unsigned recorder_cpu_rearm_percent;
        unsigned recorder_rss_mb;       /* 0: off */
        unsigned recorder_threads_jump; /* 0: off */
        bool recorder_on_exit;
        unsigned recorder_max_per_hour; /* 0: no limit */
} Config;

/* Fills defaults. */
int config_init(Config *c);
void config_done(Config *c);

/*
 * Parses a configuration file text. On error returns -EINVAL with
 * "file:line: reason" in *ret_error (malloc'd).
 */
int config_parse(Config *c, const char *filename, const char *text, char **ret_error);

/* Loads a file; a missing file is fine when !required. */
int config_load(Config *c, const char *path, bool required, char **ret_error);

/* Sets one key from a flag or a file value; -EINVAL/-ENOENT with a reason. */
int config_set(Config *c, const char *key, const char *value, char **ret_reason);

/* Final checks across keys (regex compiles, paths absolute). */
int config_verify(const Config *c, char **ret_error);

/* The Pyroscope keys alone (config_verify checks them too; pamprofd-upload reads only those). */
int config_verify_pyroscope(const Config *c, char **ret_error);

/* Writes the effective configuration in the file's own syntax. */
void config_dump(const Config *c, FILE *f);

/* Where a configuration comes from: the file, then flags (by key index). Kept for reloads. */
#define CONFIG_KEYS_MAX 64
typedef struct ConfigSource {
        const char *path;
        bool required;                       /* --config given: a missing file is an error */
        const char *values[CONFIG_KEYS_MAX]; /* flag values, NULL where not given */
} ConfigSource;

/* Defaults, file, flags, checks, in that order; logs what is wrong. */
int config_load_source(const ConfigSource *src, Config *ret);

/* Table access for building the daemon's long options and man page. */
typedef struct ConfigKeyInfo {
        const char *key;
        const char *flag; /* "output-dir" */
        const char *metavar;
        const char *help;
} ConfigKeyInfo;
size_t config_keys(const ConfigKeyInfo **ret);
/* A string or path key's value by its name ("" when unset or not such a key): a backend's
 * executable by its path_key, say. */
const char *config_string(const Config *c, const char *key);
