/* SPDX-License-Identifier: MIT */
#include "profiler-threads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "austin-names.h"
#include "fs-util.h"
#include "proc-comm.h"
#include "proc-read.h"

struct ThreadRecorder {
        int fd;
        int proc_fd;
        AustinNames seen;
};

typedef struct Scan {
        ThreadRecorder *t;
        pid_t pid;
} Scan;

static int note_thread(pid_t tid, void *userdata)
{
        Scan *s = userdata;
        char path[64], buf[64], name[32], line[128];
        const char *old;
        size_t len;
        int k;

        snprintf(path, sizeof(path), "%d/task/%d/comm", (int) s->pid, (int) tid);
        if (proc_read_file(s->t->proc_fd, path, buf, sizeof(buf), &len) < 0 ||
            proc_comm_parse(buf, len, name, sizeof(name)) < 0)
                return 0; /* gone since the listing */
        old = austin_names_lookup(&s->t->seen, s->pid, tid);
        if (old && strcmp(old, name) == 0)
                return 0;
        if (austin_names_add(&s->t->seen, s->pid, tid, name) < 0)
                return -ENOMEM;
        k = austin_names_format(s->pid, tid, name, line, sizeof(line));
        if (k > 0)
                (void) write_all(s->t->fd, line, (size_t) k);
        return 0;
}

void thread_recorder_scan(ThreadRecorder *t, pid_t pid)
{
        char path[32];
        uint64_t buf[512];
        int fd;

        if (!t || pid <= 0)
                return;
        snprintf(path, sizeof(path), "%d/task", (int) pid);
        fd = proc_open(t->proc_fd, path, O_DIRECTORY);
        if (fd < 0)
                return;
        (void) proc_list_ids(fd, buf, sizeof(buf), note_thread, &(Scan){ t, pid });
        close(fd);
}

int thread_recorder_new(int dir_fd, const char *name, int proc_fd, ThreadRecorder **ret)
{
        ThreadRecorder *t = calloc(1, sizeof(*t));

        if (!t)
                return -ENOMEM;
        t->proc_fd = proc_fd;
        t->fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (t->fd < 0) {
                int r = -errno;
                free(t);
                return r;
        }
        *ret = t;
        return 0;
}

ThreadRecorder *thread_recorder_free(ThreadRecorder *t)
{
        if (!t)
                return NULL;
        close(t->fd);
        austin_names_done(&t->seen);
        free(t);
        return NULL;
}
