/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The recorder's aggregator: a long-lived, unprivileged child (child.h) that
 * reads Austin's text from a stream socket, parses it (PAM controls every
 * frame name) and keeps the last seconds of stacks in a stack ring
 * (common/recorder/stack-ring.h), stamping each line with the second it was
 * read. The daemon talks to it over a SOCK_SEQPACKET socketpair, one fixed
 * request and one fixed reply, in order: "write seconds [a, a+n) as
 * speedscope into this file" (the descriptor passed by SCM_RIGHTS) and "how
 * much do you hold". Nothing it says is trusted beyond its size.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "stack-ring.h"

typedef struct Aggregator Aggregator;

#define AGG_NAMES_MAX 256

typedef struct AggName {
        int32_t tid;
        char name[17];
} AggName;

typedef struct AggReply {
        int32_t r;
        StackRingStats stats;
        StackRingWriteFacts facts;
        char error[200];
} AggReply;

/* reply NULL: the aggregator is gone (the request was lost with it). */
typedef void (*AggDoneFunc)(const AggReply *reply, void *userdata);
/* The child ended (crashed, killed): the recorder may start another. */
typedef void (*AggGoneFunc)(void *userdata, const char *why);

int aggregator_start(sd_event *e, unsigned seconds, AggGoneFunc gone, void *userdata, Aggregator **ret);
Aggregator *aggregator_free(Aggregator *a);

/* Where Austin writes (stdout): the daemon's end of the stream. */
int aggregator_stream_fd(const Aggregator *a);
pid_t aggregator_pid(const Aggregator *a);
/* The last stats it sent (zeros before any). */
const StackRingStats *aggregator_last_stats(const Aggregator *a);

/* Asks for seconds [first, first + n) (threads named as pid's) written into out_fd (not taken),
 * opening on thread focus_tid (0: the first). */
int aggregator_write(Aggregator *a, uint64_t first, unsigned n, pid_t pid, pid_t focus_tid,
                     const AggName *names, size_t n_names, int out_fd, AggDoneFunc done, void *userdata);
int aggregator_stats(Aggregator *a);
/* Forgets the done callbacks of userdata (a capture that went away). */
void aggregator_forget(Aggregator *a, void *userdata);
