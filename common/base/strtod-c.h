/* SPDX-License-Identifier: MIT */
#pragma once

/* strtod() in the C locale whatever the caller's LC_NUMERIC is: "1.5" is one and a half everywhere. */
double strtod_c(const char *s, char **end);
