/* SPDX-License-Identifier: MIT */
/*
 * A session's life with parts of the test's own (SessionEnv.parts), no sampler, no profiler,
 * no manager: a real sd-event loop, a real output directory, and an owner that counts what it
 * is told. Stop waiters are all answered, once; the session finishes once; a part that fails
 * stops the session; the parts hear PAM go and come back.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "session.h"
#include "session-parts.h"

typedef struct Fake {
        unsigned started, stops, freed, lost, found;
        bool async_stop; /* stops later, from a timer */
        Session *session;
        sd_event_source *later;
} Fake;

static Fake fake;

typedef struct World {
        char out[64], state[64];
        sd_event *event;
        int records_fd;
        Session *s;
        unsigned finished, changed, waiter_calls[3];
} World;

static int fake_start(Session *s, void **ret_state)
{
        fake.started++;
        fake.session = s;
        *ret_state = &fake;
        return 0;
}

static int on_later(sd_event_source *src, uint64_t usec, void *userdata)
{
        session_part_stopped(fake.session, &fake);
        return 0;
}

static void fake_stop(Session *s, void *state)
{
        fake.stops++;
        if (!fake.async_stop) {
                session_part_stopped(s, state);
                return;
        }
        assert_int_equal(sd_event_add_time_relative(session_event_loop(s), &fake.later, CLOCK_MONOTONIC,
                                                    50 * USEC_PER_MSEC, 0, on_later, NULL),
                         0);
}

static void fake_target_changed(Session *s, void *state, pid_t old_pid, pid_t new_pid)
{
        if (new_pid == 0)
                fake.lost++;
        else
                fake.found++;
}

static void fake_free(void *state)
{
        fake.freed++;
        fake.later = sd_event_source_disable_unref(fake.later);
}

static const SessionPartOps fake_ops = {
        .name = "fake part",
        .start = fake_start,
        .target_changed = fake_target_changed,
        .stop = fake_stop,
        .free = fake_free,
};
static const SessionPartOps *const fake_parts[] = { &fake_ops, NULL };

static void on_finished(Session *s, void *userdata)
{
        World *w = userdata;

        w->finished++;
}

static void on_changed(Session *s, void *userdata)
{
        World *w = userdata;

        w->changed++;
}

