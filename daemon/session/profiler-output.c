/* SPDX-License-Identifier: MIT */
/*
 * The profiler part's sampler's output (session-parts.h): its stdout and
 * stderr go to a file in staging, not a pipe (a pipe with no reader would
 * make py-spy fail before it writes its profile when the daemon dies), and
 * the daemon follows that file with inotify, line by line into the log, the
 * last lines kept for the record.
 */
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "session-parts.h"

static void remember_line(Profiler *p, const char *line)
{
        LogFields f = { .session = session_id(p->session),
                        .event = "profiler-output",
                        .pid = p->current ? p->current->child : 0 };

        log_struct(LOG_INFO, &f, "%s: %s[%d]: %s", session_id(p->session), p->backend->name, (int) f.pid,
                   line);
        if (p->n_tail == TAIL_LINES) {
                memmove(p->tail[0], p->tail[1], sizeof(p->tail[0]) * (TAIL_LINES - 1));
                p->n_tail--;
        }
        snprintf(p->tail[p->n_tail++], sizeof(p->tail[0]), "%s", line);
}

static void drain_output(Profiler *p)
{
        char buf[4096];
        ssize_t n;

        while (p->output_fd >= 0 && (n = read(p->output_fd, buf, sizeof(buf))) > 0)
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || p->linelen == sizeof(p->linebuf) - 1) {
                                p->linebuf[p->linelen] = '\0';
                                if (p->linelen > 0)
                                        remember_line(p, p->linebuf);
                                p->linelen = 0;
                                if (buf[i] == '\n')
                                        continue;
                        }
                        p->linebuf[p->linelen++] = buf[i];
                }
}

void profiler_output_close(Profiler *p)
{
        drain_output(p);
        if (p->linelen > 0) {
                p->linebuf[p->linelen] = '\0';
                remember_line(p, p->linebuf);
                p->linelen = 0;
        }
        p->output_source = sd_event_source_disable_unref(p->output_source);
        if (p->output_fd >= 0)
                close(p->output_fd);
        p->output_fd = -1;
}

static int on_output(sd_event_source *s, const struct inotify_event *event, void *userdata)
{
        drain_output(userdata);
        return 0;
}

const char *profiler_output_last_line(const Profiler *p)
{
        const char *noise = p->backend->output_noise;

        for (size_t i = p->n_tail; i > 0; i--)
                if (!noise || strncmp(p->tail[i - 1], noise, strlen(noise)) != 0)
                        return p->tail[i - 1];
        return "no output";
}

void profiler_output_follow(Profiler *p, const char *path)
{
        (void) sd_event_add_inotify(session_event_loop(p->session), &p->output_source, path, IN_MODIFY,
                                    on_output, p);
}
