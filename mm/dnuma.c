// SPDX-License-Identifier: GPL-2.0
/*
 * Dynamic NUMA: move memory between nodes at run time, in place.
 *
 * A relayout says "these ranges of memory belong to these nodes from now
 * on", typically because the hypervisor moved the memory behind them.
 * Nothing is copied and nothing is hot-unplugged:
 *
 *  - the target zones grow to span the ranges;
 *  - the ranges' pageblocks are isolated, so that nobody allocates from
 *    them, isolates or offlines them while their pages change zone;
 *  - free pages leave the old zones' free lists for the new ones, under
 *    both zone locks, with their managed pages; so do hardware-poisoned
 *    pages, which are never freed again;
 *  - reserved pages change node in place: nobody frees them to us;
 *  - allocated pages keep their node while they are in use: every user
 *    of page_to_nid() of an allocated page (node stats, memcg lruvecs,
 *    slab, list_lru) expects it to stay.  They are "pending", and change
 *    zone when they are freed (__dnuma_free_page(), from the allocator's
 *    free path), or when they are migrated.
 *
 * Which node a section belongs to is a struct memlayout, published under
 * RCU and replaced as a whole.  The free path consults it only while
 * dnuma_redirect_key is on, that is while a commit runs or pages are
 * pending.
 *
 * Invariants, and what keeps each:
 *
 *  (1) A free page sits only on the free lists or per-cpu lists of its
 *      own zone.  A free page changes zone only under the locks of both
 *      zones (relayout_*_pageblock()); a page being freed changes zone
 *      before it reaches any list, by its freeing path, which owns it.
 *  (2) pending[N] is exactly the number of pages of node N in sections
 *      the map gives another node.  Only a commit adds to it, while the
 *      map for those sections is not published (no page changes zone
 *      then but by the commit itself); afterwards each page subtracts
 *      itself exactly once, when its zone changes, because only its
 *      owner of the moment can change it.
 *  (3) Summed over nodes, present, managed and free pages never change:
 *      present pages move with a section, managed pages with each page
 *      that changes zone, free pages under both zone locks.
 *  (4) No pageblock holds free pages of two zones, except while a commit
 *      runs (its blocks are isolated: nobody else takes them) and for
 *      strays: pages whose free began before the commit published its map
 *      and ended after it swept (rare; counted as pending, moved by the
 *      next sweep).  Walkers that take a whole block's free pages under
 *      one zone lock refuse blocks with another zone's free pages.
 *  (5) A range with pending pages holds pages of two zones: it cannot go
 *      offline nor be isolated (dnuma_range_busy()).  Memory that goes
 *      offline leaves the map (dnuma_memory_callback()), so that memory
 *      onlined there later is not redirected anywhere.
 *  (6) A zone with present pages has per-cpu lists of its own.  A zone
 *      left without keeps them while pages of it may still be freed into
 *      it (until the transplant ends); setup_zone_pageset() keeps them.
 *
 * Locking, outermost first:
 *   dnuma_lock		serializes commits, sweeps and the end of a
 *			transplant; pending counts change under it but for
 *			the free path's decrements.
 *   device_hotplug_lock	no memory goes on- or offline, is added or
 *			removed: a commit validates its ranges under it.
 *   mem_hotplug_lock	(write) zone spans, present pages, node states,
 *			and every change of dnuma_layout; (read) the map
 *			and the ranges' online state are stable.
 *   zone->lock		free lists; several are nested only by the
 *			relayout_*_pageblock() steps, under dnuma_lock.
 *
 * Documentation/mm/dynamic-numa.rst has the whole design.
 */
#include <linux/cpu.h>
#include <linux/dnuma.h>
#include <linux/fault-inject.h>
#include <linux/hugetlb.h>
#include <linux/ioport.h>
#include <linux/irq_work.h>
#include <linux/kexec.h>
#include <linux/memcontrol.h>
#include <linux/memlayout.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/compaction.h>
#include <linux/node.h>
#include <linux/page-isolation.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/workqueue.h>

#include "internal.h"
#include "dnuma.h"

/* Serializes commits, sweeps, the end of a transplant, the audit. */
DEFINE_MUTEX(dnuma_lock);
struct memlayout __rcu *dnuma_layout;

/* Pages of node N in sections the map gives another node. */
atomic_long_t dnuma_pending[MAX_NUMNODES];
atomic_long_t dnuma_pending_total;
/* Pages that moved into node N, by any relayout, since boot. */
atomic_long_t dnuma_transplanted[MAX_NUMNODES];

struct dnuma_counters dnuma_count;
DEFINE_PER_CPU(unsigned long, dnuma_lookups);
/* The longest any pageblock step kept IRQs off, in ns.  dnuma_lock. */
u64 dnuma_irqoff_max_ns;

u64 dnuma_phase_ns[DNUMA_NR_PHASES];
const char * const dnuma_phase_names[DNUMA_NR_PHASES] = {
	[DNUMA_PH_CHECK] = "check",
	[DNUMA_PH_SWEEP] = "sweep",
	[DNUMA_PH_PREPARE] = "prepare",
	[DNUMA_PH_ISOLATE] = "isolate",
	[DNUMA_PH_TAKE] = "take",
	[DNUMA_PH_PUBLISH] = "publish",
	[DNUMA_PH_RELEASE] = "release",
	[DNUMA_PH_BLOCKS] = "blocks",
	[DNUMA_PH_NODES] = "nodes",
	[DNUMA_PH_ZONELISTS] = "zonelists",
	[DNUMA_PH_WMARKS] = "wmarks",
	[DNUMA_PH_MIGRATE] = "migrate",
	[DNUMA_PH_SETTLE] = "settle",
	[DNUMA_PH_DONE] = "done",
};

/* When the phase being timed began; 0 outside dnuma_relayout(). */
static u64 dnuma_phase_t0;

/*
 * Holes per zone: pageblocks of its span that are not all online memory
 * of the zone by the map (dnuma_owner_zone()), counted the way
 * set_zone_contiguous() looks at a block.  With no page pending, which
 * is when a relayout sets contiguity, a zone is contiguous iff it has
 * none: an O(1) test where set_zone_contiguous() scans the whole zone.
 * A commit and the shrinking of spans change them by what they move;
 * memory hotplug makes them all stale (@gen), and a stale one is counted
 * again, once, when a commit needs it.  Only zones whose contiguity we
 * cleared have it set again by us: others, as memory hotplug left them.
 * mem_hotplug_lock held for writing.
 */
struct dnuma_holes {
	unsigned long holes;
	unsigned long gen;
	bool cleared;	/* contiguity cleared by us, not set again yet */
};

static struct dnuma_holes *dnuma_holes;	/* [nid * MAX_NR_ZONES + zidx] */
static unsigned long dnuma_holes_gen = 1;

/*
 * Nodes that lost their last (normal) memory while pages of theirs were
 * still pending: their offlining is announced on the memory notifier once
 * none is left, for what listens still has their pages.  dnuma_lock.
 */
static nodemask_t dnuma_lost_memory, dnuma_lost_normal;

static BLOCKING_NOTIFIER_HEAD(dnuma_chain);

/*
 * Sweeps move strays and what can move of the pending pages; they back
 * off while pages stay pending, and stop after a few rounds that moved
 * nothing: what is left moves when it is freed (the free path kicks the
 * end of the transplant).
 */
#define DNUMA_SWEEP_MIN_MS	100
#define DNUMA_SWEEP_MAX_MS	60000
#define DNUMA_SWEEP_IDLE_ROUNDS	3
static unsigned int dnuma_sweep_ms = DNUMA_SWEEP_MIN_MS;
static unsigned int dnuma_idle_rounds;

static void dnuma_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(dnuma_work, dnuma_work_fn);

/* The free path may run under any lock: kick the work from an irq_work. */
static void dnuma_kick(struct irq_work *iw)
{
	mod_delayed_work(system_freezable_wq, &dnuma_work, 0);
}

static DEFINE_IRQ_WORK(dnuma_irq_work, dnuma_kick);

#ifdef CONFIG_FAULT_INJECTION
/*
 * Every step of a commit that can fail can be made to fail: with
 * /proc/self/fail-nth, the Nth of them in a relayout written to debugfs.
 */
static DECLARE_FAULT_ATTR(fail_dnuma);

static bool dnuma_should_fail(void)
{
	return should_fail_ex(&fail_dnuma, 1, FAULT_NOWARN);
}
#else
static bool dnuma_should_fail(void)
{
	return false;
}
#endif

/* The map, for whoever holds mem_hotplug_lock (either way). */
struct memlayout *dnuma_layout_locked(void)
{
	return rcu_dereference_protected(dnuma_layout,
					 lockdep_is_mem_hotplug_held());
}

static void dnuma_publish(struct memlayout *ml)
{
	rcu_assign_pointer(dnuma_layout, ml);
}

static struct zone *dnuma_zone(int nid, enum zone_type zidx)
{
	return &NODE_DATA(nid)->node_zones[zidx];
}

static enum zone_type dnuma_zone_idx(unsigned long pfn)
{
	return page_zonenum(pfn_to_page(pfn));
}

/* The zone whose memory a section is: the map's node, or its pages'. */
static struct zone *dnuma_owner_zone(const struct memlayout *ml,
				     unsigned long pfn)
{
	int nid = memlayout_nid(ml, pfn);

	if (nid == NUMA_NO_NODE)
		return page_zone(pfn_to_page(pfn));
	return dnuma_zone(nid, dnuma_zone_idx(pfn));
}

