/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Inside the command face: the reply a handler fills (commands.c sends it, once) and the
 * handlers of the other files, by the commands they serve: starting and stopping sessions
 * (commands-session.c), the recorded sessions (commands-records.c).
 */

#include "commands.h"
#include "manager.h"

typedef struct CommandReply {
        ProtoError error; /* PROTO_OK: result is the answer */
        char *message;    /* the sentence of an error, for a person */
        cJSON *result;
        bool deferred; /* the handler answers later, on its own */
} CommandReply;

typedef void (*CommandHandler)(Manager *m, Connection *c, const Request *req, int dir_fd,
                               CommandReply *reply);

void reply_error(CommandReply *reply, ProtoError code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void reply_ok(CommandReply *reply, cJSON *result);
/* The one place a reply is sent for a request handled now. */
void reply_send(Connection *c, CommandReply *reply);

/* commands-session.c */
void cmd_start(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);
void cmd_stop(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);
void pending_forget_connection(Manager *m, Connection *c); /* a waiting start of c's goes */

/* commands-records.c */
void cmd_list(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);
void cmd_show(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);
void cmd_delete(Manager *m, Connection *c, const Request *req, int dir_fd, CommandReply *reply);
