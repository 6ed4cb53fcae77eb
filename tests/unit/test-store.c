/* SPDX-License-Identifier: MIT */
/*
 * The store without a daemon: retention as a pure plan on literals, delete on a directory of
 * records, recovery of a record left "running" on fixture files. Each case makes its own
 * temporary state and output directories.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "deletion.h"
#include "records.h"
#include "recovery.h"
#include "retention.h"

#define MB (1024 * 1024)

static void test_plan_keeps_the_newest_sessions(void **state)
{
        const RetentionEntry e[] = {
                { "a", 1, 10 }, { "b", 2, 10 }, { "c", 3, 10 }, { "d", 4, 10 }, { "e", 5, 10 },
        };
        RetentionWhy why[5];

        assert_int_equal(retention_plan(e, 5, 3, 0, why), 2);
        assert_int_equal(why[0], RETENTION_TOO_MANY);
        assert_int_equal(why[1], RETENTION_TOO_MANY);
        assert_int_equal(why[2], RETENTION_KEEP);
        assert_int_equal(retention_plan(e, 5, 5, 0, why), 0);
        assert_int_equal(retention_plan(e, 5, 0, 0, why), 0); /* no limits */
        assert_int_equal(retention_plan(e, 0, 1, 1, why), 0);
}

static void test_plan_by_size_goes_until_it_fits(void **state)
{
        const RetentionEntry e[] = { { "old", 1, 300 * MB }, { "mid", 2, 100 * MB }, { "new", 3, 50 * MB } };
        RetentionWhy why[3];

        /* 450 MB over a 200 MB limit: the oldest alone brings it to 150 MB */
        assert_int_equal(retention_plan(e, 3, 0, 200 * MB, why), 1);
        assert_int_equal(why[0], RETENTION_TOO_BIG);
        assert_int_equal(why[1], RETENTION_KEEP);
        /* 100 MB: the two oldest go */
        assert_int_equal(retention_plan(e, 3, 0, 100 * MB, why), 2);
        /* both limits: the count asks for one, the size for two */
        assert_int_equal(retention_plan(e, 3, 2, 100 * MB, why), 2);
        assert_int_equal(why[0], RETENTION_TOO_MANY);
        assert_int_equal(why[1], RETENTION_TOO_BIG);
        /* a single session larger than the limit goes too: the limit is the rule */
        assert_int_equal(retention_plan(e + 2, 1, 0, 10 * MB, why), 1);
}

typedef struct Dirs {
        char state[64], out[64];
        int records_fd, out_fd;
} Dirs;