/* Pageblocks @zone spans, counted as set_zone_contiguous() steps. */
static unsigned long dnuma_span_blocks(struct zone *zone)
{
	if (zone_is_empty(zone))
		return 0;
	return (pageblock_align(zone_end_pfn(zone)) -
		pageblock_start_pfn(zone->zone_start_pfn)) / pageblock_nr_pages;
}

/*
 * Whether the pageblock [@start, @end) is online memory of @zone by the
 * map, at both ends, as __pageblock_pfn_to_page() asks of the pages.
 * With nothing pending the pages agree with the map.
 */
static bool dnuma_block_whole(const struct memlayout *ml, struct zone *zone,
			      unsigned long start, unsigned long end)
{
	return pfn_to_online_page(start) && pfn_to_online_page(end - 1) &&
	       dnuma_owner_zone(ml, start) == zone &&
	       dnuma_owner_zone(ml, end - 1) == zone;
}

static unsigned long dnuma_count_holes(const struct memlayout *ml,
				       struct zone *zone)
{
	unsigned long start, end, holes = 0;

	for (start = zone->zone_start_pfn; start < zone_end_pfn(zone);
	     start = end) {
		end = min(pageblock_end_pfn(start), zone_end_pfn(zone));
		if (!dnuma_block_whole(ml, zone, start, end))
			holes++;
		if (!((start / pageblock_nr_pages) & 1023))
			cond_resched();
	}
	return holes;
}

static struct dnuma_holes *dnuma_holes_of(struct zone *zone)
{
	if (!dnuma_holes)
		return NULL;
	return &dnuma_holes[zone_to_nid(zone) * MAX_NR_ZONES + zone_idx(zone)];
}

/*
 * @zone's holes, counted first if stale: before the commit that needs
 * them changes a page's zone, with @ml the map before it.  The table was
 * allocated at boot (@h, of @zone).  mem_hotplug_lock held for writing.
 */
static unsigned long dnuma_zone_holes(const struct memlayout *ml,
				      struct zone *zone, struct dnuma_holes *h)
{
	dnuma_assert_hotplug_held();
	if (h->gen != dnuma_holes_gen) {
		/* What memory hotplug found scanning, if nothing is pending. */
		if (zone->contiguous && !atomic_long_read(&dnuma_pending_total))
			h->holes = 0;
		else
			h->holes = dnuma_count_holes(ml, zone);
		h->gen = dnuma_holes_gen;
	}
	return h->holes;
}

/* Its span or memory changes: @zone is not contiguous until we say so. */
static void dnuma_clear_contiguous(struct zone *zone)
{
	struct dnuma_holes *h = dnuma_holes_of(zone);

	dnuma_assert_hotplug_held();
	clear_zone_contiguous(zone);
	if (h)
		h->cleared = true;
}

/*
 * @nr blocks of @zone's span stopped (@nr < 0: started) being holes.  A
 * stale count stays stale: it is counted afresh when next needed.
 */
static void dnuma_holes_sub(struct zone *zone, long nr)
{
	struct dnuma_holes *h;

	dnuma_assert_hotplug_held();
	h = dnuma_holes_of(zone);
	if (h && h->gen == dnuma_holes_gen && !WARN_ON_ONCE((long)h->holes < nr))
		h->holes -= nr;
}

/*
 * Contiguity of a zone we cleared it of, in O(1), once nothing is
 * pending: until then a pageblock of the zone may hold pages of another,
 * and the zone stays as the commit left it, not contiguous.
 * mem_hotplug_lock held for writing.
 */
static void dnuma_set_contiguous(const struct memlayout *ml,
				 struct zone *zone)
{
	struct dnuma_holes *h = dnuma_holes_of(zone);

	dnuma_assert_hotplug_held();
	if (zone->contiguous || atomic_long_read(&dnuma_pending_total))
		return;
	if (!h) {
		set_zone_contiguous(zone);
		return;
	}
	if (!h->cleared)
		return;
	zone->contiguous = !dnuma_zone_holes(ml, zone, h);
	h->cleared = false;
}

/*
 * For the audit: @zone's holes counted now, and in @kept what commits
 * kept (-1: stale, to be counted when next needed).  mem_hotplug_lock
 * held.
 */
unsigned long dnuma_recount_holes(struct zone *zone, long *kept)
{
	struct dnuma_holes *h;

	dnuma_assert_hotplug_held();
	*kept = -1;
	h = dnuma_holes_of(zone);
	if (h && h->gen == dnuma_holes_gen)
		*kept = h->holes;
	return dnuma_count_holes(dnuma_layout_locked(), zone);
}

/* The time since the last call goes to @ph.  dnuma_lock. */
static void dnuma_phase(enum dnuma_phase ph)
{
	u64 now;

	lockdep_assert_held(&dnuma_lock);
	if (!dnuma_phase_t0)
		return;
	now = ktime_get_ns();
	dnuma_phase_ns[ph] += now - dnuma_phase_t0;
	dnuma_phase_t0 = now;
}

static void dnuma_irqoff_note(u64 t0)
{
	u64 ns = ktime_get_ns() - t0;

	if (ns > dnuma_irqoff_max_ns)
		dnuma_irqoff_max_ns = ns;
}

/* @nr pages of @from_nid changed zone: they are no longer pending. */
static void dnuma_account_moved(int from_nid, int to_nid, unsigned long nr)
{
	long left;

	atomic_long_add(nr, &dnuma_transplanted[to_nid]);
	WARN_ON_ONCE(atomic_long_sub_return(nr, &dnuma_pending[from_nid]) < 0);
	left = atomic_long_sub_return(nr, &dnuma_pending_total);
	WARN_ON_ONCE(left < 0);
	if (!left)
		irq_work_queue(&dnuma_irq_work);
}

/*
 * The page allocator frees @page: if a relayout gave its memory to another
 * node, the page joins that node's zone now.  We own the page and all its
 * tail pages (refcount zero, prepared for the buddy), so nobody else
 * changes their zone; dnuma_set_page_zone() keeps concurrent atomic bit
 * operations of pfn walkers intact.
 */
void __dnuma_free_page(struct page *page, unsigned int order)
{
	const unsigned long nr = 1UL << order;
	struct zone *from, *to;
	int nid, old_nid;
	unsigned long i;

	this_cpu_inc(dnuma_lookups);
	rcu_read_lock();
	nid = memlayout_nid(rcu_dereference(dnuma_layout), page_to_pfn(page));
	old_nid = page_to_nid(page);
	if (nid == NUMA_NO_NODE || nid == old_nid)
		goto out;

	/*
	 * The audit trusts a recount only if no move overlapped it: it sees
	 * @redirecting grow before any change below, @redirected after all.
	 */
	atomic_long_add(nr, &dnuma_count.redirecting);
	/* Pairs with the audit's second smp_rmb(): begun before changed. */
	smp_mb__after_atomic();
	from = page_zone(page);
	to = dnuma_zone(nid, zone_idx(from));
	for (i = 0; i < nr; i++)
		dnuma_set_page_zone(page + i, zone_idx(to), nid);
	atomic_long_sub(nr, &from->managed_pages);
	atomic_long_add(nr, &to->managed_pages);
	dnuma_account_moved(old_nid, nid, nr);
	/* Pairs with the audit's first smp_rmb(): changed before ended. */
	smp_mb__before_atomic();
	atomic_long_add(nr, &dnuma_count.redirected);
out:
	rcu_read_unlock();
}

unsigned long dnuma_node_pending(int nid)
{
	return atomic_long_read(&dnuma_pending[nid]);
}
EXPORT_SYMBOL_GPL(dnuma_node_pending);

unsigned long dnuma_node_transplanted(int nid)
{
	return atomic_long_read(&dnuma_transplanted[nid]);
}
EXPORT_SYMBOL_GPL(dnuma_node_transplanted);

int register_dnuma_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_register(&dnuma_chain, nb);
}
EXPORT_SYMBOL_GPL(register_dnuma_notifier);

int unregister_dnuma_notifier(struct notifier_block *nb)
{
	return blocking_notifier_chain_unregister(&dnuma_chain, nb);
}
EXPORT_SYMBOL_GPL(unregister_dnuma_notifier);

static void dnuma_uevent(const nodemask_t *nodes)
{
	int nid;

	for_each_node_mask(nid, *nodes)
		if (node_devices[nid])
			kobject_uevent(&node_devices[nid]->dev.kobj,
				       KOBJ_CHANGE);
}

/*
 * Whether pages of [@start_pfn, +@nr_pages) still have to follow their
 * memory to another node.  The static key is on (the caller checked).
 * Called under a zone lock by isolation, under mem_hotplug_lock by
 * offlining: it only reads page flags and the map.
 */
bool __dnuma_range_busy(unsigned long start_pfn, unsigned long nr_pages)
{
	const unsigned long end = start_pfn + nr_pages;
	const struct memlayout *ml;
	unsigned long pfn, next;
	bool busy = false;
	int target;

	rcu_read_lock();
	ml = rcu_dereference(dnuma_layout);
	for (pfn = start_pfn; pfn < end && !busy; pfn = next) {
		next = min(end, ALIGN(pfn + 1, PAGES_PER_SECTION));
		target = memlayout_nid(ml, pfn);
		if (target == NUMA_NO_NODE)
			continue;
		for (; pfn < next; pfn++) {
			if (page_to_nid(pfn_to_page(pfn)) != target) {
				busy = true;
				break;
			}
		}
	}
	rcu_read_unlock();
	return busy;
}