static int setup(void **state)
{
        World *w = calloc(1, sizeof(*w));
        char p[128];

        fake = (Fake){ 0 };
        strcpy(w->out, "/tmp/pamprof-session-XXXXXX");
        strcpy(w->state, "/tmp/pamprof-sstate-XXXXXX");
        if (!mkdtemp(w->out) || !mkdtemp(w->state) || sd_event_new(&w->event) < 0)
                return -1;
        snprintf(p, sizeof(p), "%s/sessions", w->state);
        mkdir(p, 0700);
        w->records_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *state = w;
        return w->records_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        World *w = *state;
        char cmd[256];

        session_free(w->s);
        sd_event_unref(w->event);
        close(w->records_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", w->out, w->state);
        assert_int_equal(system(cmd), 0);
        free(w);
        return 0;
}

static void start(World *w, pid_t target)
{
        SessionEnv env = { .event = w->event,
                           .proc_fd = -1,
                           .staging_fd = -1,
                           .records_fd = w->records_fd,
                           .state_dir = w->state,
                           .target_match = "test",
                           .parts = fake_parts };
        SessionOwner owner = { .finished = on_finished, .changed = on_changed, .userdata = w };
        SessionOptions o = { .scenario = "lifecycle", .interval = USEC_PER_SEC, .monitor = true };
        Requester who = { 0, 0, getpid() };
        char *error = NULL;
        int dir = open(w->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        assert_int_equal(session_start(&env, &owner, &o, &who, dir, w->out, (uid_t) -1, (gid_t) -1, target,
                                       &w->s, &error),
                         0);
        assert_null(error);
        assert_int_equal(fake.started, 1);
}

/* Runs the loop until the session has finished (or 10 s). */
static void run_until_finished(World *w)
{
        for (int i = 0; i < 1000 && w->finished == 0; i++)
                assert_true(sd_event_run(w->event, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(w->finished, 1);
}

static void waiter(Session *s, void *userdata)
{
        (*(unsigned *) userdata)++;
        assert_true(session_state(s) == SESSION_STOPPED || session_state(s) == SESSION_FAILED);
}

static void test_every_stop_waiter_is_answered_once(void **state)
{
        World *w = *state;

        fake.async_stop = true;
        start(w, getpid());
        assert_int_equal(session_stop(w->s, "first", waiter, &w->waiter_calls[0]), 0);
        /* while it stops, more come; the session stops only once */
        assert_int_equal(session_stop(w->s, "second", waiter, &w->waiter_calls[1]), 0);
        assert_int_equal(session_add_stop_waiter(w->s, waiter, &w->waiter_calls[2]), 0);
        assert_int_equal(session_state(w->s), SESSION_STOPPING);
        assert_int_equal(fake.stops, 1);
        run_until_finished(w);
        for (int i = 0; i < 3; i++)
                assert_int_equal(w->waiter_calls[i], 1);
        assert_int_equal(session_state(w->s), SESSION_STOPPED);
        /* and nothing more happens after the end */
        for (int i = 0; i < 20; i++)
                (void) sd_event_run(w->event, 5 * USEC_PER_MSEC);
        assert_int_equal(w->finished, 1);
        assert_int_equal(w->waiter_calls[0], 1);
}

static void test_a_removed_waiter_is_not_called(void **state)
{
        World *w = *state;

        fake.async_stop = true;
        start(w, getpid());
        assert_int_equal(session_stop(w->s, "by a client that then leaves", waiter, &w->waiter_calls[0]), 0);
        session_remove_stop_waiter(w->s, &w->waiter_calls[0]);
        run_until_finished(w);
        assert_int_equal(w->waiter_calls[0], 0);
}

static void test_synchronous_stop_finishes_at_once(void **state)
{
        World *w = *state;

        start(w, getpid());
        assert_int_equal(session_stop(w->s, "now", waiter, &w->waiter_calls[0]), 0);
        assert_int_equal(w->finished, 1);
        assert_int_equal(w->waiter_calls[0], 1);
        /* the record on disk says how it ended */
        char name[256];
        snprintf(name, sizeof(name), "%s.json", session_id(w->s));
        assert_int_equal(faccessat(w->records_fd, name, F_OK, 0), 0);
}

static void test_failure_stops_the_session(void **state)
{
        World *w = *state;

        start(w, getpid());
        session_fail(w->s, -ENOSPC, "writing the CSV");
        run_until_finished(w);
        assert_int_equal(session_state(w->s), SESSION_FAILED);
        assert_int_equal(fake.stops, 1);
        /* a stop after the end is answered at once */
        assert_int_equal(session_stop(w->s, "late", waiter, &w->waiter_calls[0]), 0);
        assert_int_equal(w->waiter_calls[0], 1);
}

/* A session that lives long and sees PAM flap has more events than a reply can carry: the record
 * keeps the first and the last, says how many it left out and where, and fits in one reply. */
static void test_the_record_keeps_the_first_and_last_events(void **state)
{
        World *w = *state;
        const int n = 200;
        char pad[480];
        cJSON *rec, *events;
        char *text;

        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        start(w, getpid());
        for (int i = 0; i < n; i++)
                session_event(w->s, "test", 0, "event %d %s", i, pad);
        rec = session_to_json(w->s);
        events = cJSON_GetObjectItemCaseSensitive(rec, "events");
        assert_int_equal(cJSON_GetArraySize(events), EVENTS_FIRST + EVENTS_LAST);
        for (int i = 0; i < EVENTS_FIRST + EVENTS_LAST; i++) {
                const cJSON *e = cJSON_GetArrayItem(events, i);
                int want = i < EVENTS_FIRST ? i : n - (EVENTS_FIRST + EVENTS_LAST) + i;
                char prefix[32];

                snprintf(prefix, sizeof(prefix), "event %d ", want);
                assert_true(strncmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message")),
                                    prefix, strlen(prefix)) == 0);
                if (i == EVENTS_FIRST - 1)
                        assert_int_equal(
                                cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "omitted_after")),
                                n - EVENTS_FIRST - EVENTS_LAST);
                else
                        assert_null(cJSON_GetObjectItemCaseSensitive(e, "omitted_after"));
        }
        text = cJSON_PrintUnformatted(rec);
        assert_true(strlen(text) < 64 * 1024 - 64); /* PROTO_RESULT_MAX */
        free(text);
        cJSON_Delete(rec);
}

static void test_parts_hear_pam_go_and_come_back(void **state)
{
        World *w = *state;

        start(w, getpid());
        session_target_lost(w->s, getpid());
        assert_int_equal(fake.lost, 1);
        assert_int_equal(session_target_pid(w->s), 0);
        session_target_found(w->s, 4242);
        assert_int_equal(fake.found, 1);
        assert_int_equal(session_target_pid(w->s), 4242);
        session_target_found(w->s, 4242); /* the same pid again is no news */
        assert_int_equal(fake.found, 1);
        assert_int_equal(session_stop(w->s, "done", NULL, NULL), 0);
        run_until_finished(w);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_every_stop_waiter_is_answered_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_removed_waiter_is_not_called, setup, teardown),
                cmocka_unit_test_setup_teardown(test_synchronous_stop_finishes_at_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failure_stops_the_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_parts_hear_pam_go_and_come_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_the_record_keeps_the_first_and_last_events, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
