/* SPDX-License-Identifier: MIT */
#include "protocol.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "format-util.h"

/* The command table: adding a command adds a row here and a handler in the daemon. */

static const FieldSpec no_fields[] = { { NULL } };

static const FieldSpec start_fields[] = {
        { "scenario", FIELD_STRING, true, 0, 0, PAMPROF_SCENARIO_MAX, "the scenario label",
          scenario_is_valid, "use 1 to 64 characters from A-Z a-z 0-9 . _ - (for example idle-no-leaffc)" },
        { "interval", FIELD_NUMBER, false, 0.1, 3600, 0, "the sampling interval in seconds" },
        { "duration", FIELD_NUMBER, false, 0, 31 * 86400.0, 0, "the session duration in seconds" },
        { "pid", FIELD_INTEGER, false, 1, 4194304, 0, "the target process id" },
        { "include_children", FIELD_BOOL, false, 0, 0, 0, "whether to count PAM's child processes" },
        { "wait", FIELD_NUMBER, false, 0, 3600, 0, "how long to wait for PAM to appear, in seconds" },
        { "monitor", FIELD_BOOL, false, 0, 0, 0, "whether to sample CPU and memory" },
        { "profile", FIELD_BOOL, false, 0, 0, 0, "whether to run the profiler (py-spy or Austin)" },
        { "rate", FIELD_INTEGER, false, 1, 1000, 0, "the profiler's sampling rate in Hz" },
        { "idle", FIELD_BOOL, false, 0, 0, 0, "whether the profiler records idle (sleeping) stacks" },
        { "nonblocking", FIELD_BOOL, false, 0, 0, 0, "whether py-spy leaves PAM running while it samples" },
        { "native", FIELD_BOOL, false, 0, 0, 0, "whether py-spy records native (C) frames" },
        { "subprocesses", FIELD_BOOL, false, 0, 0, 0, "whether the profiler follows PAM's child processes" },
        { "gil", FIELD_BOOL, false, 0, 0, 0, "whether py-spy samples only the thread holding the GIL" },
        { "profiler", FIELD_STRING, false, 0, 0, 15, "the profiler to run (py-spy or austin)" },
        { "output", FIELD_STRING, false, 0, 0, 4096, "the output directory" },
        { NULL }
};

#define SESSION_ID_RULE "IDs look like pam_idle-no-leaffc_20260211_143022; \"pamprofctl list\" shows them"

static const FieldSpec stop_fields[] = { { "id", FIELD_STRING, false, 0, 0, 128, "the session ID",
                                           session_id_is_valid, SESSION_ID_RULE },
                                         { NULL } };

static const FieldSpec list_fields[] = {
        { "limit", FIELD_INTEGER, false, 1, 1000, 0, "the number of sessions to list" }, { NULL }
};

static const FieldSpec show_fields[] = { { "id", FIELD_STRING, true, 0, 0, 128, "the session ID",
                                           session_id_is_valid, SESSION_ID_RULE },
                                         { NULL } };

static const FieldSpec snapshot_fields[] = {
        { "before", FIELD_NUMBER, false, 0, 3600, 0, "the seconds before now the capture holds" },
        { "after", FIELD_NUMBER, false, 0, 600, 0, "the seconds after now the capture holds" },
        { "scenario", FIELD_STRING, false, 0, 0, PAMPROF_SCENARIO_MAX, "the scenario label",
          scenario_is_valid, "use 1 to 64 characters from A-Z a-z 0-9 . _ - (for example capture-manual)" },
        { "wait", FIELD_BOOL, false, 0, 0, 0, "whether the reply waits until the capture is written" },
        { NULL }
};

const CommandSpec protocol_commands[_CMD_MAX] = {
        [CMD_VERSION] = { "version", CMD_VERSION, false, false, no_fields, "the daemon's version" },
        [CMD_STATUS] = { "status", CMD_STATUS, false, false, no_fields, "daemon, PAM and session state" },
        [CMD_START] = { "start", CMD_START, true, true, start_fields, "start a session" },
        [CMD_STOP] = { "stop", CMD_STOP, true, false, stop_fields, "stop the running session" },
        [CMD_LIST] = { "list", CMD_LIST, false, false, list_fields, "list recorded sessions" },
        [CMD_SHOW] = { "show", CMD_SHOW, false, false, show_fields, "one session's record" },
        [CMD_DELETE] = { "delete", CMD_DELETE, true, true, show_fields,
                         "remove a session's files and record" },
        [CMD_SNAPSHOT] = { "snapshot", CMD_SNAPSHOT, true, false, snapshot_fields,
                           "save the flight recorder's window as a session" },
};

