/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What a frame means, from its name and file alone: the tables behind the
 * report's findings. py-spy marks nothing in a speedscope file: with --idle
 * a sleeping thread's samples look like any other, and a call into C
 * (time.sleep, socket.recv, lock.acquire) is not a frame at all, so a
 * thread in time.sleep() shows the Python line that called it. These
 * tables know the Python-level frames where threads wait (threading.py's
 * Condition.wait, selectors.py, queue, concurrent.futures' idle worker,
 * socket reads; py-spy's own idle heuristic is a subset), the C frames that
 * --native adds, and the names of the test double. What they cannot see is
 * recovered from the thread's measured CPU (report-profile.c).
 */

#include <stdbool.h>
#include <stdint.h>

#include "speedscope-model.h"

typedef enum WaitKind {
        WAIT_NONE = 0, /* working: on the CPU, or in a call not known to wait */
        WAIT_SLEEP,    /* time.sleep */
        WAIT_SELECT,   /* select/poll/epoll: an event loop or a server waiting for input */
        WAIT_LOCK,     /* a lock, condition or event */
        WAIT_QUEUE,    /* a queue's get */
        WAIT_IO,       /* a socket (or pipe, or device) read, accept */
        WAIT_JOIN,     /* Thread.join */
        WAIT_INFERRED, /* by the thread's measured CPU: a call py-spy cannot see into */
        WAIT_KIND_MAX,
} WaitKind;

const char *wait_kind_name(WaitKind k);

/* How the stack that ends at node waits, if it does. */
WaitKind classify_wait(const SsModel *m, uint32_t node);

typedef enum BlockKind {
        BLOCK_NONE = 0,
        BLOCK_HTTP,       /* requests, urllib3, http.client, urllib.request */
        BLOCK_FILE,       /* pathlib's read/write, shutil, C file reads */
        BLOCK_SUBPROCESS, /* subprocess.run, communicate, wait */
        BLOCK_SOCKET,     /* socket.create_connection, getaddrinfo, a blocking read */
        BLOCK_KIND_MAX,
} BlockKind;

const char *block_kind_name(BlockKind k);
/* A frame that blocks the event loop when a coroutine calls it. */
BlockKind classify_blocking(const SsFrame *f);

typedef enum SerKind {
        SER_NONE = 0,
        SER_DUMPS,
        SER_LOADS,
} SerKind;

/* json/pickle serialization entry points; *ret_lib = "json" or "pickle". */
SerKind classify_serializer(const SsFrame *f, const char **ret_lib);

/* Python's own library (not site-packages), <frozen ...> modules. */
bool frame_is_stdlib(const SsFrame *f);
/* A C frame (from --native): its file is not Python source. */
bool frame_is_native(const SsFrame *f);

typedef enum LoopRole {
        LOOP_NONE = 0,
        LOOP_DRIVER,   /* runners.run, run_until_complete, run_forever, _run_once: the loop itself */
        LOOP_CALLBACK, /* events.Handle._run, a task's __step: what runs one callback or coroutine step */
} LoopRole;

LoopRole classify_loop(const SsFrame *f);

/* Austin's frame for a part of a stack it could not read. */
bool frame_is_invalid(const SsFrame *f);

/* Thread machinery and the loop: never the interesting function to name in a finding. */
bool frame_is_plumbing(const SsFrame *f);

/*
 * A Python function's own name: py-spy writes "wait", Austin the qualified
 * name, "Condition.wait" (and "idle.<locals>.<lambda>"); the rules are
 * written against the last part.
 */
const char *own_name(const char *name);

/* file ends with path (a whole path component: "threading.py" matches ".../threading.py"). */
bool file_is(const char *file, const char *path);
