// SPDX-License-Identifier: GPL-2.0
/*
 * memlayout: the section-to-node map of Dynamic NUMA.
 *
 * Only the shape of a range list is checked here (alignment, order,
 * overflow, node ids); whether the memory exists and can move is the
 * caller's business (mm/dnuma.c).  Nothing here takes a lock: maps are
 * built privately and published by the caller.
 */
#include <linux/kernel.h>
#include <linux/memlayout.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <kunit/visibility.h>

static const char *const memlayout_errors[] = {
	[MEMLAYOUT_OK] = "ok",
	[MEMLAYOUT_E_NR] = "number of ranges",
	[MEMLAYOUT_E_START] = "start not section aligned",
	[MEMLAYOUT_E_SIZE] = "size empty, unaligned or too large",
	[MEMLAYOUT_E_ORDER] = "ranges overlap or are not sorted",
	[MEMLAYOUT_E_NODE] = "node id out of range",
};

const char *memlayout_error_name(enum memlayout_error err)
{
	if (err < ARRAY_SIZE(memlayout_errors))
		return memlayout_errors[err];
	return "unknown";
}
EXPORT_SYMBOL_IF_KUNIT(memlayout_error_name);

/**
 * memlayout_check - check the shape of a range list
 * @r: the ranges, sorted by start, disjoint
 * @nr: how many
 * @nr_nodes: node ids must be below this
 * @bad: set to the index of the first bad range
 *
 * Return: MEMLAYOUT_OK, or what is wrong with range *@bad.
 */
enum memlayout_error memlayout_check(const struct memlayout_range *r,
				     unsigned int nr, unsigned int nr_nodes,
				     unsigned int *bad)
{
	const unsigned long limit = MEMLAYOUT_MAX_SECTIONS * PAGES_PER_SECTION;
	unsigned long prev_end = 0, end;
	unsigned int i;

	*bad = 0;
	if (!nr || nr > MEMLAYOUT_MAX_RANGES)
		return MEMLAYOUT_E_NR;
	for (i = 0; i < nr; i++) {
		*bad = i;
		if (!IS_ALIGNED(r[i].start_pfn, PAGES_PER_SECTION))
			return MEMLAYOUT_E_START;
		if (!r[i].nr_pages ||
		    !IS_ALIGNED(r[i].nr_pages, PAGES_PER_SECTION) ||
		    check_add_overflow(r[i].start_pfn, r[i].nr_pages, &end) ||
		    end > limit)
			return MEMLAYOUT_E_SIZE;
		if (i && r[i].start_pfn < prev_end)
			return MEMLAYOUT_E_ORDER;
		if (r[i].nid < 0 || r[i].nid >= nr_nodes)
			return MEMLAYOUT_E_NODE;
		prev_end = end;
	}
	return MEMLAYOUT_OK;
}
EXPORT_SYMBOL_IF_KUNIT(memlayout_check);

/**
 * memlayout_apply - a new map: @old with @r laid over it
 * @old: the current map, or NULL
 * @r: ranges that passed memlayout_check()
 * @nr: how many
 * @gfp: allocation flags
 *
 * @old is not changed.  Return: the new map, or NULL without memory.
 */
struct memlayout *memlayout_apply(const struct memlayout *old,
				  const struct memlayout_range *r,
				  unsigned int nr, gfp_t gfp)
{
	unsigned long nr_sections = old ? old->nr_sections : 0;
	unsigned long sec, first, last;
	struct memlayout *ml;
	unsigned int i;

	for (i = 0; i < nr; i++) {
		last = pfn_to_section_nr(r[i].start_pfn + r[i].nr_pages - 1);
		nr_sections = max(nr_sections, last + 1);
	}
	ml = kvmalloc(struct_size(ml, nid, nr_sections), gfp);
	if (!ml)
		return NULL;
	ml->nr_sections = nr_sections;
	for (sec = 0; sec < nr_sections; sec++)
		ml->nid[sec] = old && sec < old->nr_sections ? old->nid[sec]
							     : NUMA_NO_NODE;
	for (i = 0; i < nr; i++) {
		first = pfn_to_section_nr(r[i].start_pfn);
		last = pfn_to_section_nr(r[i].start_pfn + r[i].nr_pages - 1);
		for (sec = first; sec <= last; sec++)
			ml->nid[sec] = r[i].nid;
	}
	return ml;
}
EXPORT_SYMBOL_IF_KUNIT(memlayout_apply);

void memlayout_free(struct memlayout *ml)
{
	kvfree(ml);
}
EXPORT_SYMBOL_IF_KUNIT(memlayout_free);
