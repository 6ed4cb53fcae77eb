/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The control socket (OpenBSD's control.c): accepts clients, reads one
 * request datagram at a time, validates it, and hands it to the command
 * handlers; moves replies back. Identity comes from SO_PEERCRED and
 * SO_PEERGROUPS, never from what a client says.
 */

#include <stdbool.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "protocol.h"
#include "time-util.h"

typedef struct Control Control;
typedef struct Connection Connection;

typedef struct ControlCounters {
        unsigned long accepted, refused, requests, errors, dropped;
        unsigned connections;
} ControlCounters;

/*
 * How control talks up: it knows nobody above it. request() gets every validated request and
 * takes dir_fd; it answers with exactly one connection_reply_*(), now or later (holding a
 * reference). disconnected() says c is closing: drop whatever would answer it later.
 */
typedef struct ControlOps {
        void (*request)(void *userdata, Connection *c, const Request *req, int dir_fd);
        void (*disconnected)(void *userdata, Connection *c);
} ControlOps;

typedef struct ControlOptions {
        const char *socket;       /* created there, unless listen_fd is given */
        int listen_fd;            /* a socket from systemd, or -1 */
        unsigned max_connections; /* past it, a client gets a "busy" reply and is closed */
        usec_t idle_usec;         /* a client silent this long is dropped; 0: 30 s */
        gid_t gid;                /* with gid_valid: the socket's group and mode 0660; else 0666 */
        bool gid_valid;
        const char *group_name; /* for messages */
} ControlOptions;

int control_new(sd_event *event, const ControlOptions *o, const ControlOps *ops, void *userdata,
                Control **ret);
Control *control_free(Control *c);
void control_counters(const Control *c, ControlCounters *ret);
const char *control_path(const Control *c);

/* Peer identity. */
uid_t connection_uid(const Connection *c);
gid_t connection_gid(const Connection *c);
pid_t connection_pid(const Connection *c);
size_t connection_groups(const Connection *c, const gid_t **ret);

/* Replies; the connection may be answered later (stop waits for files). */
int connection_reply_ok(Connection *c, cJSON *result);
int connection_reply_error(Connection *c, ProtoError code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
Connection *connection_ref(Connection *c);
Connection *connection_unref(Connection *c);
