/* SPDX-License-Identifier: MIT */
/* pamprofctl's text for a person: status, a session started or stopped, its profile, a record. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "build-config.h"
#include "cleanup.h"
#include "protocol.h"
#include "verbs-internal.h"

/* A record lists the first of its threads, runs, events; the count says how many there were
 * (records of 0.1.0 before the count listed them all). */
static double listed_count(const cJSON *o, const char *count_key, const char *list_key)
{
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, count_key);

        return cJSON_IsNumber(n)
                ? n->valuedouble
                : (double) cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, list_key));
}

/* What the daemon left out of a record too long for one reply (record_fit); the file has it. */
static void print_trimmed(const cJSON *rec)
{
        const cJSON *t, *list = cJSON_GetObjectItemCaseSensitive(rec, "trimmed");
        const char *sep = "";

        if (cJSON_GetArraySize(list) == 0)
                return;
        printf("Left out of this answer, too long for one reply: ");
        cJSON_ArrayForEach(t, list)
        {
                printf("%s%s", sep, cJSON_IsString(t) ? t->valuestring : "?");
                sep = ", ";
        }
        printf(" (the record's file, %s, has them).\n",
               json_string(cJSON_GetObjectItemCaseSensitive(rec, "files"), "session", "_session.json"));
}

void print_files(const cJSON *result)
{
        const cJSON *files = cJSON_GetObjectItemCaseSensitive(result, "files"), *f;
        const char *dir = json_string(result, "output_dir", NULL);

        if (!cJSON_IsObject(files))
                return;
        printf("Files in %s:\n", dir ? dir : "the output directory");
        cJSON_ArrayForEach(f, files)
        {
                if (cJSON_IsString(f))
                        printf("  %s%s%s\n", dir ? dir : "", dir && dir[strlen(dir) - 1] != '/' ? "/" : "",
                               f->valuestring);
        }
}

void print_summary(const cJSON *result)
{
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(result, "summary");
        double rows = json_number(result, "rows", 0);

        if (!cJSON_IsObject(s) || json_number(s, "samples", 0) <= 0) {
                printf("%.0f rows.\n", rows);
                return;
        }
        printf("%.0f rows; CPU mean %.2f%%, p95 %.2f%%, max %.2f%% of the machine; memory %.1f -> %.1f MB "
               "(max %.1f)",
               rows, json_number(s, "cpu_mean", NAN), json_number(s, "cpu_p95", NAN),
               json_number(s, "cpu_max", NAN), json_number(s, "memory_start_mb", NAN),
               json_number(s, "memory_end_mb", NAN), json_number(s, "memory_max_mb", NAN));
        /* No MB per hour of our own: a line fitted over every row calls a warm-up or a 9 s session
         * a growth rate, and across a restart it mixes two processes. The report judges memory by
         * its shape and gives MB/h only for a leak; the record has its verdict once it is made. */
        if (json_string(cJSON_GetObjectItemCaseSensitive(result, "memory_trend"), "description", NULL))
                printf(".\nMemory: %s.\n",
                       json_string(cJSON_GetObjectItemCaseSensitive(result, "memory_trend"), "description",
                                   ""));
        else
                printf("; memory's trend: pamprofctl report %s.\n", json_string(result, "id", "ID"));
}

void print_version(const cJSON *res)
{
        printf("pamprofd %s (protocol %.0f)\n", json_string(res, "version", "?"),
               json_number(res, "protocol", 0));
}

/* ---- status ---- */

/* The flight recorder, when it is on: what it holds, its Austin and aggregator, its captures. */
static void print_recorder(const cJSON *rec)
{
        if (!cJSON_IsObject(rec))
                return;
        printf("Recorder: holding %.0fs of rows, %.0fs of stacks (window %.0fs + %.0fs after); Austin %s",
               json_number(rec, "seconds_held", 0), json_number(rec, "stack_seconds_held", 0),
               json_number(rec, "window_seconds", 0), json_number(rec, "after_seconds", 0),
               json_string(rec, "austin", "?"));
        if (json_string(rec, "paused_for", NULL))
                printf(" (%s)", json_string(rec, "paused_for", ""));
        printf("\n          cost: Austin %.1f%% of a core, %.1f MB; aggregator %.1f%%, %.1f MB (%.1f MB held)\n",
               json_number(rec, "austin_cpu_core_percent", 0), json_number(rec, "austin_rss_mb", 0),
               json_number(rec, "aggregator_cpu_core_percent", 0), json_number(rec, "aggregator_rss_mb", 0),
               json_number(rec, "aggregator_memory_bytes", 0) / 1048576.0);
        printf("          %.0f captures in the last hour (%.0f held back); triggers: %s\n",
               json_number(rec, "captures_last_hour", 0), json_number(rec, "held_back", 0),
               json_string(rec, "trigger_state", "?"));
        if (json_string(rec, "problem", NULL))
                printf("          problem: %s\n", json_string(rec, "problem", ""));
}

