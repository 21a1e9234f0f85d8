/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tiny test runner: each suite is a NULL-terminated array of tests;
 * a test passes when none of its checks failed.
 */
#ifndef VN_TEST_RUNNER_H
#define VN_TEST_RUNNER_H

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

struct test {
	const char *name;
	void (*fn)(void);
};

bool t_check(bool ok, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define CHECK(cond)							\
	t_check(!!(cond), __FILE__, __LINE__, "%s", #cond)

#define CHECK_U64(a, b)							\
	do {								\
		uint64_t a_ = (a), b_ = (b);				\
		t_check(a_ == b_, __FILE__, __LINE__,			\
			"%s == %s: %" PRIu64 " != %" PRIu64,		\
			#a, #b, a_, b_);				\
	} while (0)

#define CHECK_STR(a, b)							\
	do {								\
		const char *a_ = (a), *b_ = (b);			\
		t_check(a_ && b_ && !strcmp(a_, b_), __FILE__,		\
			__LINE__, "%s == %s: '%s' != '%s'", #a, #b,	\
			a_ ? a_ : "(null)", b_ ? b_ : "(null)");	\
	} while (0)

#define CHECK_HAS(hay, needle)						\
	do {								\
		const char *h_ = (hay), *n_ = (needle);			\
		t_check(h_ && strstr(h_, n_), __FILE__, __LINE__,	\
			"'%s' does not contain '%s'",			\
			h_ ? h_ : "(null)", n_);			\
	} while (0)

#define TEST(fn)	{ #fn, fn }

extern const struct test size_tests[];
extern const struct test status_tests[];
extern const struct test qmpproto_tests[];
extern const struct test vnproto_tests[];
extern const struct test qmp_io_tests[];
extern const struct test vnuma_tests[];
extern const struct test libvirt_tests[];
extern const struct test plan_tests[];
extern const struct test daemon_tests[];
extern const struct test policy_tests[];
extern const struct test lock_tests[];

#endif /* VN_TEST_RUNNER_H */