/* What a pending page is: pfn walkers' view, no reference taken. */
enum dnuma_kind dnuma_page_kind(struct page *page)
{
	if (PageBuddy(page))
		return DNUMA_K_FREE;
	if (PageReserved(page))
		return DNUMA_K_RESERVED;
	if (PageSlab(page))
		return DNUMA_K_SLAB;
	if (PageTable(page))
		return DNUMA_K_PGTABLE;
	if (PageHuge(page))
		return DNUMA_K_HUGETLB;
	if (PageLRU(page))
		return DNUMA_K_LRU;
	return DNUMA_K_OTHER;
}

/*
 * Of node N's pending pages, those that cannot migrate, by kind (slab,
 * page tables, other kernel memory): they follow their memory only when
 * they are freed.  Counted by the last sweep (dnuma_classify()); frees
 * since make them high, so readers bound them by the node's pending.
 */
static atomic_long_t dnuma_unmovable[MAX_NUMNODES][DNUMA_NR_UNMOVABLE];

static void dnuma_unmovable_set(const unsigned long (*count)[DNUMA_NR_UNMOVABLE])
{
	int nid, k;

	for_each_node(nid)
		for (k = 0; k < DNUMA_NR_UNMOVABLE; k++)
			atomic_long_set(&dnuma_unmovable[nid][k],
					count ? count[nid][k] : 0);
}

/**
 * dnuma_node_unmovable - pending pages of a node that cannot migrate
 * @nid: the node
 * @kind: DNUMA_UNMOVABLE_SLAB, _PGTABLE or _OTHER
 *
 * Return: how many the last sweep found, at most the node's pending pages.
 */
unsigned long dnuma_node_unmovable(int nid, unsigned int kind)
{
	long n = atomic_long_read(&dnuma_unmovable[nid][kind]);

	return clamp(n, 0L, atomic_long_read(&dnuma_pending[nid]));
}
EXPORT_SYMBOL_GPL(dnuma_node_unmovable);

/* --- Validation --- */

static int dnuma_count_ram(unsigned long start_pfn, unsigned long nr_pages,
			   void *arg)
{
	*(unsigned long *)arg += nr_pages;
	return 0;
}

static int dnuma_block_in_group(struct memory_block *mem, void *arg)
{
	return mem->group ? -EBUSY : 0;
}

/*
 * What memlayout_check() cannot know: the range must be online RAM (no
 * holes, no device memory) in one kind of zone, each section of it in one
 * zone; not memory a driver manages in a memory group (virtio-mem, dax,
 * our own added nodes: that driver owns its node), not a CMA area; and
 * its node must be possible.  Whole sections (memlayout_check()) are
 * enough: a memory block of several may have memory of two nodes
 * (dnuma_block_layout()).  Called with the device hotplug lock taken
 * (dnuma_relayout()): nothing goes on- or offline meanwhile.
 */
static const char *dnuma_check_range(const struct memlayout_range *r)
{
	unsigned long pfn, end = r->start_pfn + r->nr_pages, ram = 0;
	const struct memlayout *ml;
	enum zone_type zidx = MAX_NR_ZONES;
	const char *why = NULL;

	lockdep_assert_held(&dnuma_lock);
	if (!node_possible(r->nid))
		return "node not possible";
	if (end > max_pfn)
		return "beyond the end of memory";
	for (pfn = r->start_pfn; pfn < end; pfn += PAGES_PER_SECTION)
		if (!online_section_nr(pfn_to_section_nr(pfn)))
			return "memory not present or offline";
	walk_system_ram_range(r->start_pfn, r->nr_pages, &ram,
			      dnuma_count_ram);
	if (ram != r->nr_pages)
		return "range is not all RAM";
	if (walk_memory_blocks(PFN_PHYS(r->start_pfn), PFN_PHYS(r->nr_pages),
			       NULL, dnuma_block_in_group))
		return "memory of a driver's memory group";
	rcu_read_lock();
	ml = rcu_dereference(dnuma_layout);
	for (pfn = r->start_pfn; pfn < end && !why; pfn += pageblock_nr_pages) {
		struct page *first = pfn_to_online_page(pfn);
		struct page *last = pfn_to_online_page(pfn +
						       pageblock_nr_pages - 1);

		if (!first || !last) {
			why = "memory not present or offline";
			break;
		}
		if (zidx == MAX_NR_ZONES)
			zidx = page_zonenum(first);
		if (page_zonenum(first) != zidx || page_zonenum(last) != zidx)
			why = "range spans zones";
		else if (memlayout_nid(ml, pfn) == NUMA_NO_NODE &&
			 page_zone(first) != page_zone(last))
			why = "range spans nodes";
		else if (is_migrate_cma_page(first))
			why = "range holds a CMA area";
	}
	rcu_read_unlock();
	/* Device memory is never online: pfn_to_online_page() said so. */
	return why;
}

/* --- Commit --- */

/* Everything one commit needs, allocated before anything changes. */
struct dnuma_commit {
	const struct memlayout_range *r;
	unsigned int nr;
	struct dnuma_event *ev;
	struct memlayout *prev;		/* the map before */
	struct memlayout *mid;		/* @prev without @r: a retarget */
	struct memlayout *next;		/* the map after */
	unsigned long nr_blocks;
	u8 *mt;				/* pageblock types before isolation */
	long *pending;			/* pages counted, per node */
	struct zone **from;		/* a range's source zones */
	unsigned long *moved;		/* pages moved from each */
	nodemask_t marked;		/* nodes whose zones are marked */
	unsigned int zone_kinds;	/* zone indexes of the ranges */
	bool zonelists;			/* a zone filled or emptied */
	nodemask_t gaining, gaining_normal;
};

static void dnuma_move_present(struct zone *from, struct zone *to,
			       unsigned long pfn, unsigned long nr)
{
	from->present_pages -= nr;
	from->zone_pgdat->node_present_pages -= nr;
	to->present_pages += nr;
	to->zone_pgdat->node_present_pages += nr;
	if (early_section(__pfn_to_section(pfn))) {
		from->present_early_pages -= nr;
		to->present_early_pages += nr;
	}
}

/* Whether a section of @r was given to a node by an earlier relayout. */
static bool dnuma_retargets(const struct memlayout *old,
			    const struct memlayout_range *r, unsigned int nr)
{
	unsigned long pfn;
	unsigned int i;

	for (i = 0; i < nr; i++)
		for (pfn = r[i].start_pfn; pfn < r[i].start_pfn + r[i].nr_pages;
		     pfn += PAGES_PER_SECTION)
			if (memlayout_nid(old, pfn) != NUMA_NO_NODE)
				return true;
	return false;
}

static struct memlayout *dnuma_apply(const struct memlayout *old,
				     const struct memlayout_range *r,
				     unsigned int nr)
{
	if (dnuma_should_fail())
		return NULL;
	return memlayout_apply(old, r, nr, GFP_KERNEL);
}

static void dnuma_commit_free(struct dnuma_commit *c)
{
	memlayout_free(c->mid);
	memlayout_free(c->next);
	kvfree(c->mt);
	kfree(c->pending);
	kfree(c->from);
	kfree(c->moved);
}

/*
 * The maps and the bookkeeping: all of it, or nothing.  @c->prev is the
 * current map (mem_hotplug_lock held for writing).
 */
static int dnuma_commit_alloc(struct dnuma_commit *c)
{
	struct memlayout_range *none;
	unsigned int i;

	dnuma_assert_hotplug_held();
	c->prev = dnuma_layout_locked();
	for (i = 0; i < c->nr; i++)
		c->nr_blocks += c->r[i].nr_pages / pageblock_nr_pages;
	if (!dnuma_should_fail())
		c->mt = kvcalloc(c->nr_blocks, sizeof(*c->mt), GFP_KERNEL);
	if (!dnuma_should_fail())
		c->pending = kcalloc(nr_node_ids, sizeof(*c->pending),
				     GFP_KERNEL);
	if (!dnuma_should_fail())
		c->from = kcalloc(nr_node_ids, sizeof(*c->from), GFP_KERNEL);
	if (!dnuma_should_fail())
		c->moved = kcalloc(nr_node_ids, sizeof(*c->moved), GFP_KERNEL);
	if (!c->mt || !c->pending || !c->from || !c->moved)
		return -ENOMEM;
	/*
	 * Sections an earlier relayout gave a node still count that node's
	 * pending pages: their map is withdrawn first (dnuma_withdraw()).
	 * With no page pending anywhere there is nothing to forget.
	 */
	if (atomic_long_read(&dnuma_pending_total) &&
	    dnuma_retargets(c->prev, c->r, c->nr)) {
		none = dnuma_should_fail() ? NULL :
		       kmemdup_array(c->r, c->nr, sizeof(*c->r), GFP_KERNEL);
		if (!none)
			return -ENOMEM;
		for (i = 0; i < c->nr; i++)
			none[i].nid = NUMA_NO_NODE;
		c->mid = dnuma_apply(c->prev, none, c->nr);
		kfree(none);
		if (!c->mid)
			return -ENOMEM;
	}
	c->next = dnuma_apply(c->mid ?: c->prev, c->r, c->nr);
	return c->next ? 0 : -ENOMEM;
}

