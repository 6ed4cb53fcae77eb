/* SPDX-License-Identifier: MIT */
#include "report-classify.h"

#include <string.h>

#define WALK_MAX 8 /* C frames looked through from the leaf */

const char *wait_kind_name(WaitKind k)
{
        static const char *const names[WAIT_KIND_MAX] = {
                [WAIT_NONE] = "working",       [WAIT_SLEEP] = "sleep",
                [WAIT_SELECT] = "select/poll", [WAIT_LOCK] = "lock or event wait",
                [WAIT_QUEUE] = "queue get",    [WAIT_IO] = "socket or I/O read",
                [WAIT_JOIN] = "thread join",   [WAIT_INFERRED] = "blocking call (by its CPU)",
        };

        return k < WAIT_KIND_MAX ? names[k] : "?";
}

const char *block_kind_name(BlockKind k)
{
        static const char *const names[BLOCK_KIND_MAX] = {
                [BLOCK_NONE] = "none",
                [BLOCK_HTTP] = "synchronous HTTP",
                [BLOCK_FILE] = "synchronous file I/O",
                [BLOCK_SUBPROCESS] = "waiting for a subprocess",
                [BLOCK_SOCKET] = "blocking socket call",
        };

        return k < BLOCK_KIND_MAX ? names[k] : "?";
}

bool file_is(const char *file, const char *path)
{
        size_t n = strlen(file), m = strlen(path);

        if (n < m || strcmp(file + n - m, path) != 0)
                return false;
        return n == m || file[n - m - 1] == '/';
}

static bool starts_with(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool in_list(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(s, *list) == 0)
                        return true;
        return false;
}

static bool prefix_in_list(const char *s, const char *const *list)
{
        for (; *list; list++)
                if (starts_with(s, *list))
                        return true;
        return false;
}

const char *own_name(const char *name)
{
        const char *dot = strrchr(name, '.');

        return dot && dot[1] ? dot + 1 : name;
}

bool frame_is_native(const SsFrame *f)
{
        size_t n = strlen(f->file);

        if (n >= 3 && strcmp(f->file + n - 3, ".py") == 0)
                return false;
        if (n >= 4 && strcmp(f->file + n - 4, ".pyx") == 0)
                return false;
        return f->file[0] != '<' && f->file[0] != '\0';
}

bool frame_is_stdlib(const SsFrame *f)
{
        if (starts_with(f->file, "<frozen "))
                return true;
        if (strstr(f->file, "site-packages") || strstr(f->file, "dist-packages"))
                return false;
        return strstr(f->file, "/lib/python2") || strstr(f->file, "/lib/python3");
}

/* "__GI___clock_nanosleep" -> "clock_nanosleep", "__libc_recv" -> "recv". */
static const char *native_base(const char *name)
{
        if (starts_with(name, "__GI_"))
                name += 5;
        if (starts_with(name, "__libc_"))
                name += 7;
        while (*name == '_')
                name++;
        return name;
}

static WaitKind classify_native(const char *name)
{
        static const char *const sleep[] = { "nanosleep", "clock_nanosleep", "sleep", "usleep",
                                             "pysleep",   "time_sleep",      NULL };
        static const char *const select[] = { "select",     "pselect",     "poll",   "ppoll",
                                              "epoll_wait", "epoll_pwait", "kevent", NULL };
        static const char *const select_prefix[] = { "select_select",     "select_poll_poll",
                                                     "select_epoll_poll", "select_devpoll",
                                                     "pyepoll_poll",      NULL };
        static const char *const lock_prefix[] = { "pthread_cond_",
                                                   "sem_wait",
                                                   "sem_timedwait",
                                                   "sem_clockwait",
                                                   "futex",
                                                   "do_futex_wait",
                                                   "PyThread_acquire_lock",
                                                   "acquire_timed",
                                                   "lock_PyThread_acquire_lock",
                                                   "PyCOND_",
                                                   "take_gil",
                                                   "rlock_acquire",
                                                   NULL };
        static const char *const io[] = { "recv",    "recvfrom", "recvmsg", "accept",
                                          "accept4", "read",     "readv",   NULL };
        static const char *const io_prefix[] = { "sock_recv", "sock_accept", "_ssl__SSLSocket_read", NULL };
        const char *b = native_base(name);

        if (in_list(b, sleep))
                return WAIT_SLEEP;
        if (in_list(b, select) || prefix_in_list(b, select_prefix))
                return WAIT_SELECT;
        if (prefix_in_list(b, lock_prefix))
                return WAIT_LOCK;
        if (starts_with(b, "queue_SimpleQueue_get"))
                return WAIT_QUEUE;
        if (in_list(b, io) || prefix_in_list(b, io_prefix))
                return WAIT_IO;
        return WAIT_NONE;
}

