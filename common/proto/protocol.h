/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The control protocol, defined once for pamprofd and pamprofctl (chrony's
 * candm.h, OpenBSD's ntpd.h).
 *
 * Transport: a SOCK_SEQPACKET Unix socket; one datagram is one JSON object.
 * Every request carries {"version": PAMPROF_PROTOCOL_VERSION, "cmd": NAME}
 * plus the fields its command declares below; `start` may carry one
 * directory descriptor (SCM_RIGHTS) for --output. Every reply carries
 * {"version", "ok": true, "result": {...}} or
 * {"version", "ok": false, "error": {"code": CODE, "message": SENTENCE}}.
 *
 * A request is validated in a fixed order: frame (size, truncation), JSON,
 * version, command, fields (known, typed, in range, required), then the
 * caller's right to run it; the first failure is the reply.
 */

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "cleanup.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

#define PAMPROF_PROTOCOL_VERSION 1
#define PAMPROF_MESSAGE_MAX (64 * 1024) /* bytes, each direction */
#define PAMPROF_JSON_DEPTH_MAX 8
#define PAMPROF_SCENARIO_MAX 64

typedef enum ProtoError {
        PROTO_OK = 0,
        PROTO_E_MALFORMED,       /* not JSON, not an object, truncated */
        PROTO_E_TOO_LARGE,       /* over PAMPROF_MESSAGE_MAX */
        PROTO_E_VERSION,         /* version missing or not ours */
        PROTO_E_UNKNOWN_COMMAND, /* no such cmd */
        PROTO_E_BAD_FIELD,       /* unknown, missing, wrong type, out of range */
        PROTO_E_DENIED,          /* caller may not run this */
        PROTO_E_BUSY,            /* a session is already running */
        PROTO_E_NO_SESSION,      /* nothing to stop */
        PROTO_E_NO_TARGET,       /* PAM (or --pid) not running */
        PROTO_E_NOT_FOUND,       /* no session of that ID */
        PROTO_E_NO_PROFILER,     /* py-spy missing or unusable */
        PROTO_E_IO,              /* the daemon could not write or read files */
        PROTO_E_INTERNAL,
        _PROTO_E_MAX,
} ProtoError;

typedef enum ProtoCommand {
        CMD_VERSION,
        CMD_STATUS,
        CMD_START,
        CMD_STOP,
        CMD_LIST,
        CMD_SHOW,
        CMD_DELETE,
        CMD_SNAPSHOT,
        _CMD_MAX,
} ProtoCommand;

typedef enum FieldType {
        FIELD_STRING,
        FIELD_NUMBER,
        FIELD_INTEGER,
        FIELD_BOOL,
} FieldType;

typedef struct FieldSpec {
        const char *name;
        FieldType type;
        bool required;
        double min, max;              /* numbers: inclusive range */
        size_t max_len;               /* strings: bytes */
        const char *what;             /* for error sentences: "the sampling interval in seconds" */
        bool (*valid)(const char *s); /* strings: a further check, e.g. scenario labels */
        const char *rule;             /* what valid() wants, for the error sentence */
} FieldSpec;

typedef struct CommandSpec {
        const char *name;
        ProtoCommand id;
        bool privileged;         /* root or the allowed group only */
        bool takes_fd;           /* may carry a directory descriptor */
        const FieldSpec *fields; /* terminated by { NULL } */
        const char *summary;
} CommandSpec;

extern const CommandSpec protocol_commands[_CMD_MAX];

/* A field of a command by name, for the client's own checks and help (one table, both ends). */
const FieldSpec *protocol_field(ProtoCommand cmd, const char *name);

const char *proto_error_to_string(ProtoError e);
ProtoError proto_error_from_string(const char *s);
const CommandSpec *protocol_find_command(const char *name);

/* A validated request: the command and its JSON (owned). */
typedef struct Request {
        const CommandSpec *command;
        cJSON *json;
} Request;

void request_done(Request *r);

/*
 * Validates one received datagram up to (not including) authorisation.
 * On failure returns the error code and a sentence in *ret_message (malloc'd);
 * on success PROTO_OK and *ret filled.
 */
ProtoError protocol_parse_request(const char *buf, size_t len, bool truncated, bool has_fd, Request *ret,
                                  char **ret_message);

/* Field accessors for validated requests: the default when absent. */
const char *request_get_string(const Request *r, const char *name, const char *def);
double request_get_number(const Request *r, const char *name, double def);
bool request_get_bool(const Request *r, const char *name, bool def);
bool request_has(const Request *r, const char *name);

/* Replies. Both return a malloc'd, NUL-terminated JSON text or NULL on OOM.
 * protocol_reply_ok takes ownership of result (may be NULL = {}). */
char *protocol_reply_ok(cJSON *result);
char *protocol_reply_error(ProtoError code, const char *message);
/* The room a reply's result has (PAMPROF_MESSAGE_MAX less the envelope), and what x takes of it:
 * its text as protocol_reply_ok writes it, without the NUL. 0 when it cannot be written. */
#define PROTO_RESULT_MAX (PAMPROF_MESSAGE_MAX - 64)
size_t protocol_json_size(const cJSON *x);

/* Client side. */
cJSON *protocol_request_new(const char *cmd);
/*
 * Parses a reply. Returns 0 with *ret_ok and *ret_body (result or error
 * object, owned by *ret_root) on success; -EBADMSG when it is not a reply.
 */
int protocol_parse_reply(const char *buf, size_t len, cJSON **ret_root, bool *ret_ok, cJSON **ret_body);

/* Scenario labels: [A-Za-z0-9._-]{1,64}. */
bool scenario_is_valid(const char *s);
/* pam_<scenario>_YYYYMMDD_HHMMSS, or with -N: what a session ID looks like, any valid scenario. */
bool session_id_is_valid(const char *s);
