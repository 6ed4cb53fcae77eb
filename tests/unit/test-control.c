/* SPDX-License-Identifier: MIT */
/*
 * The control socket alone, with no manager: a real SOCK_SEQPACKET socket in a temporary
 * directory, a real sd-event loop, and ControlOps that record what reaches them (seatd's
 * connection tests). Each case has a socket, a loop and a control of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "wire.h"

typedef struct Fixture {
        char dir[64], path[128];
        sd_event *event;
        Control *control;
        unsigned requests, disconnects;
        char last_cmd[32];
        int last_fd;
        bool defer;       /* answer later, not in request() */
        Connection *held; /* the deferred one, referenced */
} Fixture;

static void on_request(void *userdata, Connection *c, const Request *req, int dir_fd)
{
        Fixture *f = userdata;

        f->requests++;
        snprintf(f->last_cmd, sizeof(f->last_cmd), "%s", req->command->name);
        if (f->last_fd >= 0)
                close(f->last_fd);
        f->last_fd = dir_fd;
        if (f->defer) {
                f->held = connection_ref(c);
                return;
        }
        connection_reply_ok(c, cJSON_CreateObject());
}

static void on_disconnected(void *userdata, Connection *c)
{
        Fixture *f = userdata;

        f->disconnects++;
}

static const ControlOps ops = { .request = on_request, .disconnected = on_disconnected };

static int setup_with(void **state, unsigned max_connections, usec_t idle)
{
        Fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        f->last_fd = -1;
        strcpy(f->dir, "/tmp/pamprof-control-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
        if (sd_event_new(&f->event) < 0)
                return -1;
        if (control_new(f->event,
                        &(ControlOptions){ .socket = f->path,
                                           .listen_fd = -1,
                                           .max_connections = max_connections,
                                           .idle_usec = idle },
                        &ops, f, &f->control) < 0)
                return -1;
        *state = f;
        return 0;
}

static int setup(void **state)
{
        return setup_with(state, 4, 0);
}

static int setup_two_clients_fast_idle(void **state)
{
        return setup_with(state, 2, 100 * USEC_PER_MSEC);
}

static int teardown(void **state)
{
        Fixture *f = *state;

        connection_unref(f->held);
        control_free(f->control);
        sd_event_unref(f->event);
        if (f->last_fd >= 0)
                close(f->last_fd);
        assert_int_equal(access(f->path, F_OK), -1); /* the socket it made is gone */
        rmdir(f->dir);
        free(f);
        return 0;
}

/* Runs the loop until the client has something to read (or ms pass). */
static void pump(Fixture *f, int client, int ms)
{
        for (int i = 0; i < ms / 10; i++) {
                struct pollfd p = { .fd = client, .events = POLLIN };

                (void) sd_event_run(f->event, 10 * USEC_PER_MSEC);
                if (poll(&p, 1, 0) == 1)
                        return;
        }
}

/* The client's next reply, parsed: ok, or the error code; -1 when none came; -2 when closed. */
static int reply(Fixture *f, int client, char *text, size_t size)
{
        char buf[PAMPROF_MESSAGE_MAX + 1];
        size_t len = 0;
        bool truncated = false;
        int fd = -1, r;

        pump(f, client, 2000);
        r = wire_recv(client, buf, sizeof(buf), &len, &truncated, &fd);
        if (r == -EAGAIN)
                return -1;
        if (r < 0 || len == 0)
                return -2;
        if (text)
                snprintf(text, size, "%.*s", (int) size - 1, buf);
        cJSON *j = cJSON_Parse(buf);
        assert_non_null(j);
        cJSON *ok = cJSON_GetObjectItem(j, "ok"), *e = cJSON_GetObjectItem(j, "error");
        r = 0;
        if (!cJSON_IsTrue(ok)) {
                const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));

                assert_non_null(code);
                r = proto_error_from_string(code);
                assert_true(r > 0);
        }
        cJSON_Delete(j);
        return r;
}

static int client(Fixture *f)
{
        int fd = wire_connect(f->path);

        assert_true(fd >= 0);
        assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
        return fd;
}

static void send_text(int fd, const char *text, int pass_fd)
{
        assert_int_equal(wire_send(fd, text, strlen(text), pass_fd), 0);
}

#define STATUS "{\"cmd\":\"status\",\"version\":1}"

