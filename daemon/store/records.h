/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's own record of each session: state_dir/sessions/<ID>.json,
 * the same document as the session's _session.json. list, show, delete,
 * retention and recovery read them through here.
 */

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

/* Calls fn for every readable record (id without ".json"); fn may not keep rec. */
typedef void (*RecordFunc)(const char *id, cJSON *rec, void *userdata);
int records_foreach(int records_fd, RecordFunc fn, void *userdata);
