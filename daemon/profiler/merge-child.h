/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A session's runs into its one speedscope file (profile-merge.h), in an
 * unprivileged child (child.h): the runs' strings are PAM's, and a run may be
 * hundreds of MB, so neither the daemon's rights nor its event loop go near
 * them. The child gets only the descriptors the daemon opened for it: the
 * staged runs and the output. At stop and when an interrupted session is
 * recovered.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include <cjson/cJSON.h>

#include "profile-merge.h"
#include "time-util.h"

typedef struct MergeChild MergeChild;

/* A merge of max_profile_mb (300 MB) takes well under a minute here; a Pi is several times slower. */
#define MERGE_TIMEOUT (10 * 60 * USEC_PER_SEC)

typedef struct MergeSpec {
        const MergeInput *in; /* the descriptors stay the caller's: close them once started */
        size_t n;
        int out_fd;       /* the caller's, empty; it removes the file when the merge fails */
        bool copy_single; /* one input: copied byte for byte (its facts read), not rewritten */
        const char *sampler;
        cJSON *threads; /* the caller's array: the profiles' names are added to it at done() */
        uid_t uid;      /* the child runs as the output's owner ((uid_t) -1 or root: nobody) */
        gid_t gid;
} MergeSpec;

/* From the loop: the merge's result (facts.threads is the spec's array), and the child's sentence. */
typedef void (*MergeDoneFunc)(int r, const MergeFacts *facts, const char *error, void *userdata);

/* Starts the child and returns at once; a negative return means no done(). */
int merge_child_start(sd_event *e, const MergeSpec *spec, MergeDoneFunc done, void *userdata,
                      MergeChild **ret);

/* Cancels one that still runs; NULL. */
MergeChild *merge_child_free(MergeChild *m);
