/* SPDX-License-Identifier: MIT */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "wire.h"

/* A client that connects and says nothing is dropped after this long, unless told otherwise. */
#define CONNECTION_IDLE_USEC (30 * USEC_PER_SEC)
#define CONNECTION_GROUPS_MAX 64

struct Connection {
        unsigned refs;
        Control *control;
        int fd;
        sd_event_source *io;
        sd_event_source *idle_timer;
        struct ucred cred;
        gid_t groups[CONNECTION_GROUPS_MAX];
        size_t n_groups;
        bool busy; /* a request is being answered later */
        Connection *next, *prev;
};

struct Control {
        sd_event *event;
        const ControlOps *ops;
        void *userdata;
        unsigned max_connections;
        usec_t idle_usec;
        char *socket; /* ours to unlink, when owns_path */
        int listen_fd;
        bool owns_path;
        char path[108]; /* where clients reach us: systemd's socket, or ours */
        sd_event_source *listen_source;
        Connection *connections;
        ControlCounters counters;
};

static void connection_close(Connection *c);

uid_t connection_uid(const Connection *c)
{
        return c->cred.uid;
}
gid_t connection_gid(const Connection *c)
{
        return c->cred.gid;
}
pid_t connection_pid(const Connection *c)
{
        return c->cred.pid;
}
size_t connection_groups(const Connection *c, const gid_t **ret)
{
        *ret = c->groups;
        return c->n_groups;
}
Connection *connection_ref(Connection *c)
{
        c->refs++;
        return c;
}

Connection *connection_unref(Connection *c)
{
        if (!c || --c->refs > 0)
                return NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->idle_timer);
        if (c->fd >= 0)
                close(c->fd);
        free(c);
        return NULL;
}

static int connection_send(Connection *c, char *text)
{
        int r;

        if (!text)
                return -ENOMEM;
        if (c->fd < 0) {
                free(text); /* the client left while we worked */
                return 0;
        }
        r = wire_send(c->fd, text, strlen(text), -1);
        free(text);
        c->busy = false;
        if (r < 0) {
                log_debug_errno(r, "Cannot answer client pid %d", (int) c->cred.pid);
                connection_close(c);
                return r;
        }
        if (c->io)
                sd_event_source_set_io_events(c->io, EPOLLIN);
        return 0;
}

int connection_reply_ok(Connection *c, cJSON *result)
{
        char *text = protocol_reply_ok(result);

        if (text && strlen(text) > PAMPROF_MESSAGE_MAX) {
                free(text);
                return connection_reply_error(c, PROTO_E_INTERNAL, "The reply would exceed %d bytes.",
                                              PAMPROF_MESSAGE_MAX);
        }
        return connection_send(c, text);
}

int connection_reply_error(Connection *c, ProtoError code, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        c->control->counters.errors++;
        return connection_send(c, protocol_reply_error(code, msg));
}

static void connection_handle(Connection *c, const char *buf, size_t len, bool truncated, int fd)
{
        _cleanup_close_ int passed = fd;
        _cleanup_free_ char *message = NULL;
        Request req = { 0 };
        ProtoError e;

        c->control->counters.requests++;
        e = protocol_parse_request(buf, len, truncated, fd >= 0, &req, &message);
        if (e != PROTO_OK) {
                log_debug("Refused a request from pid %d: %s", (int) c->cred.pid, message);
                connection_reply_error(c, e, "%s", message ? message : "Invalid request.");
                return;
        }
        /* Answered now or later; no further request is read until it is, but a client that
         * hangs up meanwhile is seen (its waiting start or stop is dropped, not run for nobody). */
        c->busy = true;
        sd_event_source_set_io_events(c->io, EPOLLRDHUP);
        c->control->ops->request(c->control->userdata, c, &req, TAKE_FD(passed));
        request_done(&req);
}

static int on_connection_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Connection *c = userdata;
        _cleanup_free_ char *buf = malloc(PAMPROF_MESSAGE_MAX + 2);
        size_t len = 0;
        bool truncated = false;
        int passed = -1, r;

        if (c->busy) {
                if (revents & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))
                        connection_close(c);
                return 0;
        }
        if (!buf)
                return 0;
        r = wire_recv(fd, buf, PAMPROF_MESSAGE_MAX + 2, &len, &truncated, &passed);
        if (r == -EAGAIN || r == -EINTR)
                return 0;
        if (r < 0) {
                connection_close(c);
                return 0;
        }
        sd_event_source_set_time_relative(c->idle_timer, c->control->idle_usec);
        connection_ref(c);
        connection_handle(c, buf, len, truncated, passed);
        connection_unref(c);
        return 0;
}

static int on_connection_idle(sd_event_source *s, uint64_t usec, void *userdata)
{
        Connection *c = userdata;

        if (c->busy) /* waiting on us, not on the client */
                return sd_event_source_set_time_relative(s, c->control->idle_usec);
        log_debug("Dropping idle client pid %d", (int) c->cred.pid);
        c->control->counters.dropped++;
        connection_close(c);
        return 0;
}

/* Unlinks it from the control and closes the socket; holders of a reference keep the struct. */
static void connection_close(Connection *c)
{
        Control *ctl = c->control;

        if (c->fd < 0)
                return;
        ctl->ops->disconnected(ctl->userdata, c);
        c->io = sd_event_source_disable_unref(c->io);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        close(c->fd);
        c->fd = -1;
        if (c->prev)
                c->prev->next = c->next;
        else
                ctl->connections = c->next;
        if (c->next)
                c->next->prev = c->prev;
        ctl->counters.connections--;
        connection_unref(c);
}