static int dnuma_node_notify(unsigned long action, int nid, bool any,
			     bool normal)
{
	struct memory_notify arg = {
		.status_change_nid = any ? nid : NUMA_NO_NODE,
		.status_change_nid_normal = normal ? nid : NUMA_NO_NODE,
	};

	return notifier_to_errno(memory_notify(action, &arg));
}

/*
 * Whether a node has (normal) memory as the memory notifier's listeners
 * know it: its offlining may not have been announced yet.
 */
static bool dnuma_node_announced(int nid, bool normal)
{
	if (normal)
		return node_state(nid, N_NORMAL_MEMORY) ||
		       node_isset(nid, dnuma_lost_normal);
	return node_state(nid, N_MEMORY) || node_isset(nid, dnuma_lost_memory);
}

static void dnuma_nodes_cancel_online(struct dnuma_commit *c)
{
	nodemask_t nodes;
	int nid;

	nodes_or(nodes, c->gaining, c->gaining_normal);
	for_each_node_mask(nid, nodes)
		dnuma_node_notify(MEM_CANCEL_ONLINE, nid,
				  node_isset(nid, c->gaining),
				  node_isset(nid, c->gaining_normal));
}

/*
 * A node that gets its first memory, or its first memory in a zone the
 * kernel allocates from, changes state the way memory hotplug changes it
 * (node_states_check_changes_online()): the listeners of the memory
 * notifier hear status_change_nid and status_change_nid_normal.  Slab
 * sets up its per-node structures for status_change_nid_normal, memory
 * tiers and cpusets follow status_change_nid.  The sections are online
 * already, so no pfn range goes along: nr_pages is 0.
 */
static int dnuma_nodes_going_online(struct dnuma_commit *c)
{
	nodemask_t any = NODE_MASK_NONE, normal = NODE_MASK_NONE, nodes;
	unsigned int i;
	int nid, ret;

	for (i = 0; i < c->nr; i++) {
		nid = c->r[i].nid;
		if (!dnuma_node_announced(nid, false))
			node_set(nid, any);
		if (dnuma_zone_idx(c->r[i].start_pfn) <= ZONE_NORMAL &&
		    !dnuma_node_announced(nid, true))
			node_set(nid, normal);
	}
	nodes_or(nodes, any, normal);
	for_each_node_mask(nid, nodes) {
		ret = dnuma_should_fail() ? -EBUSY :
		      dnuma_node_notify(MEM_GOING_ONLINE, nid,
					node_isset(nid, any),
					node_isset(nid, normal));
		if (ret) {
			dnuma_nodes_cancel_online(c);
			return ret;
		}
		if (node_isset(nid, any))
			node_set(nid, c->gaining);
		if (node_isset(nid, normal))
			node_set(nid, c->gaining_normal);
	}
	return 0;
}

/* Count @zone's holes now if they are stale, as dnuma_zone_holes(). */
static void dnuma_holes_fresh(const struct memlayout *ml, struct zone *zone)
{
	struct dnuma_holes *h = dnuma_holes_of(zone);

	if (h)
		dnuma_zone_holes(ml, zone, h);
}

/*
 * The holes of every zone whose span or memory the commit changes,
 * counted (if stale) while the pages still agree with @c->prev.
 * mem_hotplug_lock held for writing.
 */
static void dnuma_holes_prepare(struct dnuma_commit *c)
{
	const struct memlayout_range *r;
	unsigned long pfn;
	unsigned int i;

	dnuma_assert_hotplug_held();
	for (i = 0; i < c->nr; i++) {
		r = &c->r[i];
		dnuma_holes_fresh(c->prev, dnuma_zone(r->nid,
						      dnuma_zone_idx(r->start_pfn)));
		for (pfn = r->start_pfn; pfn < r->start_pfn + r->nr_pages;
		     pfn += PAGES_PER_SECTION)
			dnuma_holes_fresh(c->prev,
					  dnuma_owner_zone(c->prev, pfn));
	}
}

/*
 * While the commit runs, pages of every zone it touches may be freed into
 * the blocks it isolated: all those zones look up a block's type when
 * they free pages from their per-cpu lists.
 */
static void dnuma_mark_zones(struct dnuma_commit *c, bool on)
{
	enum zone_type zidx;
	int nid;

	if (on)
		c->marked = node_states[N_ONLINE];
	for_each_node_mask(nid, c->marked)
		for (zidx = 0; zidx < MAX_NR_ZONES; zidx++)
			if (c->zone_kinds & BIT(zidx))
				relayout_mark_isolating(dnuma_zone(nid, zidx),
							on);
}

/*
 * The pageblocks of a commit, all ranges in order, numbered from 0: the
 * pfn of block @b, and (in @range) the index of its range.
 */
static unsigned long dnuma_block_pfn(const struct dnuma_commit *c,
				     unsigned long b, unsigned int *range)
{
	unsigned long nr;
	unsigned int i;

	for (i = 0; i < c->nr; i++) {
		nr = c->r[i].nr_pages / pageblock_nr_pages;
		if (b < nr)
			break;
		b -= nr;
	}
	*range = i;
	return c->r[i].start_pfn + b * pageblock_nr_pages;
}

/* Give up: the first @nr_blocks blocks were isolated, nothing moved. */
static void dnuma_release_blocks(struct dnuma_commit *c,
				 unsigned long nr_blocks)
{
	unsigned long pfn, b;
	unsigned int i;

	for (b = 0; b < nr_blocks; b++) {
		pfn = dnuma_block_pfn(c, b, &i);
		relayout_release_pageblock(dnuma_owner_zone(c->prev, pfn), pfn,
					   c->mt[b]);
	}
}

/*
 * Isolate every pageblock of the ranges in the zone whose free pages it
 * holds, or refuse: somebody else isolated one (offlining,
 * alloc_contig_range()).  Then their free pages are ours alone.
 */
static int dnuma_isolate(struct dnuma_commit *c)
{
	unsigned long pfn, b;
	unsigned int i;
	int mt, ret = 0;
	u64 t0;

	for (b = 0; b < c->nr_blocks; b++) {
		pfn = dnuma_block_pfn(c, b, &i);
		t0 = ktime_get_ns();
		ret = dnuma_should_fail() ? -EBUSY :
		      relayout_isolate_pageblock(dnuma_owner_zone(c->prev, pfn),
						 pfn, &mt);
		dnuma_irqoff_note(t0);
		if (ret) {
			dnuma_release_blocks(c, b);
			return ret;
		}
		c->mt[b] = mt;
		if (!(b & 63))
			cond_resched();
	}
	return 0;
}

/*
 * The zones of other nodes than @to's that span part of @r: those whose
 * pages may be in it.  The first @max go to @from; returns how many.
 */
static unsigned int dnuma_sources(const struct memlayout_range *r,
				  struct zone *to, struct zone **from,
				  unsigned int max)
{
	unsigned int n = 0;
	struct zone *zone;
	int nid;

	for_each_online_node(nid) {
		zone = dnuma_zone(nid, zone_idx(to));
		if (zone == to ||
		    !zone_intersects(zone, r->start_pfn, r->nr_pages))
			continue;
		if (n < max)
			from[n] = zone;
		n++;
	}
	return n;
}

/*
 * Sections of @r that an earlier relayout gave to another node count that
 * node's pending pages.  With the map for them withdrawn and no free path
 * still using the old one, pages there change zone only by us: forget
 * those counts, which the commit makes again against the new target.
 */
static void dnuma_uncount(const struct memlayout *old,
			  const struct memlayout_range *r)
{
	unsigned long pfn, end = r->start_pfn + r->nr_pages;
	int target, nid;

	for (pfn = r->start_pfn; pfn < end; pfn++) {
		target = memlayout_nid(old, pfn);
		if (target == NUMA_NO_NODE) {
			pfn = ALIGN(pfn + 1, PAGES_PER_SECTION) - 1;
			continue;
		}
		nid = page_to_nid(pfn_to_page(pfn));
		if (nid != target) {
			atomic_long_dec(&dnuma_pending[nid]);
			atomic_long_dec(&dnuma_pending_total);
		}
	}
}

static void dnuma_withdraw(struct dnuma_commit *c)
{
	unsigned int i;

	dnuma_publish(c->mid);
	/* Expedited: mem_hotplug_lock is held for writing (see below). */
	synchronize_rcu_expedited();
	for (i = 0; i < c->nr; i++) {
		dnuma_uncount(c->prev, &c->r[i]);
		cond_resched();
	}
}

/*
 * Take one pageblock of @r into @to, in one pass over its struct pages
 * (relayout_move_pageblock()): the free pages of every other zone move,
 * reserved pages change node in place, every other page of another node
 * is counted as pending.  The map is not published yet: no freed page
 * changes zone here but by us.
 */
static void dnuma_take_block(struct dnuma_commit *c, struct zone *to,
			     unsigned int nr_from, unsigned long start)
{
	unsigned long moved;
	u64 t0;

	t0 = ktime_get_ns();
	moved = relayout_move_pageblock(c->from, nr_from, to, start, c->moved,
					c->pending, &dnuma_lock);
	dnuma_irqoff_note(t0);
	atomic_long_add(moved, &dnuma_transplanted[zone_to_nid(to)]);
	atomic_long_add(moved, &dnuma_count.moved);
}