static const char *const proto_error_table[_PROTO_E_MAX] = {
        [PROTO_OK] = "ok",
        [PROTO_E_MALFORMED] = "malformed",
        [PROTO_E_TOO_LARGE] = "too-large",
        [PROTO_E_VERSION] = "version",
        [PROTO_E_UNKNOWN_COMMAND] = "unknown-command",
        [PROTO_E_BAD_FIELD] = "bad-field",
        [PROTO_E_DENIED] = "permission-denied",
        [PROTO_E_BUSY] = "busy",
        [PROTO_E_NO_SESSION] = "no-session",
        [PROTO_E_NO_TARGET] = "no-target",
        [PROTO_E_NOT_FOUND] = "not-found",
        [PROTO_E_NO_PROFILER] = "no-profiler",
        [PROTO_E_IO] = "io-error",
        [PROTO_E_INTERNAL] = "internal",
};

const char *proto_error_to_string(ProtoError e)
{
        if (e < 0 || e >= _PROTO_E_MAX)
                return "internal";
        return proto_error_table[e];
}

ProtoError proto_error_from_string(const char *s)
{
        for (int i = 0; s && i < _PROTO_E_MAX; i++)
                if (strcmp(proto_error_table[i], s) == 0)
                        return (ProtoError) i;
        return PROTO_E_INTERNAL;
}

const CommandSpec *protocol_find_command(const char *name)
{
        for (size_t i = 0; name && i < ELEMENTSOF(protocol_commands); i++)
                if (strcmp(protocol_commands[i].name, name) == 0)
                        return &protocol_commands[i];
        return NULL;
}

