/* SPDX-License-Identifier: MIT */
/* Reading a report's --json document in a test: a member, a number (NAN if none), a string ("" if none). */
#pragma once

#include <math.h>

#include <cjson/cJSON.h>

static inline const cJSON *get(const cJSON *o, const char *key)
{
        return cJSON_GetObjectItemCaseSensitive(o, key);
}

static inline double num(const cJSON *o, const char *key)
{
        const cJSON *x = get(o, key);

        return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static inline const char *str(const cJSON *o, const char *key)
{
        const cJSON *x = get(o, key);

        return cJSON_IsString(x) ? x->valuestring : "";
}