/* Move a range into its target zone; @c->prev says who had it before. */
static void dnuma_take_range(struct dnuma_commit *c,
			     const struct memlayout_range *r)
{
	const unsigned long end = r->start_pfn + r->nr_pages;
	struct zone *to = dnuma_zone(r->nid, dnuma_zone_idx(r->start_pfn));
	const long sec_blocks = PAGES_PER_SECTION / pageblock_nr_pages;
	long span = dnuma_span_blocks(to), taken = 0;
	struct zone *from;
	unsigned int i, nr_from;
	unsigned long pfn;

	/* A zone new to pages needs its per-cpu lists, as online_pages(). */
	if (!populated_zone(to)) {
		setup_zone_pageset(to);
		c->zonelists = true;
	}
	grow_zone_range(to, r->start_pfn, r->nr_pages);
	node_set(r->nid, c->ev->nodes);

	/*
	 * Present pages go with the sections: all of them are RAM.  Their
	 * pageblocks stop being holes of @to, and start being holes of the
	 * zones they leave; whatever else @to's span grew over is a hole.
	 */
	for (pfn = r->start_pfn; pfn < end; pfn += PAGES_PER_SECTION) {
		from = dnuma_owner_zone(c->prev, pfn);
		if (from == to)
			continue;
		dnuma_move_present(from, to, pfn, PAGES_PER_SECTION);
		dnuma_holes_sub(from, -sec_blocks);
		taken += sec_blocks;
		if (!populated_zone(from))
			c->zonelists = true;
		node_set(zone_to_nid(from), c->ev->nodes);
	}
	dnuma_holes_sub(to, taken - ((long)dnuma_span_blocks(to) - span));
	/* Their pageblocks may hold pages of two zones from now on. */
	nr_from = dnuma_sources(r, to, c->from, nr_node_ids);
	for (i = 0; i < nr_from; i++) {
		dnuma_clear_contiguous(c->from[i]);
		node_set(zone_to_nid(c->from[i]), c->ev->nodes);
	}
	dnuma_clear_contiguous(to);

	for (pfn = r->start_pfn; pfn < end; pfn += pageblock_nr_pages) {
		dnuma_take_block(c, to, nr_from, pfn);
		if (!((pfn / pageblock_nr_pages) & 63))
			cond_resched();
	}
}

/*
 * The end of a range's commit, with the new map published and seen by
 * every free path: pages freed into the old zones meanwhile (strays,
 * counted as pending) move, and the range's pageblocks are released into
 * their new zone.
 */
static void dnuma_finish_range(struct dnuma_commit *c,
			       const struct memlayout_range *r,
			       unsigned long *b)
{
	struct zone *to = dnuma_zone(r->nid, dnuma_zone_idx(r->start_pfn));
	unsigned int i, nr_from = dnuma_sources(r, to, c->from, nr_node_ids);
	unsigned long pfn;
	u64 t0;

	for (i = 0; i < nr_from; i++)
		drain_all_pages(c->from[i]);
	for (pfn = r->start_pfn; pfn < r->start_pfn + r->nr_pages;
	     pfn += pageblock_nr_pages, (*b)++) {
		t0 = ktime_get_ns();
		relayout_finish_pageblock(c->from, nr_from, to, pfn, c->mt[*b],
					  c->moved, &dnuma_lock);
		dnuma_irqoff_note(t0);
		for (i = 0; i < nr_from; i++) {
			if (!c->moved[i])
				continue;
			atomic_long_add(c->moved[i], &dnuma_count.swept);
			dnuma_account_moved(zone_to_nid(c->from[i]), r->nid,
					    c->moved[i]);
		}
		if (!(*b & 63))
			cond_resched();
	}
}

/*
 * Free pages that reached an old zone of the section at @start after its
 * commit: strays, counted as pending.  They move under both zone locks
 * and stop being pending; so do hardware-poisoned pages.  Returns the
 * pages moved.  get_online_mems() held.
 */
static unsigned long dnuma_sweep_section(unsigned long start, int target,
					 struct zone **from)
{
	const struct memlayout_range r = {
		.start_pfn = start,
		.nr_pages = PAGES_PER_SECTION,
		.nid = target,
	};
	struct zone *to = dnuma_zone(target, dnuma_zone_idx(start));
	unsigned long pfn, n, moved = 0;
	unsigned int i, nr_from;
	u64 t0;

	dnuma_assert_hotplug_held();
	lockdep_assert_held(&dnuma_lock);
	nr_from = dnuma_sources(&r, to, from, nr_node_ids);
	for (i = 0; i < nr_from; i++) {
		drain_all_pages(from[i]);
		for (pfn = start; pfn < start + PAGES_PER_SECTION;
		     pfn += pageblock_nr_pages) {
			t0 = ktime_get_ns();
			relayout_move_pageblock(&from[i], 1, to, pfn, &n, NULL,
						&dnuma_lock);
			dnuma_irqoff_note(t0);
			if (n) {
				atomic_long_add(n, &dnuma_count.swept);
				dnuma_account_moved(zone_to_nid(from[i]),
						    target, n);
				moved += n;
			}
			if (!((pfn / pageblock_nr_pages) & 63))
				cond_resched();
		}
	}
	return moved;
}

/*
 * Highatomic reserves follow their blocks to the target zone.  Before
 * any page moved: the owner of a block is its first page's zone.
 */
static void dnuma_transfer_reserves(struct dnuma_commit *c)
{
	unsigned long pfn, b;
	struct zone *owner, *to;
	unsigned int i;

	for (b = 0; b < c->nr_blocks; b++) {
		if (c->mt[b] != MIGRATE_HIGHATOMIC)
			continue;
		pfn = dnuma_block_pfn(c, b, &i);
		owner = dnuma_owner_zone(c->prev, pfn);
		to = dnuma_zone(c->r[i].nid, zone_idx(owner));
		if (owner != to)
			relayout_transfer_highatomic(owner, to);
	}
}

/*
 * What memory block @mem is by the map @ml: the nodes it has memory of,
 * and its zone if it is all one zone's, else NULL.  Ranges are whole
 * sections, so with memory blocks of several sections (2 GiB on large
 * x86 guests) a block may have memory of two nodes; memory_block_offline()
 * refuses a block without a zone, as it does a block that spans nodes or
 * zones at boot (memory_block_add_nid()).  Pageblocks of a zone never mix
 * with another's by the map, so their first pages say it all.  Returns
 * the node to give mem->nid: its first memory's, NUMA_NO_NODE if none.
 */
int dnuma_block_layout(const struct memlayout *ml, struct memory_block *mem,
		       nodemask_t *nodes, struct zone **zone)
{
	unsigned long pfn = section_nr_to_pfn(mem->start_section_nr);
	const unsigned long end = pfn + PHYS_PFN(memory_block_size_bytes());
	struct zone *z, *first = NULL;
	bool one = true;

	nodes_clear(*nodes);
	for (; pfn < end; pfn += pageblock_nr_pages) {
		if (!pfn_to_online_page(pfn))
			continue;
		z = dnuma_owner_zone(ml, pfn);
		node_set(zone_to_nid(z), *nodes);
		if (!first)
			first = z;
		else if (z != first)
			one = false;
	}
	*zone = one ? first : NULL;
	return first ? zone_to_nid(first) : NUMA_NO_NODE;
}

/* The links between @mem and node @nid, both ways, if there are any. */
static void dnuma_unlink_block(struct memory_block *mem, int nid)
{
	struct kobject *node = &node_devices[nid]->dev.kobj;

	sysfs_remove_link(node, kobject_name(&mem->dev.kobj));
	sysfs_remove_link(&mem->dev.kobj, kobject_name(node));
}

/*
 * A memory block device follows the new map: its nid, its zone, and its
 * sysfs links with every node it has memory of.  Only nodes the commit
 * (@arg) touched can have gained or lost memory of it.
 */
static int dnuma_move_block(struct memory_block *mem, void *arg)
{
	const struct dnuma_commit *c = arg;
	const unsigned long pfn = section_nr_to_pfn(mem->start_section_nr);
	const unsigned long nr = PHYS_PFN(memory_block_size_bytes());
	struct zone *zone;
	nodemask_t has;
	int nid, first;

	first = dnuma_block_layout(c->next, mem, &has, &zone);
	if (first == NUMA_NO_NODE)	/* not online: not in a range */
		return 0;
	for_each_node_mask(nid, c->ev->nodes) {
		if (!node_isset(nid, has))
			dnuma_unlink_block(mem, nid);
		else	/* sets mem->nid: set again below */
			register_memory_blocks_under_node(nid, pfn, pfn + nr,
							  MEMINIT_HOTPLUG);
	}
	mem->nid = first;
	mem->zone = zone;
	return 0;
}

/*
 * Memory block devices follow the published map @c->next: each block
 * that has memory in a range.  A block with memory in two ranges is seen
 * twice, to the same effect.  dnuma_relayout() holds the device hotplug
 * lock (private to drivers/base: not asserted), so no block goes on- or
 * offline, which is what sets a block's zone otherwise.
 */
static void dnuma_move_blocks(struct dnuma_commit *c)
{
	unsigned int i;

	dnuma_assert_hotplug_held();
	for (i = 0; i < c->nr; i++)
		walk_memory_blocks(PFN_PHYS(c->r[i].start_pfn),
				   PFN_PHYS(c->r[i].nr_pages), c,
				   dnuma_move_block);
}

static void dnuma_set_node_state(int nid, enum node_states state, bool on)
{
	if (on)
		node_set_state(nid, state);
	else
		node_clear_state(nid, state);
}

