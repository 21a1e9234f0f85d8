// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the Dynamic NUMA layout map: range checks, maps built
 * over older maps, lookups at and around range boundaries.
 */
#include <kunit/test.h>
#include <linux/memlayout.h>

#define SEC	PAGES_PER_SECTION

static enum memlayout_error check(const struct memlayout_range *r,
				  unsigned int nr, unsigned int *bad)
{
	return memlayout_check(r, nr, 4, bad);
}

static void memlayout_test_check_ok(struct kunit *test)
{
	struct memlayout_range r[] = {
		{ 2 * SEC, SEC, 1 }, { 3 * SEC, 2 * SEC, 0 }, { 9 * SEC, SEC, 3 },
	};
	unsigned int bad = 99;

	KUNIT_EXPECT_EQ(test, check(r, ARRAY_SIZE(r), &bad), MEMLAYOUT_OK);
	KUNIT_EXPECT_EQ(test, bad, 2);
}

static void memlayout_test_check_bad(struct kunit *test)
{
	static const struct {
		struct memlayout_range r[2];
		unsigned int nr;
		enum memlayout_error err;
		unsigned int bad;
	} cases[] = {
		{ { { 0, SEC, 0 } }, 0, MEMLAYOUT_E_NR, 0 },
		{ { { 1, SEC, 0 } }, 1, MEMLAYOUT_E_START, 0 },
		{ { { SEC / 2, SEC, 0 } }, 1, MEMLAYOUT_E_START, 0 },
		{ { { SEC, 0, 0 } }, 1, MEMLAYOUT_E_SIZE, 0 },
		{ { { SEC, SEC + 1, 0 } }, 1, MEMLAYOUT_E_SIZE, 0 },
		/* wraps around */
		{ { { ALIGN_DOWN(ULONG_MAX, SEC), 2 * SEC, 0 } }, 1,
		  MEMLAYOUT_E_SIZE, 0 },
		/* past the largest map */
		{ { { MEMLAYOUT_MAX_SECTIONS * SEC, SEC, 0 } }, 1,
		  MEMLAYOUT_E_SIZE, 0 },
		{ { { SEC, SEC, -1 } }, 1, MEMLAYOUT_E_NODE, 0 },
		{ { { SEC, SEC, 4 } }, 1, MEMLAYOUT_E_NODE, 0 },
		/* overlap, and out of order */
		{ { { SEC, 2 * SEC, 0 }, { 2 * SEC, SEC, 1 } }, 2,
		  MEMLAYOUT_E_ORDER, 1 },
		{ { { 4 * SEC, SEC, 0 }, { 2 * SEC, SEC, 1 } }, 2,
		  MEMLAYOUT_E_ORDER, 1 },
		/* the second range is the bad one */
		{ { { SEC, SEC, 0 }, { 3 * SEC, SEC, 7 } }, 2,
		  MEMLAYOUT_E_NODE, 1 },
	};
	unsigned int i, bad;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		KUNIT_EXPECT_EQ_MSG(test, check(cases[i].r, cases[i].nr, &bad),
				    cases[i].err, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, bad, cases[i].bad, "case %u", i);
	}
	KUNIT_EXPECT_EQ(test, check(cases[0].r, MEMLAYOUT_MAX_RANGES + 1,
				    &bad), MEMLAYOUT_E_NR);
}

static void memlayout_test_lookup(struct kunit *test)
{
	struct memlayout_range r[] = { { 2 * SEC, 2 * SEC, 1 } };
	struct memlayout *ml = memlayout_apply(NULL, r, 1, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, ml);
	KUNIT_EXPECT_EQ(test, ml->nr_sections, 4);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 0), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 2 * SEC - 1), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 2 * SEC), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 3 * SEC + 17), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 4 * SEC - 1), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 4 * SEC), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, ULONG_MAX), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(NULL, 2 * SEC), NUMA_NO_NODE);
	memlayout_free(ml);
}

static void memlayout_test_replace(struct kunit *test)
{
	struct memlayout_range a[] = { { 0, 4 * SEC, 1 } };
	struct memlayout_range b[] = { { SEC, SEC, 2 }, { 6 * SEC, SEC, 0 } };
	struct memlayout *old, *ml;

	old = memlayout_apply(NULL, a, 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, old);
	ml = memlayout_apply(old, b, 2, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ml);
	/* The old map is untouched: readers may still be using it. */
	KUNIT_EXPECT_EQ(test, old->nr_sections, 4);
	KUNIT_EXPECT_EQ(test, memlayout_nid(old, SEC), 1);
	/* The new one has both, the newer range winning, and grew. */
	KUNIT_EXPECT_EQ(test, ml->nr_sections, 7);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 0), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, SEC), 2);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 2 * SEC - 1), 2);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 2 * SEC), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 5 * SEC), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 6 * SEC), 0);
	memlayout_free(old);
	memlayout_free(ml);
}

static void memlayout_test_withdraw(struct kunit *test)
{
	struct memlayout_range a[] = { { 0, 3 * SEC, 1 } };
	struct memlayout_range none[] = { { SEC, SEC, NUMA_NO_NODE } };
	struct memlayout *old, *ml;

	old = memlayout_apply(NULL, a, 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, old);
	ml = memlayout_apply(old, none, 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ml);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 0), 1);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, SEC), NUMA_NO_NODE);
	KUNIT_EXPECT_EQ(test, memlayout_nid(ml, 2 * SEC), 1);
	memlayout_free(old);
	memlayout_free(ml);
}

static void memlayout_test_error_names(struct kunit *test)
{
	KUNIT_EXPECT_STREQ(test, memlayout_error_name(MEMLAYOUT_E_NODE),
			   "node id out of range");
	KUNIT_EXPECT_STREQ(test, memlayout_error_name(1000), "unknown");
}

static struct kunit_case memlayout_test_cases[] = {
	KUNIT_CASE(memlayout_test_check_ok),
	KUNIT_CASE(memlayout_test_check_bad),
	KUNIT_CASE(memlayout_test_lookup),
	KUNIT_CASE(memlayout_test_replace),
	KUNIT_CASE(memlayout_test_withdraw),
	KUNIT_CASE(memlayout_test_error_names),
	{}
};

static struct kunit_suite memlayout_test_suite = {
	.name = "memlayout",
	.test_cases = memlayout_test_cases,
};

kunit_test_suite(memlayout_test_suite);

MODULE_DESCRIPTION("KUnit tests for the Dynamic NUMA layout map");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