static int setup(void **state)
{
        Dirs *d = calloc(1, sizeof(*d));
        char p[128];

        strcpy(d->state, "/tmp/pamprof-store-XXXXXX");
        strcpy(d->out, "/tmp/pamprof-out-XXXXXX");
        if (!mkdtemp(d->state) || !mkdtemp(d->out))
                return -1;
        snprintf(p, sizeof(p), "%s/sessions", d->state);
        mkdir(p, 0700);
        d->records_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d->out_fd = open(d->out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        *state = d;
        return d->records_fd >= 0 && d->out_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
        Dirs *d = *state;
        char cmd[256];

        close(d->records_fd);
        close(d->out_fd);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", d->state, d->out);
        assert_int_equal(system(cmd), 0);
        free(d);
        return 0;
}

static void put(int dir_fd, const char *name, const char *text)
{
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        close(fd);
}

/* A record of session id in state "state", its files in d->out. */
static void record_at(Dirs *d, const char *id, const char *state, int started)
{
        struct stat st;
        char name[256], *text;

        assert_int_equal(fstat(d->out_fd, &st), 0);
        assert_true(asprintf(&text,
                             "{\"id\":\"%s\",\"state\":\"%s\",\"started_at_unix\":%d,\"output_dir\":\"%s\","
                             "\"output_dir_dev\":%llu,\"output_dir_ino\":%llu,"
                             "\"files\":{\"cpu_csv\":\"%s_cpu.csv\",\"session\":\"%s_session.json\","
                             "\"evil\":\"../../etc/passwd\",\"other\":\"someone_else_cpu.csv\"}}",
                             id, state, started, d->out, (unsigned long long) st.st_dev,
                             (unsigned long long) st.st_ino, id, id) > 0);
        snprintf(name, sizeof(name), "%s.json", id);
        put(d->records_fd, name, text);
        snprintf(name, sizeof(name), "%s_session.json", id);
        put(d->out_fd, name, text);
        free(text);
}

static void record(Dirs *d, const char *id, const char *state)
{
        record_at(d, id, state, 1);
}

static char *long_string(size_t n, char c)
{
        char *s = malloc(n + 1);

        memset(s, c, n);
        s[n] = '\0';
        return s;
}

static size_t printed(const cJSON *x)
{
        char *t = cJSON_PrintUnformatted(x);
        size_t n = strlen(t);

        free(t);
        return n;
}

/* A record too long for one reply loses its lists first, each named; one that fits is left as it is. */
static void test_a_record_is_made_to_fit_a_reply(void **state)
{
        cJSON *rec = cJSON_CreateObject(), *events, *prof, *threads, *trimmed;
        char *big = long_string(400, 'e'), *name = long_string(60, '\x01'); /* escaped: 6 bytes each */

        cJSON_AddStringToObject(rec, "id", "pam_fit_20261207_120000");
        events = cJSON_AddArrayToObject(rec, "events");
        for (int i = 0; i < 100; i++)
                cJSON_AddItemToArray(events, cJSON_CreateString(big));
        prof = cJSON_AddObjectToObject(rec, "profile");
        cJSON_AddNumberToObject(prof, "samples", 1234);
        threads = cJSON_AddArrayToObject(prof, "threads");
        for (int i = 0; i < 64; i++)
                cJSON_AddItemToArray(threads, cJSON_CreateString(name));

        assert_int_equal(record_fit(rec, 1u << 20), 0); /* fits: untouched */
        assert_null(cJSON_GetObjectItemCaseSensitive(rec, "trimmed"));

        assert_int_equal(record_fit(rec, 30000), 0);
        assert_true(printed(rec) <= 30000);
        trimmed = cJSON_GetObjectItemCaseSensitive(rec, "trimmed");
        assert_int_equal(cJSON_GetArraySize(trimmed), 1);
        assert_string_equal(cJSON_GetArrayItem(trimmed, 0)->valuestring, "events");
        assert_non_null(cJSON_GetObjectItemCaseSensitive(prof, "threads"));

        assert_int_equal(record_fit(rec, 2000), 0);
        assert_int_equal(cJSON_GetArraySize(trimmed), 2);
        assert_string_equal(cJSON_GetArrayItem(trimmed, 1)->valuestring, "profile.threads");
        assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(prof, "samples")), 1234);

        assert_int_equal(record_fit(rec, 10), -E2BIG); /* what is left is the record itself */
        free(big);
        free(name);
        cJSON_Delete(rec);
}

typedef struct Deleted {
        unsigned calls;
        DeletionOutcome out[4];
        size_t n;
} Deleted;

static void on_deleted(const DeletionOutcome *out, size_t n, void *userdata)
{
        Deleted *r = userdata;

        r->calls++;
        r->n = n;
        memcpy(r->out, out, n * sizeof(*out));
}