/*
 * Bring node states, contiguity, watermarks and reclaim threads (and with
 * @zonelists, the zonelists) in line with the zones' present pages.
 * Nodes that lost their last (normal) memory are remembered, to be
 * announced offline once none of their pages is pending.
 * mem_hotplug_lock held for writing.
 */
static void dnuma_update_nodes(const nodemask_t *nodes, bool zonelists)
{
	const struct memlayout *ml = dnuma_layout_locked();
	int nid;

	dnuma_assert_hotplug_held();
	for_each_node_mask(nid, *nodes) {
		pg_data_t *pgdat = NODE_DATA(nid);
		bool normal = false, any = false;
		struct zone *zone;

		for (zone = pgdat->node_zones;
		     zone < pgdat->node_zones + MAX_NR_ZONES; zone++) {
			if (!populated_zone(zone))
				continue;
			any = true;
			if (zone_idx(zone) <= ZONE_NORMAL)
				normal = true;
			dnuma_set_contiguous(ml, zone);
		}
		if (!any && node_state(nid, N_MEMORY))
			node_set(nid, dnuma_lost_memory);
		if (!normal && node_state(nid, N_NORMAL_MEMORY))
			node_set(nid, dnuma_lost_normal);
		if (any)
			node_clear(nid, dnuma_lost_memory);
		if (normal)
			node_clear(nid, dnuma_lost_normal);
		dnuma_set_node_state(nid, N_MEMORY, any);
		dnuma_set_node_state(nid, N_NORMAL_MEMORY, normal);
		if (any) {
			kswapd_run(nid);
			kcompactd_run(nid);
		}
	}
	dnuma_phase(DNUMA_PH_NODES);
	/* Zonelists list populated zones only: a zone filled or emptied. */
	if (zonelists) {
		build_all_zonelists(NULL);
		dnuma_phase(DNUMA_PH_ZONELISTS);
	}
	/* Managed pages moved between zones, as when memory is onlined. */
	init_per_zone_wmark_min();
	dnuma_phase(DNUMA_PH_WMARKS);
}

/*
 * Nodes whose last (normal) memory left them, with none of their pages
 * pending any more: now whoever listens on the memory notifier hears it.
 */
static void dnuma_nodes_offline(void)
{
	nodemask_t nodes;
	bool any, normal;
	int nid;

	lockdep_assert_held(&dnuma_lock);
	nodes_or(nodes, dnuma_lost_memory, dnuma_lost_normal);
	for_each_node_mask(nid, nodes) {
		if (atomic_long_read(&dnuma_pending[nid]))
			continue;
		any = node_isset(nid, dnuma_lost_memory);
		normal = node_isset(nid, dnuma_lost_normal);
		node_clear(nid, dnuma_lost_memory);
		node_clear(nid, dnuma_lost_normal);
		dnuma_node_notify(MEM_GOING_OFFLINE, nid, any, normal);
		dnuma_node_notify(MEM_OFFLINE, nid, any, normal);
	}
}

static void dnuma_count_pending(struct dnuma_commit *c)
{
	long total = 0;
	int nid;

	for_each_node(nid) {
		atomic_long_add(c->pending[nid], &dnuma_pending[nid]);
		total += c->pending[nid];
	}
	atomic_long_add(total, &dnuma_pending_total);
}

/*
 * The commit: everything that can fail first (allocations, the veto of
 * the dnuma and memory notifiers, isolation), then what cannot.  On error
 * nothing changed.  mem_hotplug_lock held for writing.
 */
static int dnuma_commit(struct dnuma_commit *c)
{
	unsigned long b;
	unsigned int i;
	int nid, ret;

	dnuma_assert_hotplug_held();
	lockdep_assert_held(&dnuma_lock);
	ret = blocking_notifier_call_chain(&dnuma_chain, DNUMA_RELAYOUT_PREPARE,
					   c->ev);
	if ((ret & NOTIFY_STOP_MASK) || dnuma_should_fail())
		return notifier_to_errno(ret) ?: -EBUSY;
	ret = dnuma_commit_alloc(c);
	if (ret)
		return ret;
	ret = dnuma_nodes_going_online(c);
	if (ret)
		return ret;
	dnuma_holes_prepare(c);
	for (i = 0; i < c->nr; i++)
		c->zone_kinds |= BIT(dnuma_zone_idx(c->r[i].start_pfn));
	dnuma_phase(DNUMA_PH_PREPARE);
	dnuma_mark_zones(c, true);
	ret = dnuma_isolate(c);
	if (ret) {
		dnuma_mark_zones(c, false);
		dnuma_nodes_cancel_online(c);
		return ret;
	}
	dnuma_phase(DNUMA_PH_ISOLATE);

	/* Nothing fails from here on.  Pageblocks may mix zones now. */
	static_branch_enable_cpuslocked(&dnuma_redirect_key);
	dnuma_transfer_reserves(c);
	if (c->mid)
		dnuma_withdraw(c);
	for (i = 0; i < c->nr; i++)
		dnuma_take_range(c, &c->r[i]);
	dnuma_count_pending(c);
	dnuma_phase(DNUMA_PH_TAKE);
	dnuma_publish(c->next);
	/*
	 * No free path uses an older map now: strays are all there is.
	 * Expedited: every get_online_mems() waits for us meanwhile, and a
	 * normal grace period was a fifth of an idle gigabyte's relayout.
	 */
	synchronize_rcu_expedited();
	dnuma_phase(DNUMA_PH_PUBLISH);
	for (i = 0, b = 0; i < c->nr; i++)
		dnuma_finish_range(c, &c->r[i], &b);
	dnuma_mark_zones(c, false);
	dnuma_phase(DNUMA_PH_RELEASE);

	dnuma_move_blocks(c);
	dnuma_phase(DNUMA_PH_BLOCKS);
	dnuma_update_nodes(&c->ev->nodes, c->zonelists);
	for_each_node_mask(nid, c->gaining)
		dnuma_node_notify(MEM_ONLINE, nid, true,
				  node_isset(nid, c->gaining_normal));
	for_each_node_mask(nid, c->gaining_normal)
		if (!node_isset(nid, c->gaining))
			dnuma_node_notify(MEM_ONLINE, nid, false, true);
	atomic_long_inc(&dnuma_count.commits);
	dnuma_phase(DNUMA_PH_NODES);

	/* Published: the old maps are the ones to free, after readers. */
	c->next = NULL;
	if (c->mid) {
		kvfree_rcu(c->mid, rcu);
		c->mid = NULL;
	}
	if (c->prev)
		kvfree_rcu(c->prev, rcu);
	return 0;
}

/* --- After a commit: strays, migration, the end of a transplant --- */

/*
 * A poisoned folio that memory failure could not take off the LRU (it was
 * isolated at that moment, by a migration that then failed and put it
 * back): nobody frees it, so it would stay pending for good.  Take it off
 * the LRU as memory failure would have (memory offlining does the same);
 * unmapped, it is then poisoned for good and moves in place.  Never
 * migrated: its contents are lost.
 */
static void dnuma_unlru_poisoned(struct folio *folio)
{
	if (folio_test_large(folio) || folio_mapped(folio) ||
	    !folio_trylock(folio))
		return;
	if (folio_isolate_lru(folio)) {
		folio_clear_active(folio);
		folio_clear_unevictable(folio);
		mem_cgroup_uncharge(folio);
		folio_put(folio);
	}
	folio_unlock(folio);
}

/* Isolate the folio at @pfn if it is pending; return its last pfn. */
static unsigned long dnuma_isolate_folio(unsigned long pfn, int target,
					 struct list_head *list,
					 unsigned long *nr)
{
	struct page *page = pfn_to_online_page(pfn);
	struct folio *folio;

	if (!page || page_to_nid(page) == target || PageBuddy(page) ||
	    PageReserved(page))
		return pfn;
	folio = page_folio(page);
	/* No reference yet: the folio may split; the walk comes back. */
	if (folio_test_large(folio))
		pfn = folio_pfn(folio) + folio_nr_pages(folio) - 1;
	if (!folio_try_get(folio))
		return pfn;
	if (page_folio(page) != folio)
		goto out;
	if (unlikely(folio_test_hwpoison(folio)))
		dnuma_unlru_poisoned(folio);
	else if (isolate_folio_to_list(folio, list))
		(*nr)++;
out:
	folio_put(folio);
	return pfn;
}

/*
 * Migrate the pending pages of [@start, +PAGES_PER_SECTION) that can
 * move to @target, so that they are freed (and change zone) now.
 * get_online_mems() held.
 */
static unsigned long dnuma_migrate_section(unsigned long start, int target)
{
	nodemask_t nmask = node_states[N_MEMORY];
	struct migration_target_control mtc = {
		.nid = target,
		.nmask = &nmask,
		.gfp_mask = GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL,
		.reason = MR_MEMORY_HOTPLUG,
	};
	unsigned long pfn, nr = 0;
	LIST_HEAD(list);

	dnuma_assert_hotplug_held();
	for (pfn = start; pfn < start + PAGES_PER_SECTION; pfn++)
		pfn = dnuma_isolate_folio(pfn, target, &list, &nr);
	if (!list_empty(&list) &&
	    migrate_pages(&list, alloc_migration_target, NULL,
			  (unsigned long)&mtc, MIGRATE_SYNC, MR_MEMORY_HOTPLUG,
			  NULL))
		putback_movable_pages(&list);
	atomic_long_add(nr, &dnuma_count.migrated);
	return nr;
}

