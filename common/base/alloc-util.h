/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdlib.h>

/*
 * Makes array p (cap elements of room) hold at least need elements: the room doubles, from
 * first when there is none yet. 0, or -ENOMEM with p and cap as they were. As systemd's
 * GREEDY_REALLOC: the one way arrays grow here.
 */
#define GREEDY_GROW(p, cap, need, first)                                        \
        __extension__({                                                         \
                size_t _need = (need), _n = (cap) ? (cap) : (first);            \
                int _r = 0;                                                     \
                if (_need > (cap)) {                                            \
                        while (_n < _need)                                      \
                                _n *= 2;                                        \
                        __typeof__(p) _q = reallocarray((p), _n, sizeof(*(p))); \
                        if (_q) {                                               \
                                (p) = _q;                                       \
                                (cap) = _n;                                     \
                        } else                                                  \
                                _r = -ENOMEM;                                   \
                }                                                               \
                _r;                                                             \
        })
