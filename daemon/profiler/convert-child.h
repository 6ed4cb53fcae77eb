/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A run's output in a backend's own format (Austin's text) to speedscope,
 * in an unprivileged child (child.h): the daemon opens the files (the raw
 * output, the thread names, a temporary output, a nameless scratch file)
 * in its private staging directory, the child converts with those
 * descriptors only, and the daemon renames the output into place when the
 * child is done. As soon as a run ends, and for what a crash left behind.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "profiler.h"

typedef struct ConvertChild ConvertChild;

typedef struct ConvertSpec {
        const ProfilerBackend *backend; /* one with a converter */
        int staging_fd;
        const char *raw_name;   /* its output */
        const char *names_name; /* thread names recorded while it ran; NULL or missing: none */
        const char *out_name;   /* whole or absent: written under a temporary name first */
        bool subprocesses;
        const char *version; /* the backend's, for "exporter"; NULL: none */
        bool remove_inputs;  /* once converted, the raw output and the names go (in a child too) */
} ConvertSpec;

/* From the loop. res->message says why it failed (the child's own words, or how it died). */
typedef void (*ConvertDoneFunc)(const ProfileConvertResult *res, void *userdata);

/* Starts the child and returns at once; a negative return (no input, no child) means no done(). */
int convert_child_start(sd_event *e, const ConvertSpec *spec, ConvertDoneFunc done, void *userdata,
                        ConvertChild **ret);
ConvertChild *convert_child_free(ConvertChild *c);

typedef struct Leftovers Leftovers;

/* How many of the session's leftovers are now speedscope files. */
typedef void (*LeftoversDoneFunc)(size_t converted, void *userdata);

/*
 * After a crash: converts the staged outputs of session id that a backend with a converter
 * left (Austin finishes its file on the parent-death SIGINT) into ID.N.speedscope.json, one
 * child after the other, for recovery to merge. Returns how many are to be converted: 0 (none,
 * or an error) means no done().
 */
int leftovers_convert_start(sd_event *e, int staging_fd, const char *id, LeftoversDoneFunc done,
                            void *userdata, Leftovers **ret);
Leftovers *leftovers_free(Leftovers *l);