/*
 * DNUMA_F_MIGRATE: migrate what the ranges have allocated, a section at a
 * time, telling @progress (if any) how far it came.  Returns whether
 * @progress stopped it.
 */
static bool dnuma_migrate_ranges(const struct memlayout_range *r,
				 unsigned int nr, struct dnuma_progress *progress)
{
	unsigned long pfn, done = 0, total = 0;
	bool stopped = false;
	unsigned int i;

	for (i = 0; i < nr; i++)
		total += r[i].nr_pages;
	get_online_mems();
	if (progress && progress->step(progress, 0, total)) {
		stopped = true;
		goto out;
	}
	for (i = 0; i < nr; i++) {
		for (pfn = r[i].start_pfn;
		     pfn < r[i].start_pfn + r[i].nr_pages;
		     pfn += PAGES_PER_SECTION) {
			/* An idle range has nothing to walk for. */
			if (atomic_long_read(&dnuma_pending_total))
				dnuma_migrate_section(pfn, r[i].nid);
			done += PAGES_PER_SECTION;
			if (progress && progress->step(progress, done, total)) {
				stopped = true;
				goto out;
			}
		}
	}
out:
	put_online_mems();
	return stopped;
}

/* Free hugetlb pool pages never reach the free path unless dissolved. */
static unsigned long dnuma_dissolve_section(unsigned long start)
{
	unsigned long before = atomic_long_read(&dnuma_pending_total);

	if (dissolve_free_hugetlb_folios(start, start + PAGES_PER_SECTION))
		return 0;
	before -= atomic_long_read(&dnuma_pending_total);
	atomic_long_add(before, &dnuma_count.dissolved);
	return before;
}

/*
 * Pages of a node with no present pages left sit in no zonelist: reclaim
 * never gets to them.  Those that can migrate, migrate now.
 */
static unsigned long dnuma_migrate_orphans(unsigned long start, int target)
{
	unsigned long pfn, end = start + PAGES_PER_SECTION;

	for (pfn = start; pfn < end; pfn++) {
		int nid = page_to_nid(pfn_to_page(pfn));

		if (nid != target && !node_present_pages(nid))
			return dnuma_migrate_section(start, target);
	}
	return 0;
}

/* Whether the memory block at @pfn is known to be wholly another zone's. */
static bool dnuma_block_foreign(struct zone *zone, unsigned long pfn)
{
	struct memory_block *mem = find_memory_block(pfn_to_section_nr(pfn));
	bool foreign;

	if (!mem)
		return false;
	foreign = mem->zone && mem->zone != zone;
	put_device(&mem->dev);
	return foreign;
}

/*
 * Shrink @zone's span past the section at @pfn, which left it.  At an edge
 * shrink_zone_span() looks for the zone's next memory a subsection at a
 * time, over a gap that may be most of the guest: memory blocks that are
 * wholly another zone's (each block's zone is kept by memory hotplug and
 * by us) are stepped over first, a block at a time.  With no page
 * pending, no page of @zone can be in them.
 */
static void dnuma_shrink_zone(struct zone *zone, unsigned long pfn)
{
	const unsigned long block = PHYS_PFN(memory_block_size_bytes());
	unsigned long start = pfn, end = pfn + PAGES_PER_SECTION;

	if (start == zone->zone_start_pfn && IS_ALIGNED(end, block))
		while (end < zone_end_pfn(zone) &&
		       dnuma_block_foreign(zone, end))
			end += block;
	if (end == zone_end_pfn(zone) && IS_ALIGNED(start, block))
		while (start > zone->zone_start_pfn &&
		       dnuma_block_foreign(zone, start - block))
			start -= block;
	shrink_zone_range(zone, max(start, zone->zone_start_pfn),
			  min(end, zone_end_pfn(zone)));
}

