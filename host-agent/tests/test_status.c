// SPDX-License-Identifier: GPL-2.0
/*
 * The outcome table, error helpers and guest status messages.
 */
#include <errno.h>

#include "runner.h"
#include "vnuma.h"

static void test_exit_codes(void)
{
	CHECK_U64(vn_result_exit_code(VN_OK), 0);
	CHECK_U64(vn_result_exit_code(VN_ERR_USAGE), 1);
	CHECK_U64(vn_result_exit_code(VN_ERR_QEMU), 2);
	CHECK_U64(vn_result_exit_code(VN_ERR_GUEST), 3);
	CHECK_U64(vn_result_exit_code(VN_ERR_PARTIAL), 4);
	CHECK_U64(vn_result_exit_code(VN_ERR_IO), 5);
	CHECK_U64(vn_result_exit_code(VN_ERR_INTR), 130);
	CHECK_U64(vn_result_exit_code((enum vn_result)99), 5);
	CHECK_STR(vn_result_name(VN_ERR_QEMU), "refused by QEMU");
}

static void test_status_table(void)
{
	static const struct {
		const char *name;
		int exit_code;
	} want[] = {
		{ "ok", 0 }, { "invalid", 3 }, { "unsupported", 3 },
		{ "busy", 3 }, { "partial", 4 }, { "failed", 3 },
		{ "cancelled", 3 }, { "something-new", 3 },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		enum vn_status st = vn_status_parse(want[i].name);

		t_check(vn_result_exit_code(vn_status_result(st)) ==
			want[i].exit_code, __FILE__, __LINE__,
			"status %s: exit code %d, want %d", want[i].name,
			vn_result_exit_code(vn_status_result(st)),
			want[i].exit_code);
		if (st != VN_S_UNKNOWN)
			CHECK_STR(vn_status_name(st), want[i].name);
	}
	CHECK(vn_status_parse(NULL) == VN_S_UNKNOWN);
	CHECK(vn_status_parse("OK") == VN_S_UNKNOWN);
	CHECK_STR(vn_status_name((enum vn_status)42), "unknown");
}

static void test_err_helpers(void)
{
	struct vn_err err;

	vn_err_clear(&err);
	CHECK(err.res == VN_OK && !err.msg[0]);
	CHECK(vn_err_set(&err, VN_ERR_QEMU, "QEMU refused %s", "x") ==
	      VN_ERR_QEMU);
	vn_err_prefix(&err, "%s/%s: node %d: ", "vm1", "vnuma0", 2);
	vn_err_append(&err, "; %s", "more");
	CHECK_STR(err.msg, "vm1/vnuma0: node 2: QEMU refused x; more");
	CHECK(err.res == VN_ERR_QEMU);
}

static void test_completion_messages(void)
{
	struct vn_completion c = {
		.id = "vnuma0", .command_id = 7, .type = "node-add",
		.status = VN_S_FAILED, .status_name = "failed",
		.field = "none", .detail = ENOMEM,
	};
	struct vn_err err;

	CHECK(vn_completion_result(&c, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "node-add (command 7) with 'failed'");
	CHECK_HAS(err.msg, "ENOMEM");
	CHECK_HAS(err.msg, "Cannot allocate memory");

	c.status = VN_S_INVALID;
	c.status_name = "invalid";
	c.field = "size";
	c.detail = EINVAL;
	CHECK(vn_completion_result(&c, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "field 'size'");
	CHECK_HAS(err.msg, "EINVAL");

	c.status = VN_S_PARTIAL;
	c.status_name = "partial";
	c.detail = 0;
	CHECK(vn_completion_result(&c, &err) == VN_ERR_PARTIAL);
	CHECK(!strstr(err.msg, "errno"));

	c.status = VN_S_UNKNOWN;
	c.status_name = "exploded";
	c.detail = 100000;
	CHECK(vn_completion_result(&c, &err) == VN_ERR_GUEST);
	CHECK_HAS(err.msg, "'exploded'");
	CHECK_HAS(err.msg, "errno 100000");

	c.status = VN_S_OK;
	c.status_name = "ok";
	CHECK(vn_completion_result(&c, &err) == VN_OK);
}

const struct test status_tests[] = {
	TEST(test_exit_codes),
	TEST(test_status_table),
	TEST(test_err_helpers),
	TEST(test_completion_messages),
	{ 0 }
};
