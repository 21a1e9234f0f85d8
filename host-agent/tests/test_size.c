// SPDX-License-Identifier: GPL-2.0
/*
 * Sizes, id lists, ranges and size formatting.
 */
#include <stdio.h>

#include "runner.h"
#include "size.h"

static void size_ok(const char *s, uint64_t want, int line)
{
	struct vn_err err = { 0 };
	uint64_t v = 0;

	if (t_check(!parse_size(s, &v, &err), __FILE__, line,
		    "parse_size('%s') failed: %s", s, err.msg))
		t_check(v == want, __FILE__, line, "parse_size('%s') = %"
			PRIu64 ", want %" PRIu64, s, v, want);
}

static void size_bad(const char *s, const char *why, int line)
{
	struct vn_err err = { 0 };
	uint64_t v = 12345;

	if (t_check(parse_size(s, &v, &err), __FILE__, line,
		    "parse_size('%s') accepted it: %" PRIu64, s, v)) {
		t_check(err.res == VN_ERR_USAGE, __FILE__, line,
			"'%s': not a usage error", s);
		t_check(strstr(err.msg, why), __FILE__, line,
			"'%s': '%s' does not say '%s'", s, err.msg, why);
	}
	t_check(v == 12345, __FILE__, line, "'%s': output written", s);
}

#define SIZE_OK(s, v)	size_ok(s, v, __LINE__)
#define SIZE_BAD(s, w)	size_bad(s, w, __LINE__)

static void test_size_good(void)
{
	SIZE_OK("0", 0);
	SIZE_OK("2048", 2048);
	SIZE_OK("2048B", 2048);
	SIZE_OK("2048b", 2048);
	SIZE_OK("1K", 1024);
	SIZE_OK("512M", 512ull << 20);
	SIZE_OK("512m", 512ull << 20);
	SIZE_OK("4G", 4ull << 30);
	SIZE_OK("4g", 4ull << 30);
	SIZE_OK("1GiB", 1ull << 30);
	SIZE_OK("1gib", 1ull << 30);
	SIZE_OK("1Gi", 1ull << 30);
	SIZE_OK("1GB", 1ull << 30);
	SIZE_OK("2T", 2ull << 40);
	SIZE_OK("1P", 1ull << 50);
	SIZE_OK("15E", 15ull << 60);
	SIZE_OK("1.5G", 3ull << 29);
	SIZE_OK("1.50G", 3ull << 29);
	SIZE_OK("0.5K", 512);
	SIZE_OK("1.0", 1);
	SIZE_OK("0x0", 0);
	SIZE_OK("0x80000000", 0x80000000ull);
	SIZE_OK("0XfFfF", 0xffff);
	SIZE_OK("0xffffffffffffffff", UINT64_MAX);
	SIZE_OK("18446744073709551615", UINT64_MAX);
}

static void test_size_bad(void)
{
	SIZE_BAD("", "empty");
	SIZE_BAD(NULL, "empty");
	SIZE_BAD("-1", "not a number");
	SIZE_BAD("-1G", "not a number");
	SIZE_BAD("+1G", "not a number");
	SIZE_BAD(" 1G", "not a number");
	SIZE_BAD("1G ", "unknown unit");
	SIZE_BAD("G", "not a number");
	SIZE_BAD("1X", "unknown unit");
	SIZE_BAD("1GG", "unknown unit");
	SIZE_BAD("1GiBB", "unknown unit");
	SIZE_BAD("1iB", "unknown unit");
	SIZE_BAD("1 G", "unknown unit");
	SIZE_BAD("12abc", "unknown unit");
	SIZE_BAD("0x", "no hex digits");
	SIZE_BAD("0xg", "no hex digits");
	SIZE_BAD("0x10G", "junk");
	SIZE_BAD("0x1ffffffffffffffff", "more than 16 EiB");
	SIZE_BAD("18446744073709551616", "more than 16 EiB");
	SIZE_BAD("99999999999999999999999", "more than 16 EiB");
	SIZE_BAD("16E", "more than 16 EiB");
	SIZE_BAD("17179869184G", "more than 16 EiB");
	SIZE_BAD("1.5", "whole number of bytes");
	SIZE_BAD("1.3K", "whole number of bytes");
	SIZE_BAD("1.", "bad fraction");
	SIZE_BAD("1.G", "bad fraction");
	SIZE_BAD(".5G", "not a number");
	SIZE_BAD("1.1234567890123456789G", "bad fraction");
}

static void test_parse_uint(void)
{
	struct vn_err err;
	uint64_t v;

	CHECK(!parse_uint("0", 10, "node", &v, &err) && v == 0);
	CHECK(!parse_uint("9", 10, "node", &v, &err) && v == 9);
	CHECK(parse_uint("10", 10, "node", &v, &err));
	CHECK_HAS(err.msg, "must be below 10");
	CHECK(parse_uint("-1", 10, "node", &v, &err));
	CHECK_HAS(err.msg, "bad node '-1'");
	CHECK(parse_uint("1a", 10, "node", &v, &err));
	CHECK(parse_uint("", 10, "node", &v, &err));
	CHECK_HAS(err.msg, "empty node");
	CHECK(parse_uint("99999999999999999999999", UINT64_MAX, "x", &v,
			 &err));
	CHECK_HAS(err.msg, "must be below");
}