/* Runs the loop until the deletion said it was done (or 10 s): the files went in a child. */
static void delete_now(Dirs *d, const char *const *ids, size_t n, Deleted *r)
{
        sd_event *e = NULL;
        Deletion *del = NULL;

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(deletion_start(e, d->records_fd, ids, NULL, n, on_deleted, r, &del), 0);
        for (int i = 0; i < 1000 && r->calls == 0; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(r->calls, 1);
        sd_event_unref(e);
}

static void test_delete_removes_only_the_sessions_own_files(void **state)
{
        Dirs *d = *state;
        Deleted r = { 0 };
        const char *ids[] = { "pam_a_20260101_000000", "pam_nope_20260101_000000" };

        record(d, "pam_a_20260101_000000", "stopped");
        put(d->out_fd, "pam_a_20260101_000000_cpu.csv", "elapsed_seconds\n");
        put(d->out_fd, "someone_else_cpu.csv", "x\n");
        assert_int_equal(records_delete_check(d->records_fd, ids[0], NULL, &(char *){ NULL }), 0);
        delete_now(d, ids, 2, &r);
        assert_int_equal(r.n, 2);
        assert_int_equal(r.out[0].r, 0);
        assert_int_equal(r.out[0].removed, 2);
        assert_false(r.out[0].unreachable);
        assert_int_equal(r.out[1].r, -ENOENT);
        assert_int_equal(faccessat(d->out_fd, "pam_a_20260101_000000_cpu.csv", F_OK, 0), -1);
        assert_int_equal(faccessat(d->out_fd, "someone_else_cpu.csv", F_OK, 0), 0);
        assert_int_equal(faccessat(d->records_fd, "pam_a_20260101_000000.json", F_OK, 0), -1);
        assert_int_equal(records_delete_check(d->records_fd, ids[0], NULL, &(char *){ NULL }), -ENOENT);
}

static void test_delete_refuses_the_running_session(void **state)
{
        Dirs *d = *state;
        char *error = NULL;

        record(d, "pam_b_20260101_000000", "running");
        assert_int_equal(records_delete_check(d->records_fd, "pam_b_20260101_000000",
                                              "pam_b_20260101_000000", &error),
                         -EBUSY);
        assert_string_equal(error, "Session pam_b_20260101_000000 is running; stop it first.");
        free(error);
        assert_int_equal(faccessat(d->records_fd, "pam_b_20260101_000000.json", F_OK, 0), 0);
}

static void test_retention_never_removes_the_running_one(void **state)
{
        Dirs *d = *state;
        sd_event *e = NULL;
        Retention *rt = NULL;

        record_at(d, "pam_c_20260101_000000", "stopped", 1);
        record_at(d, "pam_c_20260101_000001", "stopped", 2);
        record_at(d, "pam_d_20260101_000000", "running", 0); /* the oldest of all, and running */
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(retention_run(&rt, e, d->records_fd, "pam_d_20260101_000000", 1, 0), 0);
        /* the files go in a child; the record once it is done */
        for (int i = 0; i < 1000 && faccessat(d->records_fd, "pam_c_20260101_000000.json", F_OK, 0) == 0;
             i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        /* keep 1 finished session: the older finished one goes; the running one is not counted */
        assert_int_equal(faccessat(d->records_fd, "pam_c_20260101_000000.json", F_OK, 0), -1);
        assert_int_equal(faccessat(d->records_fd, "pam_c_20260101_000001.json", F_OK, 0), 0);
        assert_int_equal(faccessat(d->records_fd, "pam_d_20260101_000000.json", F_OK, 0), 0);
        retention_free(rt);
        sd_event_unref(e);
}

static void test_recovery_marks_interrupted_and_recounts(void **state)
{
        Dirs *d = *state;
        sd_event *e = NULL;
        Recovery *rv = NULL;
        cJSON *rec, *summary;

        record(d, "pam_e_20260101_000000", "running");
        /* three whole rows, then the one being written when the daemon died */
        put(d->out_fd, "pam_e_20260101_000000_cpu.csv",
            "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp\n"
            "1.0,10.0,50.0,1.0,2026-01-01T00:00:01\n"
            "2.0,20.0,51.0,1.0,2026-01-01T00:00:02\n"
            "3.0,30.0,52.0,1.0,2026-01-01T00:00:03\n"
            "4.0,40");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recovery_run(e, d->records_fd, -1, 0, &rv), 0);
        rec = record_read(d->records_fd, "pam_e_20260101_000000");
        assert_non_null(rec);
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(rec, "state")), "interrupted");
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "rows")), 3, 0);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "duration_seconds")), 3.0, 1e-9);
        summary = cJSON_GetObjectItem(rec, "summary");
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(summary, "cpu_mean")), 20.0, 1e-9);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(summary, "memory_max_mb")), 52.0, 1e-9);
        cJSON_Delete(rec);
        /* a stopped session is left as it was */
        recovery_free(rv);
        sd_event_unref(e);
}

/* Through recovery_run, as at start: the first row's CPU is empty (not measured yet). Before the
 * one CSV reader, recovery dropped both rows with an empty cell: 1 row where the CSV has 3. */
