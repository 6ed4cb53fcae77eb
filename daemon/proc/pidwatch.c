/* SPDX-License-Identifier: MIT */
#include "pidwatch.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "proc-read.h"
#include "proc-stat.h"

struct PidWatch {
        pid_t pid;
        int proc_fd;
        int pidfd;
        uint64_t starttime;
        usec_t interval;
        sd_event_source *source;
        PidWatchExited cb;
        void *userdata;
};

int pidfd_open_pid(pid_t pid)
{
        int fd = (int) syscall(SYS_pidfd_open, pid, 0);
        return fd < 0 ? -errno : fd;
}

/* 0: alive (starttime in *ret), -ESRCH: gone or a zombie, or another process now has the pid. */
static int probe(int proc_fd, pid_t pid, uint64_t *ret_starttime)
{
        ProcStat st;
        int r = proc_stat_read(proc_fd, pid, &st);

        if (r < 0)
                return r;
        if (st.state == 'Z' || st.state == 'X')
                return -ESRCH;
        *ret_starttime = st.starttime;
        return 0;
}

static int on_exit_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        PidWatch *w = userdata;

        sd_event_source_set_enabled(s, SD_EVENT_OFF);
        w->cb(w->userdata, w->pid);
        return 0;
}

static int on_fallback_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        PidWatch *w = userdata;
        uint64_t start = 0;

        if (probe(w->proc_fd, w->pid, &start) == 0 && start == w->starttime) {
                sd_event_source_set_time_relative(s, w->interval);
                return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        w->cb(w->userdata, w->pid);
        return 0;
}

int pidwatch_new(sd_event *e, int proc_fd, pid_t pid, usec_t fallback_interval, PidWatchExited cb,
                 void *userdata, PidWatch **ret)
{
        PidWatch *w = calloc(1, sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (PidWatch){ .pid = pid,
                         .proc_fd = proc_fd,
                         .pidfd = -1,
                         .interval = fallback_interval,
                         .cb = cb,
                         .userdata = userdata };
        r = probe(proc_fd, pid, &w->starttime);
        if (r < 0)
                goto fail;
        w->pidfd = pidfd_open_pid(pid);
        if (w->pidfd >= 0)
                r = sd_event_add_io(e, &w->source, w->pidfd, EPOLLIN, on_exit_io, w);
        else if (w->pidfd == -ENOSYS) {
                log_debug("pidfd_open() is not available; checking pid %d every %gs", (int) pid,
                          (double) fallback_interval / 1e6);
                r = sd_event_add_time_relative(e, &w->source, CLOCK_MONOTONIC, fallback_interval,
                                               USEC_PER_SEC / 4, on_fallback_timer, w);
        } else
                r = w->pidfd;
        if (r < 0)
                goto fail;
        *ret = w;
        return 0;
fail:
        pidwatch_free(w);
        return r;
}

PidWatch *pidwatch_free(PidWatch *w)
{
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        if (w->pidfd >= 0)
                close(w->pidfd);
        free(w);
        return NULL;
}

int pid_probe_open(int proc_fd, pid_t pid, PidProbe *ret)
{
        PidProbe p = { .pid = pid, .pidfd = -1, .proc_fd = proc_fd };
        int r = probe(proc_fd, pid, &p.starttime);

        if (r < 0)
                return r;
        r = pidfd_open_pid(pid);
        if (r >= 0)
                p.pidfd = r;
        else if (r == -ESRCH)
                return r;
        *ret = p;
        return 0;
}

bool pid_probe_alive(const PidProbe *p)
{
        uint64_t start = 0;

        if (p->pid <= 0)
                return false;
        if (p->pidfd >= 0) {
                struct pollfd q = { .fd = p->pidfd, .events = POLLIN };
                /* readable: it has exited (a zombie counts: it runs no more) */
                if (poll(&q, 1, 0) != 0)
                        return false;
        }
        /* The pidfd says nothing of a process whose threads are still going down: /proc does. */
        return probe(p->proc_fd, p->pid, &start) == 0 && start == p->starttime;
}

void pid_probe_close(PidProbe *p)
{
        if (p->pidfd >= 0)
                close(p->pidfd);
        p->pidfd = -1;
        p->pid = 0;
}