/* No page is pending: spans shrink, the allocator's hook goes quiet. */
static void dnuma_finish(void)
{
	nodemask_t nodes = NODE_MASK_NONE;
	const struct memlayout *ml;
	struct dnuma_event ev = {};
	unsigned long sec, pfn;
	int nid;

	lockdep_assert_held(&dnuma_lock);
	if (!static_key_enabled(&dnuma_redirect_key))
		return;
	static_branch_disable(&dnuma_redirect_key);

	mem_hotplug_begin();
	ml = dnuma_layout_locked();
	for (sec = 0; ml && sec < ml->nr_sections; sec++) {
		enum zone_type zidx;
		long span;

		if (ml->nid[sec] == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		pfn = section_nr_to_pfn(sec);
		zidx = dnuma_zone_idx(pfn);
		for_each_online_node(nid) {
			struct zone *zone = dnuma_zone(nid, zidx);

			if (nid == ml->nid[sec] ||
			    !zone_intersects(zone, pfn, PAGES_PER_SECTION))
				continue;
			/* It shrinks over holes only; contiguity follows. */
			span = dnuma_span_blocks(zone);
			dnuma_clear_contiguous(zone);
			dnuma_shrink_zone(zone, pfn);
			dnuma_holes_sub(zone, span - dnuma_span_blocks(zone));
			node_set(nid, nodes);
			/* No page left to free into it: as offline_pages(). */
			if (!populated_zone(zone) && !zone_managed_pages(zone))
				zone_pcp_reset(zone);
		}
		node_set(ml->nid[sec], nodes);
	}
	dnuma_phase(DNUMA_PH_SETTLE);
	dnuma_update_nodes(&nodes, false);
	dnuma_nodes_offline();
	mem_hotplug_done();
	dnuma_unmovable_set(NULL);

	dnuma_sweep_ms = DNUMA_SWEEP_MIN_MS;
	ev.nodes = nodes;
	blocking_notifier_call_chain(&dnuma_chain, DNUMA_TRANSPLANT_DONE, &ev);
	dnuma_uevent(&nodes);
}

/* What a pass over the sections with pending pages does to each. */
enum dnuma_pass { DNUMA_SWEEP, DNUMA_DISSOLVE, DNUMA_ORPHANS, DNUMA_CLASSIFY };

/* Count the pending pages of a section that cannot migrate, by node. */
static void dnuma_classify_section(unsigned long start, int target,
				   unsigned long (*count)[DNUMA_NR_UNMOVABLE])
{
	unsigned long pfn;

	for (pfn = start; pfn < start + PAGES_PER_SECTION; pfn++) {
		struct page *page = pfn_to_page(pfn);
		int nid = page_to_nid(page);

		if (nid == target)
			continue;
		switch (dnuma_page_kind(page)) {
		case DNUMA_K_SLAB:
			count[nid][DNUMA_UNMOVABLE_SLAB]++;
			break;
		case DNUMA_K_PGTABLE:
			count[nid][DNUMA_UNMOVABLE_PGTABLE]++;
			break;
		case DNUMA_K_RESERVED:
		case DNUMA_K_OTHER:
			count[nid][DNUMA_UNMOVABLE_OTHER]++;
			break;
		default:
			break;
		}
	}
}

/*
 * One pass over each section the map gives a node that still has pages
 * of other nodes.  get_online_mems() held: the map and the sections'
 * online state are stable.  Returns the pages moved.
 */
static unsigned long dnuma_pass(enum dnuma_pass what, struct zone **from,
				unsigned long (*count)[DNUMA_NR_UNMOVABLE])
{
	const struct memlayout *ml = dnuma_layout_locked();
	unsigned long sec, pfn, moved = 0;
	int target;

	dnuma_assert_hotplug_held();
	for (sec = 0; ml && sec < ml->nr_sections; sec++) {
		pfn = section_nr_to_pfn(sec);
		target = ml->nid[sec];
		if (target == NUMA_NO_NODE || !online_section_nr(sec) ||
		    !__dnuma_range_busy(pfn, PAGES_PER_SECTION))
			continue;
		switch (what) {
		case DNUMA_SWEEP:
			moved += dnuma_sweep_section(pfn, target, from);
			break;
		case DNUMA_DISSOLVE:
			moved += dnuma_dissolve_section(pfn);
			break;
		case DNUMA_ORPHANS:
			moved += dnuma_migrate_orphans(pfn, target);
			break;
		case DNUMA_CLASSIFY:
			dnuma_classify_section(pfn, target, count);
			break;
		}
		cond_resched();
	}
	return moved;
}

/*
 * Strays, hugetlb pool pages, pages of nodes left without memory; then
 * the end of the transplant, or another try later, unless the last few
 * tries moved nothing.  dnuma_lock held.
 */
static unsigned long dnuma_sweep_all(bool migrate)
{
	unsigned long (*count)[DNUMA_NR_UNMOVABLE];
	unsigned long moved = 0;
	struct zone **from;

	lockdep_assert_held(&dnuma_lock);
	if (!atomic_long_read(&dnuma_pending_total))
		return 0;
	from = kcalloc(nr_node_ids, sizeof(*from), GFP_KERNEL);
	if (!from)
		return 0;
	get_online_mems();
	moved += dnuma_pass(DNUMA_SWEEP, from, NULL);
	if (migrate && IS_ENABLED(CONFIG_HUGETLB_PAGE))
		moved += dnuma_pass(DNUMA_DISSOLVE, NULL, NULL);
	if (migrate)
		moved += dnuma_pass(DNUMA_ORPHANS, NULL, NULL);
	/* What is left and cannot migrate, for the reports. */
	count = migrate ? kcalloc(nr_node_ids, sizeof(*count), GFP_KERNEL)
			: NULL;
	if (count) {
		dnuma_pass(DNUMA_CLASSIFY, NULL, count);
		dnuma_unmovable_set(count);
		kfree(count);
	}
	put_online_mems();
	kfree(from);
	return moved;
}

static void dnuma_settle(void)
{
	unsigned long moved;

	lockdep_assert_held(&dnuma_lock);
	moved = dnuma_sweep_all(true);
	if (!atomic_long_read(&dnuma_pending_total)) {
		dnuma_finish();
		dnuma_idle_rounds = 0;
		return;
	}
	if (!nodes_empty(dnuma_lost_memory) || !nodes_empty(dnuma_lost_normal)) {
		mem_hotplug_begin();
		dnuma_nodes_offline();
		mem_hotplug_done();
	}
	dnuma_idle_rounds = moved ? 0 : dnuma_idle_rounds + 1;
	if (dnuma_idle_rounds >= DNUMA_SWEEP_IDLE_ROUNDS)
		return;
	mod_delayed_work(system_freezable_wq, &dnuma_work,
			 msecs_to_jiffies(dnuma_sweep_ms));
	dnuma_sweep_ms = min(2 * dnuma_sweep_ms, DNUMA_SWEEP_MAX_MS);
}

static void dnuma_work_fn(struct work_struct *work)
{
	mutex_lock(&dnuma_lock);
	dnuma_settle();
	mutex_unlock(&dnuma_lock);
}

/*
 * A loaded kexec image holds pages it allocated and then marked reserved:
 * managed pages that look like boot memory, which a commit would move
 * without their managed count.
 */
static bool dnuma_kexec_loaded(void)
{
#ifdef CONFIG_KEXEC_CORE
	return READ_ONCE(kexec_image);
#else
	return false;
#endif
}

/* Bring target nodes online (their zones must exist); say which were. */
static int dnuma_online_targets(const struct memlayout_range *r,
				unsigned int nr, nodemask_t *onlined,
				struct dnuma_result *res)
{
	unsigned int i;
	int ret;

	nodes_clear(*onlined);
	for (i = 0; i < nr; i++) {
		if (node_online(r[i].nid))
			continue;
		ret = dnuma_should_fail() ? -ENOMEM : try_online_node(r[i].nid);
		if (ret < 0) {
			res->bad = i;
			res->bad_node = true;
			res->why = "cannot bring the node online";
			return ret;
		}
		node_set(r[i].nid, *onlined);
	}
	return 0;
}

/**
 * dnuma_relayout - give ranges of memory to other nodes, in place
 * @r: the ranges: sorted, disjoint, whole memory blocks of online RAM
 * @nr: how many
 * @flags: DNUMA_F_MIGRATE to migrate allocated pages now
 * @progress: for DNUMA_F_MIGRATE, told how far it came; may stop it
 * @res: what was done, or what was wrong
 *
 * All ranges are checked before anything changes; on error nothing did.
 * Target nodes must be possible; an offline one is brought online.
 *
 * Context: process context, may sleep for long.
 * Return: 0, -EINVAL (@res->bad, @res->why say which range and why),
 * -ENOMEM, or -EBUSY if a notifier vetoed or a pageblock of the ranges
 * is isolated by somebody else.
 */
int dnuma_relayout(const struct memlayout_range *r, unsigned int nr,
		   unsigned int flags, struct dnuma_progress *progress,
		   struct dnuma_result *res)
{
	struct dnuma_event ev = {};
	struct dnuma_commit c = { .r = r, .nr = nr, .ev = &ev };
	enum memlayout_error err;
	nodemask_t onlined;
	long moved, swept;
	unsigned int i;
	int nid, ret = 0;

	memset(res, 0, sizeof(*res));
	if (flags & ~DNUMA_F_MIGRATE) {
		res->why = "unknown flags";
		return -EINVAL;
	}
	err = memlayout_check(r, nr, nr_node_ids, &res->bad);
	if (err) {
		res->why = memlayout_error_name(err);
		res->bad_node = err == MEMLAYOUT_E_NODE;
		return -EINVAL;
	}

	mutex_lock(&dnuma_lock);
	memset(dnuma_phase_ns, 0, sizeof(dnuma_phase_ns));
	dnuma_phase_t0 = ktime_get_ns();
	/* Strays would keep their blocks from being isolated. */
	dnuma_sweep_all(false);
	dnuma_phase(DNUMA_PH_SWEEP);
	lock_device_hotplug();
	for (i = 0; i < nr; i++) {
		res->why = dnuma_check_range(&r[i]);
		if (res->why) {
			res->bad = i;
			res->bad_node = !node_possible(r[i].nid);
			ret = -EINVAL;
			goto out_unlock;
		}
	}
	if (dnuma_kexec_loaded()) {
		res->why = "a kexec image is loaded";
		ret = -EBUSY;
		goto out_unlock;
	}
	ret = dnuma_online_targets(r, nr, &onlined, res);
	if (ret)
		goto out_offline;
	dnuma_phase(DNUMA_PH_CHECK);
	ev.start_pfn = r[0].start_pfn;
	ev.end_pfn = r[nr - 1].start_pfn + r[nr - 1].nr_pages;

	moved = atomic_long_read(&dnuma_count.moved);
	swept = atomic_long_read(&dnuma_count.swept);
	mem_hotplug_begin();
	ret = dnuma_commit(&c);
	mem_hotplug_done();
	dnuma_commit_free(&c);
	if (ret) {
		res->why = ret == -ENOMEM ? "out of memory" :
			   "vetoed, or memory isolated by somebody else";
		goto out_offline;
	}
	unlock_device_hotplug();

	dnuma_sweep_ms = DNUMA_SWEEP_MIN_MS;
	dnuma_idle_rounds = 0;
	if (flags & DNUMA_F_MIGRATE)
		res->stopped = dnuma_migrate_ranges(r, nr, progress);
	dnuma_phase(DNUMA_PH_MIGRATE);
	dnuma_settle();
	dnuma_phase(DNUMA_PH_SETTLE);
	res->moved = atomic_long_read(&dnuma_count.moved) - moved +
		     atomic_long_read(&dnuma_count.swept) - swept;
	res->pending = atomic_long_read(&dnuma_pending_total);
	blocking_notifier_call_chain(&dnuma_chain, DNUMA_RELAYOUT_DONE, &ev);
	dnuma_uevent(&ev.nodes);
	dnuma_phase(DNUMA_PH_DONE);
	dnuma_phase_t0 = 0;
	mutex_unlock(&dnuma_lock);
	return 0;

out_offline:
	/* Nodes brought online for the commit go again: nothing changed. */
	for_each_node_mask(nid, onlined)
		try_offline_node(nid);
out_unlock:
	unlock_device_hotplug();
	dnuma_phase_t0 = 0;
	mutex_unlock(&dnuma_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(dnuma_relayout);

/* --- Memory hotplug: the map follows memory that goes offline --- */

/*
 * Memory going offline leaves the map: added again later (perhaps for
 * another node), it must not be redirected anywhere.  Offlining refused
 * ranges with pending pages (dnuma_range_busy()), so no count changes;
 * should offlining fail after all, the memory stays online as its
 * memory block's node's, which it is.  Called with mem_hotplug_lock held
 * for writing, the lock every change of the map is made under.  Our own
 * node announcements carry no pages and are nothing to do here.
 */
static int dnuma_memory_callback(struct notifier_block *nb,
				 unsigned long action, void *arg)
{
	struct memory_notify *mn = arg;
	struct memlayout_range r = {
		.start_pfn = mn->start_pfn,
		.nr_pages = mn->nr_pages,
		.nid = NUMA_NO_NODE,
	};
	struct memlayout *old, *ml;
	unsigned long pfn;

	dnuma_assert_hotplug_held();
	if (!mn->nr_pages ||
	    (action != MEM_GOING_OFFLINE && action != MEM_GOING_ONLINE))
		return NOTIFY_OK;
	/* Spans and holes change, under this same hold of the lock. */
	dnuma_holes_gen++;
	old = dnuma_layout_locked();
	for (pfn = mn->start_pfn; pfn < mn->start_pfn + mn->nr_pages;
	     pfn += PAGES_PER_SECTION)
		if (memlayout_nid(old, pfn) != NUMA_NO_NODE)
			break;
	if (pfn >= mn->start_pfn + mn->nr_pages)
		return NOTIFY_OK;
	/* Memory offlined leaves the map; onlined memory is never in it. */
	WARN_ON_ONCE(action == MEM_GOING_ONLINE);
	r.start_pfn = ALIGN_DOWN(r.start_pfn, PAGES_PER_SECTION);
	r.nr_pages = ALIGN(mn->start_pfn + mn->nr_pages, PAGES_PER_SECTION) -
		     r.start_pfn;
	ml = memlayout_apply(old, &r, 1, GFP_KERNEL);
	if (!ml)
		return notifier_from_errno(-ENOMEM);
	dnuma_publish(ml);
	kvfree_rcu(old, rcu);
	return NOTIFY_OK;
}

static struct notifier_block dnuma_memory_nb = {
	.notifier_call = dnuma_memory_callback,
	/* After the others have agreed: nothing to undo. */
	.priority = INT_MIN,
};

static int __init dnuma_init(void)
{
	/* Without it, contiguity is found by scanning zones. */
	dnuma_holes = kcalloc(nr_node_ids * MAX_NR_ZONES, sizeof(*dnuma_holes),
			      GFP_KERNEL);
	return register_memory_notifier(&dnuma_memory_nb);
}
subsys_initcall(dnuma_init);

