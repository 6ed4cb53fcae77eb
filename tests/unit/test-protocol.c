/* SPDX-License-Identifier: MIT */
/* The protocol: request validation in its fixed order, replies, scenario labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol.h"

static ProtoError parse(const char *text, bool has_fd, char **msg)
{
        Request r = { 0 };
        ProtoError e = protocol_parse_request(text, strlen(text), false, has_fd, &r, msg);

        request_done(&r);
        return e;
}

static void expect(const char *text, ProtoError code, const char *needle)
{
        char *msg = NULL;

        assert_int_equal(parse(text, false, &msg), code);
        if (needle) {
                assert_non_null(msg);
                if (!strstr(msg, needle))
                        fail_msg("\"%s\" does not contain \"%s\"", msg, needle);
        }
        free(msg);
}

#define EXPECT(text, code, needle) expect((text), (code), (needle))

static void test_valid_requests(void **state)
{
        Request r = { 0 };
        char *m = NULL;
        const char *t = "{\"version\":1,\"cmd\":\"start\",\"scenario\":\"idle-no-leaffc\",\"interval\":0.5,"
                        "\"duration\":60,\"pid\":1234,\"include_children\":true}";

        assert_int_equal(protocol_parse_request(t, strlen(t), false, false, &r, &m), PROTO_OK);
        assert_null(m);
        assert_int_equal(r.command->id, CMD_START);
        assert_string_equal(request_get_string(&r, "scenario", NULL), "idle-no-leaffc");
        assert_true(request_get_number(&r, "interval", 0) == 0.5);
        assert_true(request_get_number(&r, "rate", 77) == 77);
        assert_true(request_get_bool(&r, "include_children", false));
        assert_false(request_has(&r, "wait"));
        request_done(&r);
        EXPECT("{\"version\":1,\"cmd\":\"status\"}", PROTO_OK, NULL);
        EXPECT("{\"cmd\":\"list\",\"version\":1,\"limit\":5}", PROTO_OK, NULL);
}

static void test_frame_and_json_errors(void **state)
{
        char big[PAMPROF_MESSAGE_MAX + 10], *m = NULL;
        Request r = { 0 };

        EXPECT("", PROTO_E_MALFORMED, "empty");
        EXPECT("hello", PROTO_E_MALFORMED, "not valid JSON");
        EXPECT("{\"version\":1,\"cmd\":\"sta", PROTO_E_MALFORMED, "not valid JSON");
        EXPECT("[1,2,3]", PROTO_E_MALFORMED, "JSON object");
        EXPECT("\"status\"", PROTO_E_MALFORMED, "JSON object");
        EXPECT("[[[[[[[[[[[[1]]]]]]]]]]]]", PROTO_E_MALFORMED, "nests deeper");
        /* brackets inside strings do not count as nesting */
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"[[[[[[[[[[[[[\"}", PROTO_E_BAD_FIELD,
               "(the scenario label) is not valid");
        assert_int_equal(protocol_parse_request("{\"a\":1}\0x", 9, false, false, &r, &m), PROTO_E_MALFORMED);
        free(m);
        m = NULL;
        memset(big, ' ', sizeof(big));
        assert_int_equal(protocol_parse_request(big, sizeof(big), false, false, &r, &m), PROTO_E_TOO_LARGE);
        free(m);
        m = NULL;
        assert_int_equal(protocol_parse_request("{}", 2, true, false, &r, &m), PROTO_E_TOO_LARGE);
        free(m);
}

static void test_header_errors(void **state)
{
        EXPECT("{\"cmd\":\"status\"}", PROTO_E_VERSION, "names none");
        EXPECT("{\"version\":2,\"cmd\":\"status\"}", PROTO_E_VERSION, "uses another");
        EXPECT("{\"version\":\"1\",\"cmd\":\"status\"}", PROTO_E_VERSION, NULL);
        EXPECT("{\"version\":1}", PROTO_E_MALFORMED, "cmd");
        EXPECT("{\"version\":1,\"cmd\":7}", PROTO_E_MALFORMED, "cmd");
        EXPECT("{\"version\":1,\"cmd\":\"rm -rf\"}", PROTO_E_UNKNOWN_COMMAND, "rm -rf");
}

static void test_field_errors(void **state)
{
        EXPECT("{\"version\":1,\"cmd\":\"start\"}", PROTO_E_BAD_FIELD, "needs \"scenario\"");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":1}", PROTO_E_BAD_FIELD, "must be a string");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"x\":1}", PROTO_E_BAD_FIELD,
               "no field \"x\"");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"interval\":0.01}", PROTO_E_BAD_FIELD,
               "between 0.1 and 3600");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"interval\":\"1\"}", PROTO_E_BAD_FIELD,
               "must be a number");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"pid\":12.5}", PROTO_E_BAD_FIELD,
               "whole number");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"pid\":-1}", PROTO_E_BAD_FIELD,
               "between");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"rate\":1e9}", PROTO_E_BAD_FIELD,
               "between");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"monitor\":1}", PROTO_E_BAD_FIELD,
               "true or false");
        EXPECT("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"a\",\"interval\":{\"x\":1}}",
               PROTO_E_BAD_FIELD, NULL);
        EXPECT("{\"version\":1,\"cmd\":\"show\"}", PROTO_E_BAD_FIELD, "needs \"id\"");
        EXPECT("{\"version\":1,\"cmd\":\"status\",\"verbose\":true}", PROTO_E_BAD_FIELD, "no field");
}