const FieldSpec *protocol_field(ProtoCommand cmd, const char *name)
{
        if (cmd < 0 || cmd >= _CMD_MAX)
                return NULL;
        for (const FieldSpec *f = protocol_commands[cmd].fields; f && f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}

bool scenario_is_valid(const char *s)
{
        size_t n = 0;

        if (!s)
                return false;
        for (; s[n]; n++) {
                char c = s[n];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return false;
                if (n >= PAMPROF_SCENARIO_MAX)
                        return false;
        }
        return n > 0;
}

static bool all_digits(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

bool session_id_is_valid(const char *s)
{
        /* pam_<scenario>_YYYYMMDD_HHMMSS, with -N for the Nth of one second */
        char scenario[PAMPROF_SCENARIO_MAX + 2];
        const char *end, *dash;
        size_t n;

        if (!s || strncmp(s, "pam_", 4) != 0)
                return false;
        s += 4;
        end = s + strlen(s);
        dash = strrchr(s, '-');
        if (dash && dash + 1 < end && all_digits(dash + 1, (size_t) (end - dash - 1)) && end - dash - 1 <= 5)
                end = dash;
        if (end - s < 17 || end[-16] != '_' || end[-7] != '_' || !all_digits(end - 15, 8) ||
            !all_digits(end - 6, 6))
                return false;
        n = (size_t) (end - 16 - s);
        if (n == 0 || n > PAMPROF_SCENARIO_MAX)
                return false;
        memcpy(scenario, s, n);
        scenario[n] = '\0';
        return scenario_is_valid(scenario);
}

void request_done(Request *r)
{
        if (!r)
                return;
        cJSON_Delete(r->json);
        r->json = NULL;
        r->command = NULL;
}

/* Bracket depth outside strings, so hostile nesting never reaches the parser's recursion. */
static size_t json_max_depth(const char *buf, size_t len)
{
        size_t depth = 0, max = 0;
        bool in_string = false;

        for (size_t i = 0; i < len; i++) {
                char c = buf[i];
                if (in_string) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_string = false;
                        continue;
                }
                if (c == '"')
                        in_string = true;
                else if (c == '{' || c == '[') {
                        if (++depth > max)
                                max = depth;
                } else if ((c == '}' || c == ']') && depth > 0)
                        depth--;
        }
        return max;
}

static const char *field_type_name(FieldType t)
{
        switch (t) {
        case FIELD_STRING:
                return "a string";
        case FIELD_NUMBER:
                return "a number";
        case FIELD_INTEGER:
                return "a whole number";
        case FIELD_BOOL:
                return "true or false";
        }
        return "?";
}

static const FieldSpec *find_field(const CommandSpec *c, const char *name)
{
        for (const FieldSpec *f = c->fields; f->name; f++)
                if (strcmp(f->name, name) == 0)
                        return f;
        return NULL;
}

static ProtoError check_field(const CommandSpec *c, const FieldSpec *f, const cJSON *v, char **ret_message)
{
        double d;

        switch (f->type) {
        case FIELD_STRING:
                if (!cJSON_IsString(v))
                        break;
                if (strlen(v->valuestring) > f->max_len) {
                        *ret_message = format_new("\"%s\" (%s) is longer than %zu bytes.", f->name, f->what,
                                                  f->max_len);
                        return PROTO_E_BAD_FIELD;
                }
                if (f->valid && !f->valid(v->valuestring)) {
                        *ret_message = format_new("\"%.80s\" (%s) is not valid: %s.", v->valuestring,
                                                  f->what, f->rule);
                        return PROTO_E_BAD_FIELD;
                }
                return PROTO_OK;
        case FIELD_BOOL:
                if (!cJSON_IsBool(v))
                        break;
                return PROTO_OK;
        case FIELD_NUMBER:
        case FIELD_INTEGER:
                if (!cJSON_IsNumber(v))
                        break;
                d = v->valuedouble;
                if (!isfinite(d) || (f->type == FIELD_INTEGER && d != floor(d)))
                        break;
                if (d < f->min || d > f->max) {
                        *ret_message = format_new("\"%s\" (%s) must be between %g and %g; got %g.", f->name,
                                                  f->what, f->min, f->max, d);
                        return PROTO_E_BAD_FIELD;
                }
                return PROTO_OK;
        }
        *ret_message = format_new("\"%s\" (%s) of command \"%s\" must be %s.", f->name, f->what, c->name,
                                  field_type_name(f->type));
        return PROTO_E_BAD_FIELD;
}

static ProtoError check_fields(const CommandSpec *c, const cJSON *root, char **ret_message)
{
        const cJSON *item;
        ProtoError e;

        cJSON_ArrayForEach(item, root)
        {
                const FieldSpec *f;

                if (!item->string)
                        continue;
                if (strcmp(item->string, "cmd") == 0 || strcmp(item->string, "version") == 0)
                        continue;
                f = find_field(c, item->string);
                if (!f) {
                        *ret_message =
                                format_new("Command \"%s\" has no field \"%.64s\".", c->name, item->string);
                        return PROTO_E_BAD_FIELD;
                }
                e = check_field(c, f, item, ret_message);
                if (e != PROTO_OK)
                        return e;
        }
        for (const FieldSpec *f = c->fields; f->name; f++)
                if (f->required && !cJSON_GetObjectItemCaseSensitive(root, f->name)) {
                        *ret_message =
                                format_new("Command \"%s\" needs \"%s\" (%s).", c->name, f->name, f->what);
                        return PROTO_E_BAD_FIELD;
                }
        return PROTO_OK;
}

static ProtoError check_frame(const char *buf, size_t len, bool truncated, char **ret_message)
{
        if (truncated || len > PAMPROF_MESSAGE_MAX) {
                *ret_message = format_new("The request is larger than %d bytes.", PAMPROF_MESSAGE_MAX);
                return PROTO_E_TOO_LARGE;
        }
        if (len == 0) {
                *ret_message = format_new("The request is empty.");
                return PROTO_E_MALFORMED;
        }
        if (memchr(buf, '\0', len)) {
                *ret_message = format_new("The request contains a NUL byte.");
                return PROTO_E_MALFORMED;
        }
        if (json_max_depth(buf, len) > PAMPROF_JSON_DEPTH_MAX) {
                *ret_message =
                        format_new("The request nests deeper than %d levels.", PAMPROF_JSON_DEPTH_MAX);
                return PROTO_E_MALFORMED;
        }
        return PROTO_OK;
}

static ProtoError check_header(const cJSON *root, const CommandSpec **ret_command, char **ret_message)
{
        const cJSON *version, *cmd;
        const CommandSpec *c;

        if (!cJSON_IsObject(root)) {
                *ret_message = format_new("The request must be a JSON object.");
                return PROTO_E_MALFORMED;
        }
        version = cJSON_GetObjectItemCaseSensitive(root, "version");
        if (!cJSON_IsNumber(version) || version->valuedouble != PAMPROF_PROTOCOL_VERSION) {
                *ret_message = format_new("This daemon speaks protocol version %d; the request %s.",
                                          PAMPROF_PROTOCOL_VERSION,
                                          cJSON_IsNumber(version) ? "uses another" : "names none");
                return PROTO_E_VERSION;
        }
        cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
        if (!cJSON_IsString(cmd)) {
                *ret_message = format_new("The request has no \"cmd\" string.");
                return PROTO_E_MALFORMED;
        }
        c = protocol_find_command(cmd->valuestring);
        if (!c) {
                *ret_message = format_new("Unknown command \"%.64s\".", cmd->valuestring);
                return PROTO_E_UNKNOWN_COMMAND;
        }
        *ret_command = c;
        return PROTO_OK;
}

ProtoError protocol_parse_request(const char *buf, size_t len, bool truncated, bool has_fd, Request *ret,
                                  char **ret_message)
{
        const CommandSpec *c = NULL;
        cJSON *root;
        ProtoError e;

        *ret_message = NULL;
        e = check_frame(buf, len, truncated, ret_message);
        if (e != PROTO_OK)
                return e;

        root = cJSON_ParseWithLength(buf, len);
        if (!root) {
                *ret_message = format_new("The request is not valid JSON (cut short, or not JSON at all).");
                return PROTO_E_MALFORMED;
        }
        e = check_header(root, &c, ret_message);
        if (e == PROTO_OK)
                e = check_fields(c, root, ret_message);
        if (e == PROTO_OK && has_fd && !c->takes_fd) {
                *ret_message = format_new("Command \"%s\" takes no file descriptor.", c->name);
                e = PROTO_E_BAD_FIELD;
        }
        if (e != PROTO_OK) {
                cJSON_Delete(root);
                return e;
        }
        ret->command = c;
        ret->json = root;
        return PROTO_OK;
}

const char *request_get_string(const Request *r, const char *name, const char *def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
        return cJSON_IsString(v) ? v->valuestring : def;
}

double request_get_number(const Request *r, const char *name, double def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
        return cJSON_IsNumber(v) ? v->valuedouble : def;
}

bool request_get_bool(const Request *r, const char *name, bool def)
{
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->json, name);
        return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

bool request_has(const Request *r, const char *name)
{
        return cJSON_GetObjectItemCaseSensitive(r->json, name) != NULL;
}

static char *reply_finish(cJSON *root)
{
        char *text = cJSON_PrintUnformatted(root);

        cJSON_Delete(root);
        return text;
}

char *protocol_reply_ok(cJSON *result)
{
        cJSON *root = cJSON_CreateObject();

        if (!root) {
                cJSON_Delete(result);
                return NULL;
        }
        cJSON_AddNumberToObject(root, "version", PAMPROF_PROTOCOL_VERSION);
        cJSON_AddTrueToObject(root, "ok");
        cJSON_AddItemToObject(root, "result", result ? result : cJSON_CreateObject());
        return reply_finish(root);
}

size_t protocol_json_size(const cJSON *x)
{
        char *text = cJSON_PrintUnformatted(x);
        size_t n = text ? strlen(text) : 0;

        free(text);
        return n;
}

char *protocol_reply_error(ProtoError code, const char *message)
{
        cJSON *root = cJSON_CreateObject(), *error;

        if (!root)
                return NULL;
        cJSON_AddNumberToObject(root, "version", PAMPROF_PROTOCOL_VERSION);
        cJSON_AddFalseToObject(root, "ok");
        error = cJSON_AddObjectToObject(root, "error");
        if (error) {
                cJSON_AddStringToObject(error, "code", proto_error_to_string(code));
                cJSON_AddStringToObject(error, "message", message ? message : "Unknown error.");
        }
        return reply_finish(root);
}

cJSON *protocol_request_new(const char *cmd)
{
        cJSON *root = cJSON_CreateObject();

        if (!root)
                return NULL;
        if (!cJSON_AddNumberToObject(root, "version", PAMPROF_PROTOCOL_VERSION) ||
            !cJSON_AddStringToObject(root, "cmd", cmd)) {
                cJSON_Delete(root);
                return NULL;
        }
        return root;
}

int protocol_parse_reply(const char *buf, size_t len, cJSON **ret_root, bool *ret_ok, cJSON **ret_body)
{
        cJSON *root, *ok, *body;

        if (len == 0 || len > PAMPROF_MESSAGE_MAX || json_max_depth(buf, len) > 64)
                return -EBADMSG;
        root = cJSON_ParseWithLength(buf, len);
        if (!root)
                return -EBADMSG;
        ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
        body = cJSON_GetObjectItemCaseSensitive(root, cJSON_IsTrue(ok) ? "result" : "error");
        if (!cJSON_IsBool(ok) || !cJSON_IsObject(body)) {
                cJSON_Delete(root);
                return -EBADMSG;
        }
        *ret_root = root;
        *ret_ok = cJSON_IsTrue(ok);
        *ret_body = body;
        return 0;
}
