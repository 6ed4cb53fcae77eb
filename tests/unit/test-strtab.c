/* SPDX-License-Identifier: MIT */
/* The one interned-string table (common/base/strtab.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strtab.h"

static void test_dense_indices_in_order(void **state)
{
        StrTab t;
        bool fresh = false;

        strtab_init(&t);
        assert_int_equal(strtab_intern(&t, "a", 1, &fresh), 0);
        assert_true(fresh);
        assert_int_equal(strtab_intern(&t, "b", 1, &fresh), 1);
        assert_int_equal(strtab_intern(&t, "a", 1, &fresh), 0);
        assert_false(fresh);
        assert_int_equal(strtab_intern(&t, "", 0, NULL), 2);   /* the empty key is a key */
        assert_int_equal(strtab_intern(&t, "ab", 1, NULL), 0); /* only n bytes count */
        assert_int_equal(t.n, 3);
        assert_string_equal(strtab_get(&t, 1), "b");
        assert_int_equal(strtab_len(&t, 2), 0);
        strtab_done(&t);
        assert_int_equal(t.n, 0);
        strtab_done(&t); /* twice is fine */
}

/* A key of several strings is their bytes with a NUL between: "a\0bc" is not "ab\0c". */
static void test_bytes_with_nul(void **state)
{
        StrTab t = { 0 }; /* zeroed is empty */

        assert_int_equal(strtab_intern(&t, "a\0bc", 4, NULL), 0);
        assert_int_equal(strtab_intern(&t, "ab\0c", 4, NULL), 1);
        assert_int_equal(strtab_intern(&t, "a\0bc", 4, NULL), 0);
        assert_int_equal(strtab_len(&t, 0), 4);
        assert_memory_equal(strtab_get(&t, 1), "ab\0c", 5); /* and a NUL after */
        strtab_done(&t);
}

/* Keys never move: a pointer taken early is good after the table has grown many times, and a
 * key longer than a block has one of its own. */
static void test_keys_stay_put(void **state)
{
        size_t big_len = 100 * 1024;
        char *big = malloc(big_len), key[32];
        const char *first, *big_key;
        StrTab t;

        assert_non_null(big);
        memset(big, 'x', big_len);
        strtab_init(&t);
        assert_int_equal(strtab_intern(&t, "first", 5, NULL), 0);
        first = strtab_get(&t, 0);
        assert_int_equal(strtab_intern(&t, big, big_len, NULL), 1);
        big_key = strtab_get(&t, 1);
        for (long i = 0; i < 200000; i++) {
                int n = snprintf(key, sizeof(key), "frame %ld", i);
                assert_int_equal(strtab_intern(&t, key, (size_t) n, NULL), i + 2);
        }
        for (long i = 0; i < 200000; i += 997) {
                int n = snprintf(key, sizeof(key), "frame %ld", i);
                assert_int_equal(strtab_intern(&t, key, (size_t) n, NULL), i + 2);
                assert_string_equal(strtab_get(&t, (size_t) i + 2), key);
        }
        assert_ptr_equal(strtab_get(&t, 0), first);
        assert_string_equal(first, "first");
        assert_ptr_equal(strtab_get(&t, 1), big_key);
        assert_memory_equal(big_key, big, big_len);
        assert_int_equal(big_key[big_len], '\0');
        assert_true(t.n_slots >= 2 * t.n);
        /* The bytes it holds: the keys and their NULs, and not much more. */
        assert_true(t.bytes < big_len + 1 + 200000 * 14 + 2 * 64 * 1024);
        strtab_done(&t);
        free(big);
}

/* Every byte counts, the tail's too, and the length; the low bits (the slot) spread. */
static void test_hash(void **state)
{
        const char *k = "0123456789abcdefXYZ";
        unsigned seen[64] = { 0 };

        assert_true(strtab_hash(k, 19) == strtab_hash(k, 19));
        for (size_t n = 0; n < 19; n++)
                assert_true(strtab_hash(k, n) != strtab_hash(k, n + 1));
        assert_true(strtab_hash("\0", 1) != strtab_hash("", 0));
        assert_true(strtab_hash("frame 1", 7) != strtab_hash("frame 2", 7));
        for (unsigned i = 0; i < 6400; i++) {
                char key[16];
                int n = snprintf(key, sizeof(key), "f%u", i);
                seen[strtab_hash(key, (size_t) n) & 63]++;
        }
        for (size_t i = 0; i < 64; i++)
                assert_in_range(seen[i], 50, 150); /* 100 expected in each */
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dense_indices_in_order),
                cmocka_unit_test(test_bytes_with_nul),
                cmocka_unit_test(test_keys_stay_put),
                cmocka_unit_test(test_hash),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