static void test_fd_only_where_declared(void **state)
{
        char *m = NULL;

        assert_int_equal(parse("{\"version\":1,\"cmd\":\"status\"}", true, &m), PROTO_E_BAD_FIELD);
        assert_non_null(strstr(m, "takes no file descriptor"));
        free(m);
        m = NULL;
        assert_int_equal(parse("{\"version\":1,\"cmd\":\"start\",\"scenario\":\"x\"}", true, &m), PROTO_OK);
        free(m);
}

static void test_replies_round_trip(void **state)
{
        cJSON *res = cJSON_CreateObject(), *root = NULL, *body = NULL;
        char *t;
        bool ok = false;

        cJSON_AddStringToObject(res, "id", "pam_x_20260101_000000");
        t = protocol_reply_ok(res);
        assert_int_equal(protocol_parse_reply(t, strlen(t), &root, &ok, &body), 0);
        assert_true(ok);
        assert_string_equal(cJSON_GetObjectItem(body, "id")->valuestring, "pam_x_20260101_000000");
        cJSON_Delete(root);
        free(t);

        t = protocol_reply_error(PROTO_E_BUSY, "A session is already running.");
        assert_int_equal(protocol_parse_reply(t, strlen(t), &root, &ok, &body), 0);
        assert_false(ok);
        assert_string_equal(cJSON_GetObjectItem(body, "code")->valuestring, "busy");
        assert_int_equal(proto_error_from_string("busy"), PROTO_E_BUSY);
        cJSON_Delete(root);
        free(t);

        assert_int_equal(protocol_parse_reply("{\"ok\":true}", 11, &root, &ok, &body), -EBADMSG);
        assert_int_equal(protocol_parse_reply("nope", 4, &root, &ok, &body), -EBADMSG);
}

static void test_command_table_is_complete(void **state)
{
        for (int i = 0; i < _CMD_MAX; i++) {
                assert_non_null(protocol_commands[i].name);
                assert_int_equal(protocol_commands[i].id, i);
                assert_ptr_equal(protocol_find_command(protocol_commands[i].name), &protocol_commands[i]);
        }
        for (int e = 0; e < _PROTO_E_MAX; e++)
                assert_int_equal(proto_error_from_string(proto_error_to_string((ProtoError) e)), e);
        assert_true(protocol_commands[CMD_START].privileged);
        assert_true(protocol_commands[CMD_STOP].privileged);
        assert_false(protocol_commands[CMD_STATUS].privileged);
}

static void test_scenario_labels(void **state)
{
        char long_ok[65], too_long[66];

        memset(long_ok, 'a', 64);
        long_ok[64] = '\0';
        memset(too_long, 'a', 65);
        too_long[65] = '\0';
        assert_true(scenario_is_valid("idle-no-leaffc"));
        assert_true(scenario_is_valid("mission_execution.v2"));
        assert_true(scenario_is_valid("A"));
        assert_true(scenario_is_valid(long_ok));
        assert_false(scenario_is_valid(too_long));
        assert_false(scenario_is_valid(""));
        assert_false(scenario_is_valid(NULL));
        assert_false(scenario_is_valid("has space"));
        assert_false(scenario_is_valid("../etc"));
        assert_false(scenario_is_valid("new\nline"));
        assert_false(scenario_is_valid("caf\xc3\xa9"));
}

/* What a session gets called, for every scenario the table takes: the 64-character one too. */
static void test_session_ids(void **state)
{
        char id[128], bad[128];

        assert_true(session_id_is_valid("pam_idle-no-leaffc_20260211_143022"));
        assert_true(session_id_is_valid("pam_idle-no-leaffc_20260211_143022-2"));
        assert_true(session_id_is_valid("pam_a_b_20260211_143022")); /* a scenario with _ in it */
        assert_true(session_id_is_valid("pam_x-1_20260211_143022"));
        snprintf(id, sizeof(id), "pam_%064d_20260211_143022", 7);
        assert_int_equal(strlen(id), 4 + 64 + 16);
        assert_true(session_id_is_valid(id));
        snprintf(bad, sizeof(bad), "pam_%065d_20260211_143022", 7); /* a scenario of 65 */
        assert_false(session_id_is_valid(bad));
        assert_false(session_id_is_valid("pam__20260211_143022"));
        assert_false(session_id_is_valid("pam_idle_2026021_143022"));
        assert_false(session_id_is_valid("pam_idle_20260211_14302x"));
        assert_false(session_id_is_valid("pam_idle_20260211_143022-"));
        assert_false(session_id_is_valid("pam_idle_20260211_143022/x"));
        assert_false(session_id_is_valid("pam_../x_20260211_143022"));
        assert_false(session_id_is_valid("xyz_idle_20260211_143022"));
        assert_false(session_id_is_valid("pam_idle"));
        assert_false(session_id_is_valid(""));
        assert_false(session_id_is_valid(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_requests),
                cmocka_unit_test(test_frame_and_json_errors),
                cmocka_unit_test(test_header_errors),
                cmocka_unit_test(test_field_errors),
                cmocka_unit_test(test_fd_only_where_declared),
                cmocka_unit_test(test_replies_round_trip),
                cmocka_unit_test(test_command_table_is_complete),
                cmocka_unit_test(test_scenario_labels),
                cmocka_unit_test(test_session_ids),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
