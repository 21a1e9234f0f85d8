/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dynamic NUMA: move memory between nodes at run time, in place.
 *
 * dnuma_relayout() says "these ranges now belong to these nodes".  Free
 * pages move to the new node's zone at once; allocated pages keep their
 * node until they are freed, and are then freed into the new node's zone
 * (redirect-on-free).  Documentation/mm/dynamic-numa.rst has the design.
 */
#ifndef _LINUX_DNUMA_H
#define _LINUX_DNUMA_H

#include <linux/jump_label.h>
#include <linux/mm.h>
#include <linux/notifier.h>

/* Relayout flags */
#define DNUMA_F_MIGRATE		BIT(0)	/* migrate allocated pages now */

/* Events on the dnuma notifier chain; the data is a struct dnuma_event. */
#define DNUMA_RELAYOUT_PREPARE	1	/* before a commit; may veto */
#define DNUMA_RELAYOUT_DONE	2	/* after a commit */
#define DNUMA_TRANSPLANT_DONE	3	/* no page is pending any more */

struct dnuma_event {
	unsigned long start_pfn;	/* hull of the ranges (PREPARE, DONE) */
	unsigned long end_pfn;
	nodemask_t nodes;		/* nodes that gained or lost memory */
};

/* Pending pages that cannot migrate, by kind (dnuma_node_unmovable()). */
enum {
	DNUMA_UNMOVABLE_SLAB,
	DNUMA_UNMOVABLE_PGTABLE,
	DNUMA_UNMOVABLE_OTHER,
	DNUMA_NR_UNMOVABLE
};

/* What a relayout did, for the caller to report. */
struct dnuma_result {
	unsigned long moved;	/* free pages transplanted by the commit */
	unsigned long pending;	/* allocated pages still to follow */
	bool stopped;		/* DNUMA_F_MIGRATE stopped by @progress */
	unsigned int bad;	/* on -EINVAL: index of the range at fault */
	bool bad_node;		/* on -EINVAL: its node, not its extent */
	const char *why;	/* on error: what was wrong, for the log */
};

/*
 * How far DNUMA_F_MIGRATE has come: @step is called before the first
 * section and after each, with the pages of the ranges gone through and
 * their total; a nonzero return stops the migration there (the layout
 * stays changed; what did not migrate follows when it is freed).  It is
 * called with get_online_mems() held and may sleep.
 */
struct dnuma_progress {
	int (*step)(struct dnuma_progress *p, unsigned long done,
		    unsigned long total);
};

#ifdef CONFIG_DYNAMIC_NUMA
struct memlayout_range;

DECLARE_STATIC_KEY_FALSE(dnuma_redirect_key);
void __dnuma_free_page(struct page *page, unsigned int order);

/*
 * Called by the page allocator for every page it frees, after the page
 * is prepared and before its zone is looked at.  Costs a patched-out
 * jump while no page is pending.
 */
static inline void dnuma_free_page(struct page *page, unsigned int order)
{
	if (static_branch_unlikely(&dnuma_redirect_key))
		__dnuma_free_page(page, order);
}

/*
 * While a page is pending, a pageblock may hold free pages of two zones:
 * pfn walkers that hold one zone's lock must skip the other's.
 */
static inline bool dnuma_pages_pending(void)
{
	return static_branch_unlikely(&dnuma_redirect_key);
}

static inline bool dnuma_other_zone(struct page *page, struct zone *zone)
{
	return dnuma_pages_pending() && page_zone(page) != zone;
}

/*
 * A free page changes zone only under the locks of both zones.  Whoever
 * looked a free page's zone up before taking that zone's lock checks,
 * once it holds it, that the page did not move meanwhile.
 */
static inline bool dnuma_page_moved(struct page *page, struct zone *zone)
{
	return dnuma_pages_pending() && page_zone(page) != zone;
}

bool __dnuma_range_busy(unsigned long start_pfn, unsigned long nr_pages);

/*
 * Whether pages of a range still have to follow its memory to another
 * node: such a range holds pages of two zones, so it cannot be offlined
 * or isolated until they did.
 */
static inline bool dnuma_range_busy(unsigned long start_pfn,
				    unsigned long nr_pages)
{
	return dnuma_pages_pending() && __dnuma_range_busy(start_pfn, nr_pages);
}

/*
 * Move @page to zone @zone_idx of node @nid.  Only ever done by whoever
 * owns the page for the moment: the freeing path (refcount zero), or the
 * zone lock holder for a free page.  Other flag bits may still change
 * under us by atomic bit operations of pfn walkers (memory_failure(),
 * compaction), so the node and zone bits are replaced with a cmpxchg
 * loop rather than set_page_links()'s plain read-modify-write.
 */
static inline void dnuma_set_page_zone(struct page *page, enum zone_type zone,
				       int nid)
{
	const unsigned long mask = (ZONES_MASK << ZONES_PGSHIFT) |
				   (NODES_MASK << NODES_PGSHIFT);
	const unsigned long val = ((unsigned long)zone << ZONES_PGSHIFT) |
				  ((unsigned long)nid << NODES_PGSHIFT);
	unsigned long old = READ_ONCE(page->flags);

	while (!try_cmpxchg(&page->flags, &old, (old & ~mask) | val))
		;
}

int dnuma_relayout(const struct memlayout_range *r, unsigned int nr,
		   unsigned int flags, struct dnuma_progress *progress,
		   struct dnuma_result *res);
unsigned long dnuma_node_pending(int nid);
unsigned long dnuma_node_transplanted(int nid);
unsigned long dnuma_node_unmovable(int nid, unsigned int kind);
int register_dnuma_notifier(struct notifier_block *nb);
int unregister_dnuma_notifier(struct notifier_block *nb);

#else
static inline void dnuma_free_page(struct page *page, unsigned int order)
{
}

static inline bool dnuma_pages_pending(void)
{
	return false;
}

static inline bool dnuma_other_zone(struct page *page, struct zone *zone)
{
	return false;
}

static inline bool dnuma_page_moved(struct page *page, struct zone *zone)
{
	return false;
}

static inline bool dnuma_range_busy(unsigned long start_pfn,
				    unsigned long nr_pages)
{
	return false;
}

struct memlayout_range;

static inline int dnuma_relayout(const struct memlayout_range *r,
				 unsigned int nr, unsigned int flags,
				 struct dnuma_progress *progress,
				 struct dnuma_result *res)
{
	res->why = "Dynamic NUMA is not built in";
	return -EOPNOTSUPP;
}

static inline unsigned long dnuma_node_pending(int nid)
{
	return 0;
}

static inline unsigned long dnuma_node_transplanted(int nid)
{
	return 0;
}

static inline unsigned long dnuma_node_unmovable(int nid, unsigned int kind)
{
	return 0;
}

static inline int register_dnuma_notifier(struct notifier_block *nb)
{
	return 0;
}

static inline int unregister_dnuma_notifier(struct notifier_block *nb)
{
	return 0;
}
#endif /* CONFIG_DYNAMIC_NUMA */

#endif /* _LINUX_DNUMA_H */
