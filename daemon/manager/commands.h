/* SPDX-License-Identifier: MIT */
#pragma once

#include "control.h"
#include "protocol.h"

typedef struct Manager Manager;

/* Authorises and runs a validated request; answers on c now or later. Takes dir_fd. */
void commands_dispatch(Manager *m, Connection *c, const Request *req, int dir_fd);

/* The connection is going away: drop anything that would answer it later. */
void commands_forget_connection(Manager *m, Connection *c);

/* PAM appeared: a start that waited for it may go on. */
void commands_target_found(Manager *m);

/* Cancel a waiting start (daemon shutdown). */
void commands_cancel_pending(Manager *m, const char *why);

/* Deletions under way stop where they are (daemon shutdown); their clients get no answer. */
void deletes_cancel(Manager *m);

/* May this peer run privileged commands? */
bool peer_is_allowed(const Manager *m, const Connection *c);