static void test_id_list(void)
{
	struct vn_err err;
	uint32_t ids[8];
	size_t nr;

	CHECK(!parse_id_list("0,2-3", 16, "node", ids, 8, &nr, &err));
	CHECK_U64(nr, 3);
	CHECK(ids[0] == 0 && ids[1] == 2 && ids[2] == 3);
	CHECK(!parse_id_list("5", 16, "node", ids, 8, &nr, &err));
	CHECK(nr == 1 && ids[0] == 5);
	CHECK(!parse_id_list("3,1", 16, "vCPU", ids, 8, &nr, &err));
	CHECK(nr == 2 && ids[0] == 3 && ids[1] == 1);
	CHECK(!parse_id_list("4-4", 16, "node", ids, 8, &nr, &err));
	CHECK(nr == 1 && ids[0] == 4);

	CHECK(parse_id_list("", 16, "node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "empty node list");
	CHECK(parse_id_list("1,", 16, "node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "expected N or N-M");
	CHECK(parse_id_list(",1", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("1,,2", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("1-", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("-1", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("a", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("1 ,2", 16, "node", ids, 8, &nr, &err));
	CHECK(parse_id_list("3-2", 16, "node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "goes down");
	CHECK(parse_id_list("16", 16, "host node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "host node 16 is not below 16");
	CHECK(parse_id_list("1,1", 16, "vCPU", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "vCPU 1 named twice");
	CHECK(parse_id_list("1-3,2", 16, "node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "named twice");
	CHECK(parse_id_list("0-8", 16, "node", ids, 8, &nr, &err));
	CHECK_HAS(err.msg, "more than 8");
	CHECK(parse_id_list("0-99999999999999999999", 16, "node", ids, 8,
			    &nr, &err));
	CHECK(err.res == VN_ERR_USAGE);
}

static void test_range(void)
{
	struct vn_range r;
	struct vn_err err;

	CHECK(!parse_range("0x40000000:512M:1", &r, &err));
	CHECK_U64(r.addr, 0x40000000);
	CHECK_U64(r.size, 512ull << 20);
	CHECK_U64(r.node, 1);
	CHECK(!parse_range("1G:0x8000000:0", &r, &err));
	CHECK_U64(r.addr, 1ull << 30);
	CHECK_U64(r.size, 0x8000000);

	CHECK(parse_range("0:1G", &r, &err));
	CHECK_HAS(err.msg, "expected START:SIZE:NODE");
	CHECK(parse_range("0:1G:1:2", &r, &err));
	CHECK(parse_range("", &r, &err));
	CHECK(parse_range("0:0:1", &r, &err));
	CHECK_HAS(err.msg, "size is 0");
	CHECK(parse_range("0:1G:65536", &r, &err));
	CHECK_HAS(err.msg, "must be below 65536");
	CHECK(parse_range("0:1G:-1", &r, &err));
	CHECK(parse_range("0x:1G:1", &r, &err));
	CHECK_HAS(err.msg, "bad range '0x:1G:1': bad size '0x'");
	CHECK(parse_range("0xffffffffffffffff:2:1", &r, &err));
	CHECK_HAS(err.msg, "beyond 16 EiB");
	CHECK(parse_range("1G:1X:1", &r, &err));
	CHECK_HAS(err.msg, "unknown unit");
}

static void fmt_is(uint64_t bytes, const char *want, int line)
{
	char buf[VN_SIZE_BUF];

	format_size(bytes, buf, sizeof(buf));
	t_check(!strcmp(buf, want), __FILE__, line,
		"format_size(%" PRIu64 ") = '%s', want '%s'", bytes, buf,
		want);
}

static void test_format(void)
{
	fmt_is(0, "0 B", __LINE__);
	fmt_is(1023, "1023 B", __LINE__);
	fmt_is(1024, "1 KiB", __LINE__);
	fmt_is(1536, "1.5 KiB", __LINE__);
	fmt_is(512ull << 20, "512 MiB", __LINE__);
	fmt_is(3ull << 29, "1.5 GiB", __LINE__);
	fmt_is(4ull << 30, "4 GiB", __LINE__);
	fmt_is((1ull << 30) + 1, "1 GiB", __LINE__);
	fmt_is((1ull << 30) - 1, "1 GiB", __LINE__);	/* 1023.99 MiB */
	fmt_is((1ull << 20) * 1023 + (1ull << 20) / 2, "1023.5 MiB",
	       __LINE__);
	fmt_is(UINT64_MAX, "16 EiB", __LINE__);
	fmt_is(1ull << 60, "1 EiB", __LINE__);
}

const struct test size_tests[] = {
	TEST(test_size_good),
	TEST(test_size_bad),
	TEST(test_parse_uint),
	TEST(test_id_list),
	TEST(test_range),
	TEST(test_format),
	{ 0 }
};