void print_status(const cJSON *res)
{
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(res, "daemon");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "target");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(res, "session");
        const cJSON *last;
        char a[32], b[32];

        format_seconds(json_number(d, "uptime_seconds", 0), a, sizeof(a));
        printf("pamprofd %s, pid %.0f, up %s, socket %s\n", json_string(d, "version", "?"),
               json_number(d, "pid", 0), a, json_string(d, "socket", "?"));
        if (strcmp(json_string(t, "state", ""), "running") == 0) {
                format_seconds(json_number(t, "uptime_seconds", 0), a, sizeof(a));
                printf("PAM:     pid %.0f, up %s, restarts seen %.0f\n         %s\n",
                       json_number(t, "pid", 0), a, json_number(t, "restarts", 0),
                       json_string(t, "cmdline", ""));
        } else if (json_string(t, "unit", NULL))
                printf("PAM:     not running (%s has no main process)\n", json_string(t, "unit", "?"));
        else
                printf("PAM:     not running (looking for \"%s\")\n", json_string(t, "match", "?"));
        print_recorder(cJSON_GetObjectItemCaseSensitive(res, "recorder"));
        if (!cJSON_IsObject(s)) {
                printf("Session: none%s\n",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "waiting_for_target"))
                               ? " (a start is waiting for PAM)"
                               : "");
                return;
        }
        format_seconds(json_number(s, "elapsed_seconds", 0), a, sizeof(a));
        format_seconds(json_number(s, "duration", 0), b, sizeof(b));
        printf("Session: %s (%s), %s %s%s%s, pid %.0f, every %gs\n", json_string(s, "id", "?"),
               json_string(s, "scenario", "?"), json_string(s, "state", "?"), a,
               json_number(s, "duration", 0) > 0 ? " of " : "", json_number(s, "duration", 0) > 0 ? b : "",
               json_number(s, "pid", 0), json_number(s, "interval", 1));
        last = cJSON_GetObjectItemCaseSensitive(s, "last");
        if (cJSON_IsObject(last))
                printf("         %.0f rows; CPU %.2f%% now (%.1f%% of a core), %.2f%% mean; memory %.1f MB\n",
                       json_number(s, "rows", 0), json_number(last, "cpu_percent", NAN),
                       json_number(last, "cpu_core_percent", NAN),
                       json_number(cJSON_GetObjectItemCaseSensitive(s, "summary"), "cpu_mean", NAN),
                       json_number(last, "memory_mb", NAN));
        else
                printf("         no rows yet\n");
        last = cJSON_GetObjectItemCaseSensitive(s, "profile");
        if (cJSON_IsObject(last)) {
                const cJSON *runs = cJSON_GetObjectItemCaseSensitive(last, "runs");
                const cJSON *run = cJSON_GetArrayItem(runs, cJSON_GetArraySize(runs) - 1);
                printf("         %s: %s", json_string(last, "version", sampler_name(last)),
                       json_string(last, "state", "?"));
                if (json_number(last, "pid", 0) > 0)
                        printf(", pid %.0f, run %.0f", json_number(last, "pid", 0),
                               listed_count(last, "run_count", "runs"));
                if (run && strcmp(json_string(run, "outcome", ""), "failed") == 0)
                        printf("; last run failed: %s", json_string(run, "reason", "?"));
                printf("\n");
                print_coverage(last, "         ");
        }
}

void print_started(const cJSON *res, bool duration_given)
{
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(res, "status");
        double duration = json_number(res, "duration", 0);
        char d[32];

        format_seconds(duration, d, sizeof(d));
        printf("Started %s on pid %.0f: every %gs, ", json_string(res, "id", "?"),
               json_number(res, "pid", 0), json_number(res, "interval", 1));
        if (duration_given)
                printf("for %s.\n", d);
        else if (duration > 0)
                printf("until stopped (at most %s, the daemon's max_duration).\n", d);
        else
                printf("until stopped.\n");
        print_files(st);
}

/* ---- stop ---- */

/* "Austin", as the daemon names the sampler that ran; older records say "py-spy" or "austin" only. */
const char *sampler_name(const cJSON *p)
{
        const char *name = json_string(p, "profiler_name", NULL);

        if (name)
                return name;
        name = json_string(p, "profiler", "py-spy");
        return strcmp(name, "austin") == 0 ? "Austin" : name;
}

/* "Coverage: 94 % of the session (11.3 of 12.0 s); Austin stopped early 8 times and was restarted." */
void print_coverage(const cJSON *p, const char *indent)
{
        double cov = json_number(p, "coverage", NAN), early = json_number(p, "early_exits", 0);
        const char *warning = json_string(p, "coverage_warning", NULL);

        if (!isfinite(cov))
                return;
        if (warning) {
                printf("%sWarning: %s.\n", indent, warning);
                return;
        }
        printf("%sCoverage: %.0f %% of the session (%.1f s profiled)", indent, floor(cov * 100),
               json_number(p, "profiled_seconds", 0));
        if (early > 0)
                printf("; %s stopped early %.0f time%s and was restarted", sampler_name(p), early,
                       early == 1 ? "" : "s");
        printf(".\n");
}

