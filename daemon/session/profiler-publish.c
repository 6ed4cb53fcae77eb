/* SPDX-License-Identifier: MIT */
/*
 * The profiler part's runs into the session's one file (session-parts.h).
 * A backend with a converter (Austin) has each run converted to speedscope
 * in a child as soon as it ends; at stop the usable runs are merged (or
 * copied, when there is one) into the output directory, created with
 * O_EXCL|O_NOFOLLOW and owned by the client, by an unprivileged child that
 * gets only those descriptors (merge-child.h). The event loop never reads a
 * profile, nor waits for one.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "session-parts.h"

/* The runs' files in staging, once they are published: their names, for a child to remove. */
static size_t run_files(const Profiler *p, const char **names, size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < p->n_runs && n + 3 <= max; i++) {
                const Run *run = &p->runs[i];
                names[n++] = run->staged;
                if (strcmp(run->raw, run->staged) != 0)
                        names[n++] = run->raw;
                if (run->names[0])
                        names[n++] = run->names;
        }
        return n;
}

bool profiler_finished(const Profiler *p)
{
        return p->stopping && !p->current && p->converting == 0;
}

static void on_converted(const ProfileConvertResult *res, void *userdata)
{
        Run *run = userdata;
        Profiler *p = run->owner;

        run->conv = *res; /* res belongs to the child freed next */
        res = &run->conv;
        run->conv_child = convert_child_free(run->conv_child);
        p->converting--;
        if (res->r >= 0) {
                run->converted = true;
                log_info("%s: %s run %zu converted: %" PRIu64 " samples, %zu threads, %zu frames%s",
                         session_id(p->session), p->backend->display, (size_t) (run - p->runs) + 1,
                         res->samples, res->profiles, res->frames,
                         res->cut ? ", up to its last whole line" : "");
        } else {
                run->outcome = RUN_FAILED;
                p->failed_runs++;
                snprintf(run->reason, sizeof(run->reason),
                         "its output could not be converted to speedscope: %s",
                         res->message[0] ? res->message : strerror(-res->r));
                session_event(p->session, "profiler-failed", run->target, "%s run %zu: %s",
                              p->backend->display, (size_t) (run - p->runs) + 1, run->reason);
        }
        if (profiler_finished(p))
                profiler_finish(p);
}

/* In a child (convert-child.h): the conversion reads and writes files only, and the loop goes on. */
void profiler_convert(Profiler *p, Run *run)
{
        Session *s = p->session;
        int r = convert_child_start(session_event_loop(s),
                                    &(ConvertSpec){ .backend = p->backend,
                                                    .staging_fd = session_env(s)->staging_fd,
                                                    .raw_name = run->raw,
                                                    .names_name = run->names[0] ? run->names : NULL,
                                                    .out_name = run->staged,
                                                    .subprocesses = session_options(s)->subprocesses,
                                                    .version = p->version,
                                                    .remove_inputs = true },
                                    on_converted, run, &run->conv_child);

        if (r >= 0) {
                p->converting++;
                return;
        }
        run->outcome = RUN_FAILED;
        snprintf(run->reason, sizeof(run->reason), "its output could not be converted: %s", strerror(-r));
}

/* The part's result for the record, once the runs are published (r < 0: the profile could not be). */
static void profiler_conclude(Profiler *p, int r, const char *error)
{
        const char *name = p->backend->display;
        const Run *partial = NULL;
        size_t good = p->good, counted = 0;

        for (size_t i = 0; i < p->n_runs; i++) {
                if (p->runs[i].outcome == RUN_PARTIAL && !partial)
                        partial = &p->runs[i];
                counted += p->runs[i].outcome != RUN_GONE;
        }
        if (r < 0) {
                snprintf(p->result, sizeof(p->result), "missing");
                snprintf(p->result_reason, sizeof(p->result_reason),
                         "the profile could not be written to the output directory: %s",
                         error ? error : strerror(-r));
        } else if (good == 0) {
                const Run *last = p->n_runs ? &p->runs[p->n_runs - 1] : NULL;
                /* A run the stop cut short as it started says less than the failure before it. */
                for (size_t i = p->n_runs; i > 0 && last && last->stop_sent; i--)
                        if (!p->runs[i - 1].stop_sent) {
                                last = &p->runs[i - 1];
                                break;
                        }
                snprintf(p->result, sizeof(p->result),
                         last && last->outcome == RUN_LOST ? "lost" : "missing");
                if (last)
                        snprintf(p->result_reason, sizeof(p->result_reason), "%s", last->reason);
                else
                        snprintf(p->result_reason, sizeof(p->result_reason),
                                 "PAM was not running while the session was, so %s never ran", name);
        } else if (good < counted) {
                snprintf(p->result, sizeof(p->result), "partial");
                snprintf(p->result_reason, sizeof(p->result_reason), "%zu of %zu %s runs left a usable file",
                         good, counted, name);
        } else if (partial) {
                snprintf(p->result, sizeof(p->result), "partial");
                snprintf(p->result_reason, sizeof(p->result_reason), "%s run %zu: %s", name,
                         (size_t) (partial - p->runs) + 1, partial->reason);
        } else
                snprintf(p->result, sizeof(p->result), "ok");
        if (strcmp(p->result, "ok") != 0)
                log_warning("%s: profile %s: %s", session_id(p->session), p->result, p->result_reason);
        session_part_stopped(p->session, p);
}

