/* SPDX-License-Identifier: MIT */
#pragma once

/* Moving one protocol message over a SOCK_SEQPACKET Unix socket, with at most one fd. */

#include <stdbool.h>
#include <stddef.h>

/* Sends len bytes as one datagram, with pass_fd attached when >= 0. 0 or -errno. */
int wire_send(int sock, const char *buf, size_t len, int pass_fd);

/*
 * Receives one datagram into buf (size bytes; the text is NUL-terminated, so
 * at most size - 1 bytes of payload). *ret_truncated says the datagram was
 * larger. A passed descriptor lands in *ret_fd (CLOEXEC), else -1; any
 * further ones are closed. Returns 0, -ECONNRESET at end of stream, or -errno.
 */
int wire_recv(int sock, char *buf, size_t size, size_t *ret_len, bool *ret_truncated, int *ret_fd);

/* Connects a SOCK_SEQPACKET socket to path. The fd or -errno. */
int wire_connect(const char *path);