void print_profile(const cJSON *res)
{
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, "profile");
        const char *state = json_string(p, "state", "?");

        if (!cJSON_IsObject(p))
                return;
        if (strcmp(state, "ok") == 0 || strcmp(state, "recovered") == 0)
                printf("Profile: %s, %.0f samples over %.0f threads, %.0f %s run(s) (%s)%s.\n", state,
                       json_number(p, "samples", 0), listed_count(p, "thread_count", "threads"),
                       listed_count(p, "run_count", "runs"), sampler_name(p), json_string(p, "version", "?"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "capped"))
                               ? "; profiling stopped early at the daemon's max_profile_mb"
                               : "");
        else if (strcmp(state, "running") == 0 || strcmp(state, "waiting") == 0 ||
                 strcmp(state, "restarting") == 0)
                printf("Profile: %s (%s), %.0f run(s) so far; the file is written when the session stops.\n",
                       strcmp(state, "running") == 0              ? "recording"
                               : strcmp(state, "restarting") == 0 ? "restarting after an early stop"
                                                                  : "waiting for PAM",
                       sampler_name(p), listed_count(p, "run_count", "runs"));
        else
                printf("Profile: %s: %s.\n", state, json_string(p, "reason", "no reason given"));
        print_coverage(p, "         ");
}

void print_stopped(const cJSON *res)
{
        char d[32];

        format_seconds(json_number(res, "duration_seconds", 0), d, sizeof(d));
        printf("Session %s %s after %s: %s.\n", json_string(res, "id", "?"), json_string(res, "state", "?"),
               d, json_string(res, "end_reason", "?"));
        print_summary(res);
        print_profile(res);
        print_files(res);
        print_trimmed(res);
}

/* A flight recorder's capture: what fired, when, its window, and the thread busiest around it. */
static void print_capture(const cJSON *rec)
{
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "capture");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(c, "busiest_thread");
        char at[32], before[32], after[32];

        if (!cJSON_IsObject(c))
                return;
        format_seconds(json_number(c, "fired_elapsed_seconds", 0), at, sizeof(at));
        format_seconds(json_number(c, "before_seconds", 0), before, sizeof(before));
        format_seconds(json_number(c, "after_seconds", 0), after, sizeof(after));
        printf("Capture:  trigger %s at %s: %s; the window is %s before it and %s after\n",
               json_string(c, "trigger", "?"), at, json_string(c, "message", "?"), before, after);
        if (cJSON_IsObject(b))
                printf("          busiest thread: Thread %.0f \"%s\", %.0f%% of a core (the profile opens on it)\n",
                       json_number(b, "tid", 0), json_string(b, "name", ""),
                       json_number(b, "cpu_core_percent", 0));
}

void print_record(const cJSON *rec)
{
        const cJSON *ev, *target = cJSON_GetObjectItemCaseSensitive(rec, "target");
        const cJSON *opts = cJSON_GetObjectItemCaseSensitive(rec, "options");
        char d[32];

        format_seconds(json_number(rec, "duration_seconds", 0), d, sizeof(d));
        printf("Session:  %s\nScenario: %s\nState:    %s%s%s\n", json_string(rec, "id", "?"),
               json_string(rec, "scenario", "?"), json_string(rec, "state", "?"),
               json_string(rec, "end_reason", NULL) ? " - " : "", json_string(rec, "end_reason", ""));
        printf("Started:  %s\nEnded:    %s\nDuration: %s\n", json_string(rec, "started_at", "?"),
               json_string(rec, "ended_at", "-"), d);
        printf("Target:   pid %.0f", json_number(target, "pid", 0));
        if (json_string(target, "cmdline", "")[0])
                printf(" %s\n", json_string(target, "cmdline", ""));
        else
                printf(" (its command line is not known)\n");
        printf("Interval: %gs%s\n", json_number(opts, "interval", 1),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(opts, "include_children"))
                       ? ", children included"
                       : "");
        print_capture(rec);
        print_summary(rec);
        print_profile(rec);
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rec, "events")) > 0)
                printf("Events:\n");
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(rec, "events"))
        {
                format_seconds(json_number(ev, "elapsed_seconds", 0), d, sizeof(d));
                printf("  %8s  %-16s %s\n", d, json_string(ev, "type", "?"), json_string(ev, "message", ""));
                if (json_number(ev, "omitted_after", 0) > 0)
                        printf("  %8s  %-16s %.0f more events, in the journal (journalctl -u pamprofd)\n",
                               "…", "", json_number(ev, "omitted_after", 0));
        }
        print_files(rec);
        print_trimmed(rec);
}
