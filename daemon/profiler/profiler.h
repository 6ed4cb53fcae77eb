/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The profiler backends: what differs between samplers (py-spy, Austin)
 * behind one table — where to find it, its version, its command line, how
 * to stop it and how long to give it, how to judge what a run left, and how
 * to turn that into a speedscope document. The session's profiler part
 * (session-profiler.c) runs any backend of the table: adding one adds a
 * ProfilerBackend, a row in profiler_backends[] and its config key, and
 * touches no session code.
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "time-util.h"

typedef struct ProfilerRequest {
        pid_t pid;
        unsigned rate;
        bool idle, nonblocking, native, subprocesses, gil;
        const char *output; /* absolute path of the staged file */
} ProfilerRequest;

typedef struct ProfileCheck {
        size_t size;
        bool complete;    /* the file is a whole speedscope document */
        char reason[160]; /* why not */
} ProfileCheck;

typedef enum ProfileVerdict {
        PROFILE_OK,      /* a complete file */
        PROFILE_PARTIAL, /* a file cut short that is usable up to a point (its reason says so) */
        PROFILE_FAILED,  /* it ended without a usable file */
        PROFILE_LOST,    /* killed after the grace period, nothing usable */
} ProfileVerdict;

/* How a run ended, for the backend's judge. */
typedef struct ProfilerExit {
        pid_t target;
        int code;              /* exit status; -1 when a signal ended it */
        int signal;            /* the signal that ended it, or 0 */
        bool stop_sent;        /* the daemon sent stop_signal (a stop or a chunk's end) */
        bool killed;           /* the daemon SIGKILLed it when the grace period was over */
        double grace;          /* seconds it had after stop_signal */
        const char *last_line; /* its last line of output, or "no output" */
        bool target_alive;     /* the target still ran when it ended (the daemon asked its pidfd) */
} ProfilerExit;

typedef struct ProfileJudgement {
        ProfileVerdict verdict;
        size_t size;
        char reason[320]; /* why not ok; for a partial file, what is kept; for ok, a note or "" */
        bool final;       /* another run would fail the same way (not Python, no permission): no restart */
        bool no_target;   /* it said the target was not there (to read): if it has exited, that is why */
} ProfileJudgement;

/* A run's output to convert (all descriptors the caller's). */
typedef struct ProfileConvertInput {
        int raw_fd;          /* the run's output, from offset 0 */
        int names_fd;        /* "pid tid name" lines recorded while it ran, or -1 */
        int out_fd;          /* the speedscope document goes here */
        int spool_fd;        /* an empty scratch file, or -1 */
        bool subprocesses;   /* name profiles "Process P Thread T", as py-spy does then */
        const char *version; /* the backend's version, for "exporter" */
} ProfileConvertInput;

typedef struct ProfileConvertResult {
        int r;
        uint64_t bytes, bytes_used, samples, bad_lines;
        uint64_t garbage_samples; /* left out: their thread id was no thread's (a failed read) */
        size_t profiles, frames;
        bool cut;          /* converted up to its last whole line */
        char message[200]; /* why it failed */
} ProfileConvertResult;

typedef struct ProfilerBackend {
        const char *name;          /* "py-spy", as the config and the client name it */
        const char *display;       /* "Austin": as sentences, the plot and the events name it */
        const char *binary;        /* looked up on PATH and in PAM's virtualenv */
        const char *install_hint;  /* a sentence: how to get it */
        const char *path_key;      /* the config key that names the executable ("pyspy_path") */
        int stop_signal;           /* the signal that makes it finish its file */
        usec_t grace;              /* the most it needs after stop_signal; 0: stop_timeout */
        const char *output_suffix; /* its staged output: ID.N.<suffix> */
        bool thread_names;         /* its output has thread ids only: record names from /proc as it runs */
        const char *output_noise;  /* output lines so started are never "the last line" (py-spy's Visit) */
        /* NULL, or the sentence why these options cannot be honoured */
        const char *(*check_options)(const ProfilerRequest *req);
        /* argv for one run; *ret is a NULL-terminated, malloc'd vector of malloc'd strings */
        int (*build_argv)(const char *path, const ProfilerRequest *req, char ***ret);
        /* Judges a finished run by its file (fd -1: none) and how it ended. */
        void (*judge)(int fd, const ProfilerExit *e, ProfileJudgement *ret);
        /* Its output to a speedscope document; NULL: the output already is one. */
        int (*convert)(const ProfileConvertInput *in, ProfileConvertResult *ret);
} ProfilerBackend;

extern const ProfilerBackend pyspy_backend;
extern const ProfilerBackend austin_backend;

/* Every backend, NULL-terminated; the first is the default. */
extern const ProfilerBackend *const profiler_backends[];

/* By name; NULL when there is none. */
const ProfilerBackend *profiler_backend_find(const char *name);
/* "py-spy or austin", for messages. */
const char *profiler_backend_names(void);

/* Is name a backend that can honour these options? -EINVAL with a sentence for the client. */
int profiler_check_choice(const char *name, const ProfilerRequest *q, char *why, size_t size);

/*
 * Finds the backend's executable: the configured path, else PATH, else next
 * to PAM's interpreter (its virtualenv's bin/). *ret_path malloc'd; *ret_where
 * says how it was found. -ENOENT with the places looked at in *ret_looked.
 */
int profiler_find(const ProfilerBackend *b, const char *configured, int proc_fd, pid_t target,
                  char **ret_path, char **ret_looked);

/*
 * "py-spy 0.3.14" from `PATH --version`, as the last probe of this executable (this path, inode
 * and mtime) found it: 0; -ENOEXEC when it did not run or did not exit 0, with what it said in
 * buf (an error, never to be taken for a version); -EIO when it said nothing; -EAGAIN when it
 * was not asked yet: version_probe_start() asks it, in a child (up to 3 s), and calls done.
 */
int profiler_version(const char *path, char *buf, size_t size);

typedef struct VersionProbe VersionProbe;
typedef void (*VersionDoneFunc)(void *userdata);
int version_probe_start(sd_event *e, const char *path, VersionDoneFunc done, void *userdata,
                        VersionProbe **ret);
/* Before done: cancels (no done). After done it is gone already. */
VersionProbe *version_probe_free(VersionProbe *v);

/* Is fd a complete speedscope document? Reads the head and the tail only. */
void profile_check_fd(int fd, ProfileCheck *ret);

/* Staged file names of run n (1-based) of session id. */
void profiler_staged_name(const char *id, size_t n, const char *suffix, char *buf, size_t size);

void strv_free(char **v);
int strv_push(char ***v, size_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
