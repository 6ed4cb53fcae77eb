/* SPDX-License-Identifier: MIT */
#pragma once

/* Inside the session: the parts it runs and the helpers they share. Not for the rest of the daemon. */

#include "session.h"

extern const SessionPartOps monitor_part_ops;
extern const SessionPartOps profiler_part_ops;

/* The profiler child's pid while one runs (for its own CPU and memory columns), else 0. */
pid_t session_profiler_pid(const Session *s);
pid_t profiler_child_pid(const void *state);

/* Which parts a session with these options runs, in start order. */
size_t session_parts_for(const SessionOptions *o, const SessionPartOps **ret, size_t max);

/* Name a file of the session without creating it (the part creates it later, or the renderer). */
void session_set_file(Session *s, const char *key, const char *suffix);

/* _session.json in the output dir and the daemon's own record, both atomically. */
int session_write_record(Session *s);

/* Render _cpu.png from the CSV at stop; logs the reason when there is none. */
void session_render(Session *s);

/* _report.txt and _report.json at stop (pamprofctl report's findings). */
void session_report(Session *s);

void session_discard_files(Session *s);

/* Seconds since the start, or the session's whole length once it ended. */
double session_elapsed(const Session *s);

/* Who the session's files belong to ((uid_t) -1: the daemon). */
uid_t session_file_uid(const Session *s);
gid_t session_file_gid(const Session *s);
