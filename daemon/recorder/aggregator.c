/* SPDX-License-Identifier: MIT */
#include "aggregator.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "austin-names.h"
#include "child.h"
#include "cleanup.h"
#include "log.h"

#define AGG_WRITE 1
#define AGG_STATS 2
#define AGG_READ_BYTES (64 * 1024)
#define PENDING_MAX 16
/* Long-lived: the child's time limit is the daemon's lifetime, in practice. */
#define AGG_TIMEOUT (10ULL * 365 * 24 * 3600 * USEC_PER_SEC)

typedef struct AggRequest {
        uint32_t type;
        uint64_t first;
        uint32_t n;
        int32_t pid, focus_tid;
        uint32_t n_names;
        AggName names[AGG_NAMES_MAX];
} AggRequest;

typedef struct AggArgs {
        int ctl, stream;
        unsigned seconds;
} AggArgs;

typedef struct Pending {
        AggDoneFunc done;
        void *userdata;
} Pending;

struct Aggregator {
        sd_event *event;
        Child *child;
        int ctl, stream;
        sd_event_source *io;
        Pending pending[PENDING_MAX];
        size_t n_pending;
        StackRingStats stats;
        AggGoneFunc gone;
        void *userdata;
};

/* ---- In the child ---- */

static uint64_t now_second(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec;
}