static void test_recovery_keeps_a_row_with_an_empty_cell(void **state)
{
        Dirs *d = *state;
        sd_event *e = NULL;
        Recovery *rv = NULL;
        cJSON *rec;

        record(d, "pam_f_20260101_000000", "running");
        put(d->out_fd, "pam_f_20260101_000000_cpu.csv",
            "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp\n"
            "1.0,,50.0,1.0,2026-01-01T00:00:01\n"
            "2.0,20.0,51.0,1.0,2026-01-01T00:00:02\n"
            "3.0,,52.0,1.0,2026-01-01T00:00:03\n");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(recovery_run(e, d->records_fd, -1, 0, &rv), 0);
        rec = record_read(d->records_fd, "pam_f_20260101_000000");
        assert_non_null(rec);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "rows")), 3, 0);
        assert_float_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(rec, "duration_seconds")), 3.0, 1e-9);
        cJSON_Delete(rec);
        recovery_free(rv);
        sd_event_unref(e);
}

/* The live session counts a row whose CPU is not measured yet (the first, an empty cell) and so
 * must recovery: sscanf() once dropped it, and with it the session's first second. */
static void test_recovery_counts_rows_with_an_empty_cell(void **state)
{
        const char *text = "elapsed_seconds,cpu_percent,memory_mb,memory_percent,timestamp\n"
                           "1.0,,50.0,1.0,2026-01-01T00:00:01\n"
                           "2.0,20.0,51.0,1.0,2026-01-01T00:00:02\n"
                           "3.0,30.0,,1.0,2026-01-01T00:00:03\n"
                           "4.0,x,52.0,1.0,t\n" /* text where a figure belongs: not a row */
                           "5.0,40.0,53.0,1.0,\"2026-01-01T00:00:05\"\r\n"
                           "6.0,40";
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        SessionStats stats;
        StatsSummary sum;
        size_t rows = 0;
        double last = NAN;

        assert_non_null(f);
        stats_init(&stats);
        assert_int_equal(recovery_csv_tally(f, &rows, &stats, &last), 0);
        fclose(f);
        assert_int_equal(rows, 4);
        assert_float_equal(last, 5.0, 0);
        stats_summary(&stats, &sum);
        assert_int_equal(sum.samples, 2); /* the figures of rows 2 and 5; the others lack one */
        assert_float_equal(sum.cpu_mean, 30.0, 1e-9);
}

/* Columns found by name, in any order; a header that is not ours is refused. */
static void test_recovery_reads_columns_by_name(void **state)
{
        const char *text = "timestamp,memory_mb,extra,cpu_percent,elapsed_seconds\n"
                           "t,50.0,\"a,b\",10.0,1.5\n";
        const char *other = "a,b,c\n1,2,3\n";
        FILE *f = fmemopen((void *) text, strlen(text), "r");
        SessionStats stats;
        size_t rows = 0;
        double last = NAN;

        stats_init(&stats);
        assert_int_equal(recovery_csv_tally(f, &rows, &stats, &last), 0);
        fclose(f);
        assert_int_equal(rows, 1);
        assert_float_equal(last, 1.5, 0);
        assert_float_equal(stats.cpu_sum, 10.0, 0);
        f = fmemopen((void *) other, strlen(other), "r");
        assert_int_equal(recovery_csv_tally(f, &rows, &stats, &last), -EBADMSG);
        fclose(f);
}

int main(void)
{
        sigset_t ss;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plan_keeps_the_newest_sessions),
                cmocka_unit_test(test_plan_by_size_goes_until_it_fits),
                cmocka_unit_test(test_a_record_is_made_to_fit_a_reply),
                cmocka_unit_test_setup_teardown(test_recovery_keeps_a_row_with_an_empty_cell, setup,
                                                teardown),
                cmocka_unit_test(test_recovery_counts_rows_with_an_empty_cell),
                cmocka_unit_test(test_recovery_reads_columns_by_name),
                cmocka_unit_test_setup_teardown(test_delete_removes_only_the_sessions_own_files, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_delete_refuses_the_running_session, setup, teardown),
                cmocka_unit_test_setup_teardown(test_retention_never_removes_the_running_one, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_recovery_marks_interrupted_and_recounts, setup,
                                                teardown),
        };
        /* As main() does: the loop's child sources (deletion's removal child) need SIGCHLD blocked. */
        sigemptyset(&ss);
        sigaddset(&ss, SIGCHLD);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