static int connection_new(Control *ctl, int fd)
{
        socklen_t len = sizeof(struct ucred);
        Connection *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c) {
                close(fd);
                return -ENOMEM;
        }
        c->refs = 1;
        c->control = ctl;
        c->fd = fd;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
                r = -errno;
                goto fail;
        }
        len = sizeof(c->groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) == 0)
                c->n_groups = len / sizeof(gid_t);
        r = sd_event_add_io(ctl->event, &c->io, fd, EPOLLIN, on_connection_io, c);
        if (r < 0)
                goto fail;
        r = sd_event_add_time_relative(ctl->event, &c->idle_timer, CLOCK_MONOTONIC, ctl->idle_usec,
                                       ctl->idle_usec / 30, on_connection_idle, c);
        if (r < 0)
                goto fail;
        c->next = ctl->connections;
        if (c->next)
                c->next->prev = c;
        ctl->connections = c;
        ctl->counters.connections++;
        ctl->counters.accepted++;
        return 0;
fail:
        sd_event_source_disable_unref(c->io);
        close(fd);
        free(c);
        return r;
}

static int on_listen(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        Control *ctl = userdata;
        int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(errno, "accept() on the control socket failed");
                return 0;
        }
        if (ctl->counters.connections >= ctl->max_connections) {
                _cleanup_free_ char *t = protocol_reply_error(
                        PROTO_E_BUSY, "Too many clients are connected to pamprofd; try again shortly.");
                if (t)
                        (void) wire_send(cfd, t, strlen(t), -1);
                close(cfd);
                ctl->counters.refused++;
                return 0;
        }
        (void) connection_new(ctl, cfd);
        return 0;
}

static int socket_create(const ControlOptions *o, int *ret_fd)
{
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *dir = NULL;
        _cleanup_close_ int fd = -1;
        struct stat st;
        char *slash;
        int r;

        if (strlen(o->socket) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "Socket path %s is too long", o->socket);
        strcpy(sa.sun_path, o->socket);
        dir = strdup(o->socket);
        if (!dir)
                return -ENOMEM;
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
                *slash = '\0';
                r = mkdir_parents(dir, 0755);
                if (r < 0)
                        return log_error_errno(r, "Cannot create %s for the socket", dir);
        }
        /* A stale socket from a previous run is replaced; anything else is refused. */
        if (lstat(o->socket, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_error_errno(EEXIST, "%s exists and is not a socket; not replacing it",
                                               o->socket);
                int probe = wire_connect(o->socket);
                if (probe >= 0) {
                        close(probe);
                        return log_error_errno(EADDRINUSE, "Another pamprofd answers on %s", o->socket);
                }
                unlink(o->socket);
        }
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return log_error_errno(errno, "socket() failed");
        {
                mode_t old = umask(0117);
                r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
                umask(old);
        }
        if (r < 0)
                return log_error_errno(errno, "Cannot bind %s", o->socket);
        if (o->gid_valid && chown(o->socket, (uid_t) -1, o->gid) < 0)
                log_warning_errno(errno, "Cannot give %s to group %s", o->socket, o->group_name);
        if (chmod(o->socket, o->gid_valid ? 0660 : 0666) < 0)
                return log_error_errno(errno, "Cannot chmod %s", o->socket);
        if (listen(fd, SOMAXCONN) < 0)
                return log_error_errno(errno, "listen() on %s failed", o->socket);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int control_new(sd_event *event, const ControlOptions *o, const ControlOps *ops, void *userdata,
                Control **ret)
{
        Control *c;
        int r;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = event;
        c->ops = ops;
        c->userdata = userdata;
        c->max_connections = o->max_connections;
        c->idle_usec = o->idle_usec ? o->idle_usec : CONNECTION_IDLE_USEC;
        c->listen_fd = o->listen_fd;
        if (o->listen_fd < 0) {
                c->socket = strdup(o->socket);
                r = c->socket ? socket_create(o, &c->listen_fd) : -ENOMEM;
                if (r < 0) {
                        free(c->socket);
                        free(c);
                        return r;
                }
                c->owns_path = true;
                snprintf(c->path, sizeof(c->path), "%s", o->socket);
        } else {
                struct sockaddr_un sa = { 0 };
                socklen_t len = sizeof(sa);
                int flags = fcntl(o->listen_fd, F_GETFL);
                if (flags >= 0)
                        (void) fcntl(o->listen_fd, F_SETFL, flags | O_NONBLOCK);
                if (getsockname(o->listen_fd, (struct sockaddr *) &sa, &len) == 0 && sa.sun_path[0])
                        snprintf(c->path, sizeof(c->path), "%.*s", (int) sizeof(sa.sun_path), sa.sun_path);
                else
                        snprintf(c->path, sizeof(c->path), "%s", o->socket ? o->socket : "");
        }
        r = sd_event_add_io(event, &c->listen_source, c->listen_fd, EPOLLIN, on_listen, c);
        if (r < 0) {
                control_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Control *control_free(Control *c)
{
        if (!c)
                return NULL;
        while (c->connections)
                connection_close(c->connections);
        sd_event_source_disable_unref(c->listen_source);
        if (c->listen_fd >= 0)
                close(c->listen_fd);
        if (c->owns_path)
                unlink(c->socket);
        free(c->socket);
        free(c);
        return NULL;
}

const char *control_path(const Control *c)
{
        return c->path;
}

void control_counters(const Control *c, ControlCounters *ret)
{
        *ret = c->counters;
}
