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

#include "protocol.h"

typedef struct Manager Manager;
typedef struct Control Control;
typedef struct Connection Connection;

typedef struct ControlCounters {
        unsigned long accepted, refused, requests, errors, dropped;
        unsigned connections;
} ControlCounters;

/* listen_fd >= 0: a socket from systemd; else the daemon creates config.socket. */
int control_new(Manager *m, int listen_fd, Control **ret);
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
bool connection_is_open(const Connection *c);
