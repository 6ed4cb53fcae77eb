/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reading a speedscope file (jlfwong/speedscope src/lib/file-format-spec.ts)
 * as it streams: py-spy's shape (shared.frames, one "sampled" profile per
 * thread, any key order) and "evented" profiles, whose open/close events
 * become timed stacks. Unknown keys are skipped. Memory: see
 * speedscope-model.h; the file itself is never held.
 */

#include <stddef.h>

#include "speedscope-model.h"

/*
 * From fd's current offset to its end. 0 and *ret; -EBADMSG (not JSON, not
 * a speedscope file, a broken profile: *ret_error says which and where),
 * -ENOMEM, or -errno from read().
 */
int ss_read_fd(int fd, SsModel **ret, char **ret_error);
int ss_read_mem(const char *data, size_t len, SsModel **ret, char **ret_error);