static void on_runs_removed(Child *c, const ChildResult *res, void *userdata)
{
        Profiler *p = userdata;

        p->remove = child_free(p->remove);
        profiler_conclude(p, 0, NULL);
}

static void on_published(int r, const MergeFacts *facts, const char *error, void *userdata)
{
        Profiler *p = userdata;
        Session *s = p->session;
        const char *names[3 * RUNS_MAX];
        size_t n;

        p->merge = merge_child_free(p->merge);
        if (r < 0) {
                (void) unlinkat(session_dir_fd(s), p->file, 0);
                p->file[0] = '\0';
                profiler_conclude(p, r, error);
                return;
        }
        p->facts = *facts;
        session_set_file(s, "profile", "profile.speedscope.json");
        /* Hundreds of MB of runs: the kernel frees them in a child's time, not the loop's. */
        n = run_files(p, names, ELEMENTSOF(names));
        if (child_remove_start(session_event_loop(s), session_env(s)->staging_fd, names, n, on_runs_removed,
                               p, &p->remove) >= 0)
                return;
        for (size_t i = 0; i < n; i++)
                (void) unlinkat(session_env(s)->staging_fd, names[i], 0);
        profiler_conclude(p, 0, NULL);
}

/*
 * Copy (one run) or merge (several) the good runs into the output directory, in a child: the
 * daemon opens the runs and creates the output, the child gets those descriptors only. 1 when
 * it runs (on_published() follows), 0 when there is nothing to publish, or -errno.
 */
static int profiler_publish(Profiler *p)
{
        Session *s = p->session;
        const SessionEnv *m = session_env(s);
        MergeInput in[RUNS_MAX];
        _cleanup_close_ int out = -1;
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; i < p->n_runs; i++) {
                if (!run_usable(&p->runs[i]))
                        continue;
                in[n].fd = openat(m->staging_fd, p->runs[i].staged, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                in[n].pid = p->runs[i].target;
                in[n].start = (double) (p->runs[i].started_mono - session_start_mono(s)) / 1e6;
                if (in[n].fd >= 0)
                        n++;
        }
        p->good = n;
        if (n == 0)
                return 0;
        snprintf(p->file, sizeof(p->file), "%s_profile.speedscope.json", session_id(s));
        r = create_file_at(session_dir_fd(s), p->file, session_file_uid(s), session_file_gid(s), &out);
        p->facts =
                (MergeFacts){ .threads = p->threads = cJSON_CreateArray(), .sampler = p->backend->display };
        if (r >= 0)
                r = merge_child_start(session_event_loop(s),
                                      &(MergeSpec){ .in = in,
                                                    .n = n,
                                                    .out_fd = out,
                                                    .copy_single = true,
                                                    .sampler = p->backend->display,
                                                    .threads = p->threads,
                                                    .uid = session_file_uid(s),
                                                    .gid = session_file_gid(s) },
                                      on_published, p, &p->merge);
        for (size_t i = 0; i < n; i++)
                close(in[i].fd);
        if (r >= 0)
                return 1;
        if (out >= 0)
                (void) unlinkat(session_dir_fd(s), p->file, 0);
        p->file[0] = '\0';
        return r;
}

void profiler_finish(Profiler *p)
{
        int r;

        if (p->publishing)
                return;
        p->publishing = true;
        p->chunk_timer = sd_event_source_disable_unref(p->chunk_timer);
        r = profiler_publish(p);
        if (r <= 0)
                profiler_conclude(p, r, NULL);
}

void profiler_publish_free(Profiler *p)
{
        p->remove = child_free(p->remove);
        for (size_t i = 0; i < p->n_runs; i++)
                /* The staged output stays; recovery converts it. */
                p->runs[i].conv_child = convert_child_free(p->runs[i].conv_child);
        if (p->merge) {
                /* Cut short (the daemon exits at once): no half-written profile is left; recovery
                 * merges the staged runs at the next start. */
                p->merge = merge_child_free(p->merge);
                (void) unlinkat(session_dir_fd(p->session), p->file, 0);
        }
}
