/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The profiler backend: what differs between samplers (py-spy now, others
 * later) behind one table — where to find it, its version, its command
 * line, how to stop it and how long to give it, and how to judge what it
 * left. The session's profiler part (session-profiler.c) runs any backend.
 */

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "time-util.h"

typedef struct ProfilerRequest {
        pid_t pid;
        unsigned rate;
        bool idle, nonblocking, native, subprocesses, gil;
        const char *output;        /* absolute path of the staged file */
} ProfilerRequest;

typedef struct ProfileCheck {
        size_t size;
        bool complete;             /* the file is a whole speedscope document */
        char reason[160];          /* why not */
} ProfileCheck;

typedef struct ProfilerBackend {
        const char *name;          /* "py-spy" */
        const char *binary;        /* looked up on PATH and in PAM's virtualenv */
        const char *install_hint;  /* a sentence: how to get it */
        int stop_signal;           /* the signal that makes it write its file */
        /* argv for one run; *ret is a NULL-terminated, malloc'd vector of malloc'd strings */
        int (*build_argv)(const char *path, const ProfilerRequest *req, char ***ret);
} ProfilerBackend;

extern const ProfilerBackend pyspy_backend;

/*
 * Finds the backend's executable: the configured path, else PATH, else next
 * to PAM's interpreter (its virtualenv's bin/). *ret_path malloc'd; *ret_where
 * says how it was found. -ENOENT with the places looked at in *ret_looked.
 */
int profiler_find(const ProfilerBackend *b, const char *configured, int proc_fd, pid_t target, char **ret_path,
                  char **ret_looked);

/* "py-spy 0.3.14" from `PATH --version`, cached per executable. Blocks up to 3 s, once. */
int profiler_version(const char *path, char *buf, size_t size);

/* Is fd a complete speedscope document? Reads the head and the tail only. */
void profile_check_fd(int fd, ProfileCheck *ret);

void strv_free(char **v);