static void test_request_reaches_ops_and_is_answered(void **state)
{
        Fixture *f = *state;
        int c = client(f);

        send_text(c, STATUS, -1);
        assert_int_equal(reply(f, c, NULL, 0), 0);
        assert_int_equal(f->requests, 1);
        assert_string_equal(f->last_cmd, "status");
        /* the same connection takes the next one */
        send_text(c, STATUS, -1);
        assert_int_equal(reply(f, c, NULL, 0), 0);
        assert_int_equal(f->requests, 2);
        close(c);
}

static void test_oversize_is_refused_not_dispatched(void **state)
{
        Fixture *f = *state;
        size_t n = PAMPROF_MESSAGE_MAX + 100;
        char *big = malloc(n + 1), text[512];
        int c = client(f);

        memset(big, ' ', n);
        big[0] = '{';
        big[n - 1] = '}';
        big[n] = '\0';
        send_text(c, big, -1);
        assert_int_equal(reply(f, c, text, sizeof(text)), PROTO_E_TOO_LARGE);
        assert_int_equal(f->requests, 0);
        free(big);
        close(c);
}

static void test_malformed_and_unknown_get_specific_errors(void **state)
{
        Fixture *f = *state;
        int c = client(f);

        send_text(c, "{\"cmd\":\"status\"", -1); /* cut short */
        assert_int_equal(reply(f, c, NULL, 0), PROTO_E_MALFORMED);
        send_text(c, "{\"cmd\":\"launch\",\"version\":1}", -1);
        assert_int_equal(reply(f, c, NULL, 0), PROTO_E_UNKNOWN_COMMAND);
        assert_int_equal(f->requests, 0);
        close(c);
}

static void test_descriptor_where_none_belongs(void **state)
{
        Fixture *f = *state;
        int c = client(f), dir = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        send_text(c, STATUS, dir);
        assert_int_equal(reply(f, c, NULL, 0), PROTO_E_BAD_FIELD);
        assert_int_equal(f->requests, 0);
        close(dir);
        close(c);
}

static void test_past_max_connections_busy_and_closed(void **state)
{
        Fixture *f = *state;
        int a = client(f), b = client(f), c;
        char text[512];

        /* a and b are accepted (the loop must see them before the third) */
        send_text(a, STATUS, -1);
        assert_int_equal(reply(f, a, NULL, 0), 0);
        send_text(b, STATUS, -1);
        assert_int_equal(reply(f, b, NULL, 0), 0);
        c = client(f);
        assert_int_equal(reply(f, c, text, sizeof(text)), PROTO_E_BUSY);
        assert_non_null(strstr(text, "Too many clients"));
        assert_int_equal(reply(f, c, NULL, 0), -2); /* and closed */
        close(a);
        close(b);
        close(c);
}

static void test_idle_client_is_dropped(void **state)
{
        Fixture *f = *state;
        int c = client(f);
        ControlCounters cc;

        pump(f, c, 600); /* idle is 100 ms here */
        assert_int_equal(reply(f, c, NULL, 0), -2);
        control_counters(f->control, &cc);
        assert_int_equal(cc.dropped, 1);
        assert_int_equal(f->disconnects, 1);
        close(c);
}

static void test_busy_connection_is_not_dropped_while_answered_later(void **state)
{
        Fixture *f = *state;
        int c = client(f);

        f->defer = true;
        send_text(c, STATUS, -1);
        assert_int_equal(reply(f, c, NULL, 0), -1); /* nothing yet, 2 s > idle */
        assert_int_equal(f->disconnects, 0);
        connection_reply_ok(f->held, cJSON_CreateObject());
        assert_int_equal(reply(f, c, NULL, 0), 0);
        close(c);
}

static void test_client_gone_before_its_reply(void **state)
{
        Fixture *f = *state;
        int c = client(f);

        f->defer = true;
        send_text(c, STATUS, -1);
        pump(f, c, 200);
        assert_non_null(f->held);
        close(c);
        pump(f, -1, 200);
        assert_int_equal(f->disconnects, 1);
        /* the late answer goes nowhere and harms nothing */
        assert_int_equal(connection_reply_ok(f->held, cJSON_CreateObject()), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_request_reaches_ops_and_is_answered, setup, teardown),
                cmocka_unit_test_setup_teardown(test_oversize_is_refused_not_dispatched, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed_and_unknown_get_specific_errors, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_descriptor_where_none_belongs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_past_max_connections_busy_and_closed,
                                                setup_two_clients_fast_idle, teardown),
                cmocka_unit_test_setup_teardown(test_idle_client_is_dropped, setup_two_clients_fast_idle,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_busy_connection_is_not_dropped_while_answered_later,
                                                setup_two_clients_fast_idle, teardown),
                cmocka_unit_test_setup_teardown(test_client_gone_before_its_reply, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