/* The Python frame a stack ends in (its caller given for context). */
static WaitKind classify_python(const SsFrame *f, const SsFrame *caller)
{
        const char *n = own_name(f->name), *file = f->file;

        /* time.sleep when a tool names it: the test double writes it as "sleep" in "time". */
        if (strcmp(n, "sleep") == 0 &&
            (strcmp(file, "time") == 0 || strcmp(file, "<built-in>") == 0 || file[0] == '\0'))
                return WAIT_SLEEP;
        if (strcmp(file, "<built-in>") == 0) {
                WaitKind k = classify_native(n);
                if (k != WAIT_NONE)
                        return k;
        }
        if (file_is(file, "threading.py")) {
                if (strcmp(n, "_wait_for_tstate_lock") == 0 || strcmp(n, "join") == 0)
                        return WAIT_JOIN;
                if (strcmp(n, "wait") == 0 || strcmp(n, "acquire") == 0) {
                        if (caller && strcmp(own_name(caller->name), "get") == 0 &&
                            file_is(caller->file, "queue.py"))
                                return WAIT_QUEUE;
                        return WAIT_LOCK;
                }
        }
        if (file_is(file, "queue.py") && strcmp(n, "get") == 0)
                return WAIT_QUEUE;
        if (file_is(file, "concurrent/futures/thread.py") && strcmp(n, "_worker") == 0)
                return WAIT_QUEUE; /* an idle executor thread, in work_queue.get() */
        if (file_is(file, "concurrent/futures/_base.py") &&
            (strcmp(n, "result") == 0 || strcmp(n, "wait") == 0))
                return WAIT_LOCK;
        if (file_is(file, "selectors.py") && strcmp(n, "select") == 0)
                return WAIT_SELECT;
        /* py-spy's own idle heuristic (python_spy.rs): poll in asyncore, zmq, gevent, tornado. */
        if (strcmp(n, "poll") == 0 &&
            (file_is(file, "asyncore.py") || strstr(file, "zmq") || strstr(file, "gevent") ||
             strstr(file, "tornado")))
                return WAIT_SELECT;
        /* asyncio's selector loop calls accept and recv on non-blocking sockets, and only once the
         * selector says they are ready; its SSL reads a memory buffer: work, not a wait. */
        if (caller &&
            (file_is(caller->file, "asyncio/selector_events.py") ||
             file_is(caller->file, "asyncio/sslproto.py")) &&
            (file_is(file, "socket.py") || file_is(file, "ssl.py")))
                return WAIT_NONE;
        if (file_is(file, "socket.py") &&
            (strcmp(n, "readinto") == 0 || strcmp(n, "accept") == 0 || strcmp(n, "recv_into") == 0))
                return WAIT_IO;
        if (file_is(file, "ssl.py") &&
            (strcmp(n, "read") == 0 || strcmp(n, "recv") == 0 || strcmp(n, "recv_into") == 0 ||
             strcmp(n, "accept") == 0))
                return WAIT_IO;
        /* An event loop whose loop is in C (uvloop): the Python stack ends where it entered it. */
        if (file_is(file, "asyncio/runners.py") && strcmp(n, "run") == 0)
                return WAIT_SELECT;
        if (file_is(file, "asyncio/base_events.py") &&
            (strcmp(n, "run_until_complete") == 0 || strcmp(n, "run_forever") == 0))
                return WAIT_SELECT;
        return WAIT_NONE;
}

WaitKind classify_wait(const SsModel *m, uint32_t node)
{
        for (int i = 0; i < WALK_MAX && node != SS_NONE; i++) {
                const SsFrame *f = ss_node_frame(m, node);
                uint32_t parent;
                if (!f)
                        return WAIT_NONE; /* an empty stack */
                parent = m->nodes[node].parent;
                if (!frame_is_native(f))
                        return classify_python(f, parent != SS_NONE ? ss_node_frame(m, parent) : NULL);
                {
                        WaitKind k = classify_native(f->name);
                        if (k != WAIT_NONE)
                                return k;
                }
                node = parent;
        }
        return WAIT_NONE;
}

