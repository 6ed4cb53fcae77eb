/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's own record of each session: state_dir/sessions/<ID>.json,
 * the same document as the session's _session.json. list, show, delete,
 * retention and recovery read them through here.
 */

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#define RECORD_FILE_MAX (4 * 1024 * 1024)

/* The record of id, parsed; NULL when there is none or it cannot be read. */
cJSON *record_read(int records_fd, const char *id);

/*
 * The session's directory, reopened by its recorded path without following
 * symlinks, and only if it is still the directory the session wrote in (its
 * recorded device and inode): a path is a claim, the inode is the fact.
 * The fd, or -errno (-ESTALE: another directory is there now).
 */
int record_open_dir(const cJSON *rec);

/*
 * Makes a record fit in one reply's result (max bytes): a record a session bounds by itself
 * (first and last events and runs, 64 thread names) can still be too long where PAM's strings
 * are long and full of escapes, or when an older daemon wrote it. Its lists go first, then the
 * command line, each named in "trimmed" (the file keeps them). 0, or -E2BIG when even the rest
 * is too long.
 */
int record_fit(cJSON *rec, size_t max);

/* Calls fn for every readable record (id without ".json"); fn may not keep rec. */
typedef void (*RecordFunc)(const char *id, cJSON *rec, void *userdata);
int records_foreach(int records_fd, RecordFunc fn, void *userdata);

/*
 * The bytes of the session's recorded files present in dir_fd. Only names of this session are
 * taken, nothing with a slash: a record cannot point elsewhere.
 */
unsigned long long record_files(const cJSON *rec, int dir_fd, const char *id);

/* The same files' names (regular files present in dir_fd), malloc'd. 0 or -ENOMEM. */
int record_file_names(const cJSON *rec, int dir_fd, const char *id, char ***ret_names, size_t *ret_n);

/*
 * May session id be deleted? 0; -ENOENT: no such session; -EBUSY: it is running_id (with a
 * sentence in *ret_error). deletion.h deletes it.
 */
int records_delete_check(int records_fd, const char *id, const char *running_id, char **ret_error);