static int agg_answer(StackRing *ring, int ctl)
{
        AggRequest q;
        AggReply rep = { 0 };
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { &q, sizeof(q) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)
        };
        struct cmsghdr *cm;
        int fd = -1;
        ssize_t n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);

        if (n == 0)
                return -ECONNRESET; /* the daemon closed: time to go */
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
                if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
                        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        if ((size_t) n != sizeof(q))
                rep.r = -EBADMSG;
        else if (q.type == AGG_WRITE && fd >= 0) {
                AustinNames names = { 0 };
                FILE *out = fdopen(fd, "we");

                for (uint32_t i = 0; i < q.n_names && i < AGG_NAMES_MAX; i++) {
                        q.names[i].name[sizeof(q.names[i].name) - 1] = '\0';
                        (void) austin_names_add(&names, q.pid, q.names[i].tid, q.names[i].name);
                }
                if (!out)
                        rep.r = -errno;
                else {
                        fd = -1;
                        setvbuf(out, NULL, _IOFBF, 256 * 1024);
                        rep.r = stack_ring_write_speedscope(ring, q.first, q.n, q.focus_tid, &names, NULL,
                                                            out, &rep.facts);
                        if (fflush(out) != 0 && rep.r >= 0)
                                rep.r = -errno;
                        if (rep.r >= 0 && fsync(fileno(out)) < 0 && errno != EINVAL)
                                rep.r = -errno;
                        fclose(out);
                }
                austin_names_done(&names);
                if (rep.r < 0)
                        snprintf(rep.error, sizeof(rep.error), "cannot write the profile: %s",
                                 strerror(-rep.r));
        } else if (q.type != AGG_STATS)
                rep.r = -EBADMSG;
        if (fd >= 0)
                close(fd);
        stack_ring_stats(ring, &rep.stats);
        return send(ctl, &rep, sizeof(rep), MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* Reads what is there into the ring (stack_ring_feed keeps a partial line). -EPIPE at the end. */
static int agg_read(StackRing *ring, int fd, char *buf)
{
        ssize_t n = read(fd, buf, AGG_READ_BYTES);

        if (n == 0)
                return -EPIPE;
        if (n < 0)
                return errno == EINTR || errno == EAGAIN ? 0 : -errno;
        return stack_ring_feed(ring, now_second(), buf, (size_t) n);
}

static int agg_work(void *arg, void *out, char **err)
{
        AggArgs *a = arg;
        StackRing *ring = NULL;
        char *buf = malloc(AGG_READ_BYTES);
        bool stream_open = true;
        int r;

        r = buf ? stack_ring_new(&(StackRingOptions){ .seconds = a->seconds }, &ring) : -ENOMEM;
        while (r >= 0) {
                struct pollfd p[2] = { { a->ctl, POLLIN, 0 }, { stream_open ? a->stream : -1, POLLIN, 0 } };

                if (poll(p, 2, -1) < 0) {
                        r = errno == EINTR ? 0 : -errno;
                        continue;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        r = agg_read(ring, a->stream, buf);
                        if (r == -EPIPE) { /* no writer left: the daemon closed its end */
                                stream_open = false;
                                r = 0;
                        }
                }
                if (r >= 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        r = agg_answer(ring, a->ctl);
        }
        if (r == -ECONNRESET)
                r = 0;
        else if (r < 0 && asprintf(err, "the aggregator stopped: %s", strerror(-r)) < 0)
                *err = NULL;
        stack_ring_free(ring);
        free(buf);
        return r;
}

/* ---- In the daemon ---- */

static void fail_pending(Aggregator *a)
{
        size_t n = a->n_pending;
        Pending p[PENDING_MAX];

        memcpy(p, a->pending, n * sizeof(Pending));
        a->n_pending = 0;
        for (size_t i = 0; i < n; i++)
                if (p[i].done)
                        p[i].done(NULL, p[i].userdata);
}

static int on_ctl(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Aggregator *a = userdata;
        AggReply rep;
        ssize_t n = recv(fd, &rep, sizeof(rep), MSG_DONTWAIT);
        Pending p;

        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return 0;
        if (n != (ssize_t) sizeof(rep)) {
                /* Gone, or not speaking the protocol: it is ended; the child source says so. */
                a->io = sd_event_source_disable_unref(a->io);
                fail_pending(a);
                return 0;
        }
        rep.error[sizeof(rep.error) - 1] = '\0';
        a->stats = rep.stats;
        if (a->n_pending == 0)
                return 0;
        p = a->pending[0];
        memmove(a->pending, a->pending + 1, --a->n_pending * sizeof(Pending));
        if (p.done)
                p.done(&rep, p.userdata);
        return 0;
}

static void on_child_done(Child *c, const ChildResult *res, void *userdata)
{
        Aggregator *a = userdata;
        char why[256];

        snprintf(why, sizeof(why), "%s",
                 res->error           ? res->error
                         : res->r < 0 ? strerror(-res->r)
                                      : "it exited");
        a->child = child_free(a->child);
        a->io = sd_event_source_disable_unref(a->io);
        fail_pending(a);
        if (a->gone)
                a->gone(a->userdata, why);
}

int aggregator_start(sd_event *e, unsigned seconds, AggGoneFunc gone, void *userdata, Aggregator **ret)
{
        int ctl[2] = { -1, -1 }, stream[2] = { -1, -1 }, buf = 1 << 20, r;
        Aggregator *a = calloc(1, sizeof(*a));
        AggArgs args;

        if (!a)
                return -ENOMEM;
        a->event = e;
        a->gone = gone;
        a->userdata = userdata;
        a->ctl = a->stream = -1;
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0 ||
            socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stream) < 0) {
                r = -errno;
                goto fail;
        }
        /* Room for a few seconds of Austin while the child writes a document. */
        (void) setsockopt(stream[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        (void) shutdown(stream[0], SHUT_RD);
        (void) shutdown(stream[1], SHUT_WR);
        args = (AggArgs){ .ctl = ctl[1], .stream = stream[1], .seconds = seconds };
        r = child_start(e,
                        &(ChildSpec){ .work = agg_work,
                                      .arg = &args,
                                      .unprivileged = true,
                                      .uid = (uid_t) -1,
                                      .gid = (gid_t) -1,
                                      .fds = (int[]){ ctl[1], stream[1] },
                                      .n_fds = 2,
                                      .timeout = AGG_TIMEOUT },
                        on_child_done, a, &a->child);
        close(ctl[1]);
        close(stream[1]);
        ctl[1] = stream[1] = -1;
        if (r < 0)
                goto fail;
        a->ctl = ctl[0];
        a->stream = stream[0];
        (void) fcntl(a->ctl, F_SETFL, O_NONBLOCK);
        r = sd_event_add_io(e, &a->io, a->ctl, EPOLLIN, on_ctl, a);
        if (r < 0) {
                aggregator_free(a);
                return r;
        }
        *ret = a;
        return 0;
fail:
        for (int i = 0; i < 2; i++) {
                if (ctl[i] >= 0)
                        close(ctl[i]);
                if (stream[i] >= 0)
                        close(stream[i]);
        }
        free(a);
        return r;
}

Aggregator *aggregator_free(Aggregator *a)
{
        if (!a)
                return NULL;
        a->io = sd_event_source_disable_unref(a->io);
        a->child = child_free(a->child);
        if (a->ctl >= 0)
                close(a->ctl);
        if (a->stream >= 0)
                close(a->stream);
        a->n_pending = 0;
        free(a);
        return NULL;
}

int aggregator_stream_fd(const Aggregator *a)
{
        return a ? a->stream : -1;
}

pid_t aggregator_pid(const Aggregator *a)
{
        return a && a->child ? child_pid(a->child) : 0;
}

const StackRingStats *aggregator_last_stats(const Aggregator *a)
{
        return &a->stats;
}

static int agg_send(Aggregator *a, const AggRequest *q, int fd, AggDoneFunc done, void *userdata)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { (void *) q, sizeof(*q) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        struct cmsghdr *cm;

        if (!a->child || !a->io)
                return -ESRCH;
        if (a->n_pending == PENDING_MAX)
                return -EBUSY;
        if (fd >= 0) {
                mh.msg_control = cbuf;
                mh.msg_controllen = sizeof(cbuf);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        if (sendmsg(a->ctl, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return -errno;
        a->pending[a->n_pending++] = (Pending){ done, userdata };
        return 0;
}

int aggregator_write(Aggregator *a, uint64_t first, unsigned n, pid_t pid, pid_t focus_tid,
                     const AggName *names, size_t n_names, int out_fd, AggDoneFunc done, void *userdata)
{
        _cleanup_free_ AggRequest *q = calloc(1, sizeof(*q));

        if (!q)
                return -ENOMEM;
        q->type = AGG_WRITE;
        q->first = first;
        q->n = n;
        q->pid = pid;
        q->focus_tid = focus_tid;
        q->n_names = (uint32_t) (n_names < AGG_NAMES_MAX ? n_names : AGG_NAMES_MAX);
        memcpy(q->names, names, q->n_names * sizeof(AggName));
        return agg_send(a, q, out_fd, done, userdata);
}

int aggregator_stats(Aggregator *a)
{
        _cleanup_free_ AggRequest *q = calloc(1, sizeof(*q));

        if (!q)
                return -ENOMEM;
        q->type = AGG_STATS;
        return agg_send(a, q, -1, NULL, NULL);
}

void aggregator_forget(Aggregator *a, void *userdata)
{
        for (size_t i = 0; a && i < a->n_pending; i++)
                if (a->pending[i].userdata == userdata)
                        a->pending[i].done = NULL;
}