BlockKind classify_blocking(const SsFrame *f)
{
        static const char *const pathlib[] = { "read_text", "read_bytes", "write_text", "write_bytes",
                                               NULL };
        static const char *const file_native[] = { "_io_FileIO_read",  "_io_FileIO_readall",
                                                   "_io_FileIO_write", "_Py_read",
                                                   "_Py_write",        "fsync",
                                                   "fdatasync",        NULL };
        const char *file = f->file, *n = own_name(f->name);

        if (strstr(file, "/requests/") || strstr(file, "/urllib3/") || file_is(file, "http/client.py") ||
            file_is(file, "urllib/request.py"))
                return BLOCK_HTTP;
        if (file_is(file, "subprocess.py"))
                return BLOCK_SUBPROCESS;
        if ((file_is(file, "pathlib.py") && in_list(n, pathlib)) || file_is(file, "shutil.py"))
                return BLOCK_FILE;
        if (frame_is_native(f) && prefix_in_list(native_base(f->name), file_native))
                return BLOCK_FILE;
        if (file_is(file, "socket.py") &&
            (strcmp(n, "create_connection") == 0 || strcmp(n, "getaddrinfo") == 0))
                return BLOCK_SOCKET;
        return BLOCK_NONE;
}

SerKind classify_serializer(const SsFrame *f, const char **ret_lib)
{
        static const char *const dumps[] = { "dumps", "dump", "_dumps", "_dump", NULL };
        static const char *const loads[] = { "loads", "load", "_loads", "_load", NULL };
        const char *n = frame_is_native(f) ? f->name : own_name(f->name);

        if (file_is(f->file, "json/__init__.py") || file_is(f->file, "pickle.py")) {
                *ret_lib = file_is(f->file, "pickle.py") ? "pickle" : "json";
                if (in_list(n, dumps))
                        return SER_DUMPS;
                if (in_list(n, loads))
                        return SER_LOADS;
                return SER_NONE;
        }
        if (file_is(f->file, "json/encoder.py") &&
            (strcmp(n, "encode") == 0 || strcmp(n, "iterencode") == 0)) {
                *ret_lib = "json";
                return SER_DUMPS;
        }
        if (file_is(f->file, "json/decoder.py") &&
            (strcmp(n, "decode") == 0 || strcmp(n, "raw_decode") == 0)) {
                *ret_lib = "json";
                return SER_LOADS;
        }
        if (frame_is_native(f)) {
                const char *b = native_base(n);
                *ret_lib = "pickle";
                if (starts_with(b, "pickle_dump"))
                        return SER_DUMPS;
                if (starts_with(b, "pickle_load"))
                        return SER_LOADS;
        }
        return SER_NONE;
}

LoopRole classify_loop(const SsFrame *f)
{
        const char *n = own_name(f->name), *file = f->file;

        if (file_is(file, "asyncio/events.py") && strcmp(n, "_run") == 0)
                return LOOP_CALLBACK;
        if (file_is(file, "asyncio/tasks.py") &&
            (starts_with(n, "__step") || strcmp(n, "__wakeup") == 0 || starts_with(n, "_Task__step")))
                return LOOP_CALLBACK;
        if (file_is(file, "asyncio/base_events.py") &&
            (strcmp(n, "_run_once") == 0 || strcmp(n, "run_forever") == 0 ||
             strcmp(n, "run_until_complete") == 0))
                return LOOP_DRIVER;
        if (file_is(file, "asyncio/runners.py") && strcmp(n, "run") == 0)
                return LOOP_DRIVER;
        return LOOP_NONE;
}

/* file is in package dir ("asyncio" matches ".../asyncio/x.py" and a relative "asyncio/x.py"). */
static bool in_package(const char *file, const char *dir)
{
        size_t n = strlen(dir);
        const char *p;

        if (strncmp(file, dir, n) == 0 && file[n] == '/')
                return true;
        for (p = strchr(file, '/'); p; p = strchr(p + 1, '/'))
                if (strncmp(p + 1, dir, n) == 0 && p[1 + n] == '/')
                        return true;
        return false;
}

bool frame_is_invalid(const SsFrame *f)
{
        return f->file[0] == '\0' && strcmp(f->name, "<invalid frame>") == 0;
}

bool frame_is_plumbing(const SsFrame *f)
{
        static const char *const packages[] = { "asyncio", "uvicorn", "click", "anyio", "uvloop", NULL };
        const char *file = f->file;

        if (frame_is_invalid(f))
                return true;
        for (size_t i = 0; packages[i]; i++)
                if (in_package(file, packages[i]))
                        return true;
        /* A program's entry: its __main__ or a script without .py (a venv's bin/uvicorn). */
        if (strcmp(f->name, "<module>") == 0 && (file_is(file, "__main__.py") || !strstr(file, ".py")))
                return true;
        return file_is(file, "threading.py") || file_is(file, "selectors.py") ||
                file_is(file, "concurrent/futures/thread.py") ||
                file_is(file, "concurrent/futures/process.py") || file_is(file, "runpy.py") ||
                starts_with(file, "<frozen ") || frame_is_native(f);
}
