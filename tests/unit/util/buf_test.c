/*
 * buf_test.c - unit tests for src/util/buf.c: growth, the maximum size (a refused
 * append leaves the buffer unchanged), NUL termination, reset, release and detach.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fulfill/buf.h"

Test(buf, init_is_empty_string)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	cr_expect_eq(b.len, 0);
	cr_assert_not_null(b.data);
	cr_expect_str_eq(b.data, "");
	ffbuf_release(&b);
	ffbuf_release(NULL);
}

Test(buf, static_initializer_works)
{
	struct ffbuf b = FFBUF_INIT;
	cr_assert_eq(ffbuf_adds(&b, "hello"), 0);
	cr_expect_str_eq(b.data, "hello");
	cr_expect_eq(b.len, 5);
	ffbuf_release(&b);
}

Test(buf, add_adds_addf)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	cr_assert_eq(ffbuf_add(&b, "abc", 3), 0);
	cr_assert_eq(ffbuf_adds(&b, "def"), 0);
	cr_assert_eq(ffbuf_addf(&b, "-%d-%s", 42, "x"), 0);
	cr_expect_str_eq(b.data, "abcdef-42-x");
	cr_expect_eq(b.len, strlen("abcdef-42-x"));
	cr_assert_eq(ffbuf_add(&b, "", 0), 0);
	cr_assert_eq(ffbuf_addf(&b, "%s", ""), 0);
	cr_expect_str_eq(b.data, "abcdef-42-x");
	cr_expect_eq(ffbuf_adds(&b, NULL), -1);
	ffbuf_release(&b);
}

Test(buf, binary_data_keeps_length)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	cr_assert_eq(ffbuf_add(&b, "a\0b", 3), 0);
	cr_expect_eq(b.len, 3);
	cr_expect_eq(memcmp(b.data, "a\0b\0", 4), 0);
	ffbuf_release(&b);
}

Test(buf, grows_through_many_appends)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	for (int i = 0; i < 10000; i++)
		cr_assert_eq(ffbuf_addf(&b, "%04d", i % 10000), 0);
	cr_expect_eq(b.len, 40000);
	cr_expect_eq(strlen(b.data), 40000);
	cr_expect_eq(strncmp(b.data + 4 * 9999, "9999", 4), 0);
	ffbuf_release(&b);

	ffbuf_init(&b, 0);
	char big[5000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(ffbuf_addf(&b, "<%s>", big), 0);
	cr_expect_eq(b.len, sizeof(big) + 1);
	cr_expect_eq(b.data[b.len], '\0');
	ffbuf_release(&b);
}

Test(buf, max_refuses_and_leaves_unchanged)
{
	struct ffbuf b;
	ffbuf_init(&b, 8);
	cr_assert_eq(ffbuf_adds(&b, "12345"), 0);
	cr_expect_eq(ffbuf_adds(&b, "6789"), -1);
	cr_expect_str_eq(b.data, "12345");
	cr_expect_eq(b.len, 5);
	cr_expect_eq(ffbuf_addf(&b, "%s", "abcd"), -1);
	cr_expect_str_eq(b.data, "12345", "addf failure restores the terminator");
	cr_expect_eq(ffbuf_addf(&b, "%d", 123), 0);
	cr_expect_str_eq(b.data, "12345123");
	cr_expect_eq(ffbuf_add(&b, "x", 1), -1);
	cr_expect_eq(ffbuf_add(&b, "", 0), 0, "an empty append always fits");
	cr_expect_eq(b.len, 8);
	cr_expect(b.cap <= 9, "never allocates past max + NUL");
	ffbuf_release(&b);
}

Test(buf, max_on_first_append)
{
	struct ffbuf b;
	ffbuf_init(&b, 3);
	cr_expect_eq(ffbuf_addf(&b, "%s", "abcd"), -1);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(b.data, "");
	cr_expect_eq(ffbuf_add(&b, "abcd", 4), -1);
	cr_expect_eq(ffbuf_add(&b, "abc", 3), 0);
	cr_expect_str_eq(b.data, "abc");
	ffbuf_release(&b);
}

Test(buf, huge_length_is_refused)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	cr_assert_eq(ffbuf_adds(&b, "x"), 0);
	cr_expect_eq(ffbuf_add(&b, "y", SIZE_MAX), -1);
	cr_expect_eq(ffbuf_add(&b, "y", SIZE_MAX - 1), -1);
	cr_expect_str_eq(b.data, "x");
	ffbuf_release(&b);
}

Test(buf, reset_keeps_storage)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_adds(&b, "hello");
	size_t cap = b.cap;
	ffbuf_reset(&b);
	cr_expect_eq(b.len, 0);
	cr_expect_str_eq(b.data, "");
	cr_expect_eq(b.cap, cap);
	ffbuf_adds(&b, "again");
	cr_expect_str_eq(b.data, "again");
	ffbuf_release(&b);

	struct ffbuf empty = FFBUF_INIT;
	ffbuf_reset(&empty);
	cr_expect_eq(empty.len, 0);
}

Test(buf, release_then_reuse)
{
	struct ffbuf b;
	ffbuf_init(&b, 0);
	ffbuf_adds(&b, "one");
	ffbuf_release(&b);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.cap, 0);
	ffbuf_release(&b); /* twice is harmless */
	ffbuf_init(&b, 0);
	ffbuf_adds(&b, "two");
	cr_expect_str_eq(b.data, "two");
	ffbuf_release(&b);
}

Test(buf, detach_hands_over_storage)
{
	struct ffbuf b;
	ffbuf_init(&b, 100);
	ffbuf_addf(&b, "%s=%d", "n", 7);
	size_t len = 0;
	char *s = ffbuf_detach(&b, &len);
	cr_expect_str_eq(s, "n=7");
	cr_expect_eq(len, 3);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.cap, 0);
	cr_expect_str_eq(b.data, "");
	free(s);

	/* Detaching an empty buffer still gives a string to free. */
	s = ffbuf_detach(&b, NULL);
	cr_assert_not_null(s);
	cr_expect_str_eq(s, "");
	free(s);
	cr_expect_eq(ffbuf_adds(&b, "reuse"), 0, "max is kept");
	cr_expect_eq(b.max, 100);
	ffbuf_release(&b);
}
