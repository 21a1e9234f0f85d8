// SPDX-License-Identifier: GPL-2.0
/*
 * Dynamic NUMA: move memory between nodes at run time, in place.
 *
 * A relayout says "these ranges of memory belong to these nodes from now
 * on", typically because the hypervisor moved the memory behind them.
 * Nothing is copied and nothing is hot-unplugged:
 *
 *  - the target zones grow to span the ranges;
 *  - free pages leave the old zones' free lists for the new ones, under
 *    both zone locks, with their managed pages (move_free_pages_to_zone());
 *  - reserved pages change node in place: nobody frees them to us;
 *  - allocated pages keep their node while they are in use: every user
 *    of page_to_nid() of an allocated page (node stats, memcg lruvecs,
 *    slab, list_lru) expects it to stay.  They are "pending", and change
 *    zone when they are freed (__dnuma_free_page(), from the allocator's
 *    free path), or when DNUMA_F_MIGRATE migrates them now.
 *
 * Which node a section belongs to is a struct memlayout, published under
 * RCU and replaced as a whole by each commit.  The free path consults it
 * only while dnuma_redirect_key is on, that is while a page is pending.
 *
 * Pending pages are counted, not marked: a commit counts them per node
 * before it publishes the map, and every page that changes zone after
 * that subtracts itself, exactly once, because only the page's owner of
 * the moment changes its zone: the freeing path for an allocated page
 * (refcount zero), the holder of both zone locks for a free page.  No
 * page flag is ever written on a page somebody else owns.
 *
 * A page freed while a commit runs may still reach its old zone's free
 * lists (it read no map, or the old one).  It was counted as pending, and
 * the old zone still manages it, so the accounting holds; a sweep moves
 * it later.  The invariant, at every moment: managed, present and free
 * pages summed over the nodes do not change, and a node's pending pages
 * are managed pages of that node that belong to another node's ranges.
 *
 * Locking, outermost first:
 *   dnuma_lock		serializes commits, sweeps and the work that ends
 *			a transplant; protects dnuma_layout updates.
 *   device_hotplug_lock	memory block devices and their sysfs links.
 *   mem_hotplug_lock	(write) zone spans, present pages, node states.
 *   zone->lock		free lists; two are nested (source, then target)
 *			only in move_free_pages_to_zone(), under dnuma_lock.
 *
 * Documentation/mm/dynamic-numa.rst has the whole design.
 */
#include <linux/cpu.h>
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/dnuma.h>
#include <linux/irq_work.h>
#include <linux/memlayout.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/compaction.h>
#include <linux/node.h>
#include <linux/ioport.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "internal.h"

static DEFINE_MUTEX(dnuma_lock);
static struct memlayout __rcu *dnuma_layout;
DEFINE_STATIC_KEY_FALSE(dnuma_redirect_key);

/* Managed pages of node N that belong to another node's ranges. */
static atomic_long_t dnuma_pending[MAX_NUMNODES];
static atomic_long_t dnuma_pending_total;
/* Pages that moved into node N, by any relayout, since boot. */
static atomic_long_t dnuma_transplanted[MAX_NUMNODES];

/* Counters for debugfs. */
static atomic_long_t dnuma_commits, dnuma_moved, dnuma_redirected,
		     dnuma_swept, dnuma_migrated;
static DEFINE_PER_CPU(unsigned long, dnuma_lookups);

static BLOCKING_NOTIFIER_HEAD(dnuma_chain);

/* Sweeps back off while pages stay pending, up to a minute apart. */
#define DNUMA_SWEEP_MIN_MS	100
#define DNUMA_SWEEP_MAX_MS	60000
static unsigned int dnuma_sweep_ms = DNUMA_SWEEP_MIN_MS;

static void dnuma_work_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(dnuma_work, dnuma_work_fn);

/* The free path may run under any lock: kick the work from an irq_work. */
static void dnuma_kick(struct irq_work *iw)
{
	mod_delayed_work(system_wq, &dnuma_work, 0);
}

static DEFINE_IRQ_WORK(dnuma_irq_work, dnuma_kick);

static struct memlayout *dnuma_layout_locked(void)
{
	return rcu_dereference_protected(dnuma_layout,
					 lockdep_is_held(&dnuma_lock));
}

/* @nr pages of @from_nid changed zone: they are no longer pending. */
static void dnuma_account_moved(int from_nid, int to_nid, unsigned long nr)
{
	atomic_long_add(nr, &dnuma_transplanted[to_nid]);
	atomic_long_sub(nr, &dnuma_pending[from_nid]);
	if (!atomic_long_sub_return(nr, &dnuma_pending_total))
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

	from = page_zone(page);
	to = &NODE_DATA(nid)->node_zones[zone_idx(from)];
	for (i = 0; i < nr; i++)
		dnuma_set_page_zone(page + i, zone_idx(to), nid);
	atomic_long_sub(nr, &from->managed_pages);
	atomic_long_add(nr, &to->managed_pages);
	atomic_long_add(nr, &dnuma_redirected);
	dnuma_account_moved(old_nid, nid, nr);
out:
	rcu_read_unlock();
}

unsigned long dnuma_node_pending(int nid)
{
	return max(atomic_long_read(&dnuma_pending[nid]), 0L);
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

/* --- Validation --- */

static int dnuma_count_ram(unsigned long start_pfn, unsigned long nr_pages,
			   void *arg)
{
	*(unsigned long *)arg += nr_pages;
	return 0;
}

/*
 * What memlayout_check() cannot know: the range must be whole memory
 * blocks of online RAM (no holes, no device memory) in one kind of zone,
 * and its node must be possible.
 */
static const char *dnuma_check_range(const struct memlayout_range *r)
{
	const unsigned long block_pages = PHYS_PFN(memory_block_size_bytes());
	unsigned long pfn, end = r->start_pfn + r->nr_pages, ram = 0;
	enum zone_type zidx = MAX_NR_ZONES;

	if (!IS_ALIGNED(r->start_pfn, block_pages) ||
	    !IS_ALIGNED(r->nr_pages, block_pages))
		return "not aligned to memory blocks";
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
	for (pfn = r->start_pfn; pfn < end; pfn += pageblock_nr_pages) {
		struct page *first = pfn_to_online_page(pfn);
		struct page *last = pfn_to_online_page(pfn +
						       pageblock_nr_pages - 1);

		if (!first || !last)
			return "memory not present or offline";
		if (zidx == MAX_NR_ZONES)
			zidx = page_zonenum(first);
		if (page_zonenum(first) != zidx || page_zonenum(last) != zidx)
			return "range spans zones";
	}
	/* Device memory is never online: pfn_to_online_page() said so. */
	return NULL;
}

/* --- Commit --- */

static enum zone_type dnuma_zone_idx(unsigned long pfn)
{
	return page_zonenum(pfn_to_page(pfn));
}

static struct zone *dnuma_zone(int nid, enum zone_type zidx)
{
	return &NODE_DATA(nid)->node_zones[zidx];
}

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

/*
 * Take the pages of @from in one section into @to: free pages move now,
 * reserved pages change node in place, the rest are counted as pending.
 * A section's present pages go with its layout, not with its pages: they
 * are counted here only for a section no relayout assigned before.
 * The map is not published yet, so no freed page changes zone under us;
 * a page freed into @from after its block was moved was counted here and
 * is a stray the sweep picks up.  mem_hotplug_lock held for writing.
 */
static void dnuma_take_section(struct zone *from, struct zone *to,
			       unsigned long start_pfn, bool count_present)
{
	const unsigned long end_pfn = start_pfn + PAGES_PER_SECTION;
	unsigned long pfn, moved, present = 0, pending = 0;

	moved = move_free_pages_to_zone(from, to, start_pfn, end_pfn);
	for (pfn = start_pfn; pfn < end_pfn; pfn++) {
		struct page *page = pfn_to_page(pfn);

		if (page_zone(page) != from)
			continue;
		present++;
		if (PageReserved(page))
			dnuma_set_page_zone(page, zone_idx(to),
					    zone_to_nid(to));
		else
			pending++;
	}
	present += moved;
	if (count_present)
		dnuma_move_present(from, to, start_pfn, present);
	atomic_long_add(moved, &dnuma_moved);
	atomic_long_add(moved, &dnuma_transplanted[zone_to_nid(to)]);
	atomic_long_add(pending, &dnuma_pending[zone_to_nid(from)]);
	atomic_long_add(pending, &dnuma_pending_total);
}

/*
 * Sections of @r that an earlier relayout gave to another node still have
 * that node's pending pages counted.  With the map for them withdrawn (no
 * page changes zone there now), forget those counts: the commit counts
 * again against the new target.
 */
static void dnuma_uncount(const struct memlayout *old,
			  const struct memlayout_range *r)
{
	unsigned long pfn, end = r->start_pfn + r->nr_pages;

	for (pfn = r->start_pfn; pfn < end; pfn++) {
		struct page *page = pfn_to_page(pfn);
		int target = memlayout_nid(old, pfn);
		int nid = page_to_nid(page);

		if (target == NUMA_NO_NODE) {
			pfn = ALIGN(pfn + 1, PAGES_PER_SECTION) - 1;
			continue;
		}
		if (nid != target && !PageReserved(page)) {
			atomic_long_dec(&dnuma_pending[nid]);
			atomic_long_dec(&dnuma_pending_total);
		}
	}
}

/* Whether a range overlaps sections an earlier relayout gave a node. */
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

/*
 * Withdraw the map for the sections of @r and wait until no free path
 * still uses the old one, then forget their pending counts.
 */
static int dnuma_withdraw(const struct memlayout_range *r, unsigned int nr)
{
	struct memlayout *old = dnuma_layout_locked(), *mid;
	struct memlayout_range *none;
	unsigned int i;

	none = kmemdup_array(r, nr, sizeof(*r), GFP_KERNEL);
	if (!none)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		none[i].nid = NUMA_NO_NODE;
	mid = memlayout_apply(old, none, nr, GFP_KERNEL);
	kfree(none);
	if (!mid)
		return -ENOMEM;
	rcu_assign_pointer(dnuma_layout, mid);
	synchronize_rcu();
	for (i = 0; i < nr; i++)
		dnuma_uncount(old, &r[i]);
	/* No reader has @old any more; the caller frees it. */
	return 0;
}

/*
 * @prev is the map before this commit: sections it assigned have their
 * present pages in that node's zone, whatever zone their pages are in.
 */
static void dnuma_take_range(const struct memlayout_range *r,
			     const struct memlayout *prev, nodemask_t *nodes)
{
	const unsigned long end = r->start_pfn + r->nr_pages;
	enum zone_type zidx = dnuma_zone_idx(r->start_pfn);
	struct zone *to = dnuma_zone(r->nid, zidx);
	unsigned long pfn;
	int nid;

	/* A zone new to pages needs its pcp lists (see online_pages()). */
	if (!populated_zone(to) && !zone_managed_pages(to))
		setup_zone_pageset(to);
	grow_zone_range(to, r->start_pfn, r->nr_pages);
	node_set(r->nid, *nodes);

	for (pfn = r->start_pfn; pfn < end; pfn += PAGES_PER_SECTION) {
		nid = memlayout_nid(prev, pfn);
		if (nid == NUMA_NO_NODE || nid == r->nid)
			continue;
		dnuma_move_present(dnuma_zone(nid, zidx), to, pfn,
				   PAGES_PER_SECTION);
		node_set(nid, *nodes);
	}

	for_each_online_node(nid) {
		struct zone *from = dnuma_zone(nid, zidx);

		if (nid == r->nid || !zone_intersects(from, r->start_pfn,
						      r->nr_pages))
			continue;
		/* Its pageblocks may hold pages of two zones from now on. */
		clear_zone_contiguous(from);
		node_set(nid, *nodes);
		for (pfn = r->start_pfn; pfn < end; pfn += PAGES_PER_SECTION) {
			dnuma_take_section(from, to, pfn,
					   memlayout_nid(prev, pfn) ==
					   NUMA_NO_NODE);
			cond_resched();
		}
	}
}

static int dnuma_move_block(struct memory_block *mem, void *arg)
{
	unregister_memory_block_under_nodes(mem);
	if (mem->zone)
		mem->zone = arg;
	return 0;
}

/* Memory block devices follow: nid, zone and the node's sysfs links. */
static void dnuma_move_blocks(const struct memlayout_range *r)
{
	struct zone *to = dnuma_zone(r->nid, dnuma_zone_idx(r->start_pfn));

	walk_memory_blocks(PFN_PHYS(r->start_pfn), PFN_PHYS(r->nr_pages), to,
			   dnuma_move_block);
	register_memory_blocks_under_node(r->nid, r->start_pfn,
					  r->start_pfn + r->nr_pages,
					  MEMINIT_HOTPLUG);
}

/*
 * Bring node states, zonelists, watermarks and reclaim threads in line
 * with the zones' present pages.  mem_hotplug_lock held for writing.
 */
static void dnuma_set_node_state(int nid, enum node_states state, bool on)
{
	if (on)
		node_set_state(nid, state);
	else
		node_clear_state(nid, state);
}

static void dnuma_update_nodes(const nodemask_t *nodes)
{
	int nid;

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
			if (!zone->contiguous)
				set_zone_contiguous(zone);
		}
		dnuma_set_node_state(nid, N_MEMORY, any);
		dnuma_set_node_state(nid, N_NORMAL_MEMORY, normal);
		if (any) {
			kswapd_run(nid);
			kcompactd_run(nid);
		}
	}
	/*
	 * Zonelists list populated zones only, and a zone may have gained or
	 * lost all its pages; rebuilding them is cheap next to a commit.
	 */
	build_all_zonelists(NULL);
	init_per_zone_wmark_min();
}

/*
 * A node that gets its first memory, or loses its last, changes state the
 * way memory hotplug changes it: subscribers of the memory notifier (slab
 * sets up its per-node structures, cpusets and memory tiers follow the
 * node) hear status_change_nid.  The sections are online already, so no
 * pfn range goes with it: nr_pages 0 keeps page_ext and KASAN shadow out.
 */
static int dnuma_node_notify(unsigned long action, int nid, enum zone_type z)
{
	struct memory_notify arg = {
		.status_change_nid = nid,
		.status_change_nid_normal = z <= ZONE_NORMAL ? nid : NUMA_NO_NODE,
	};

	return notifier_to_errno(memory_notify(action, &arg));
}

/* Targets without memory yet: announce them, or undo and refuse. */
static int dnuma_nodes_going_online(const struct memlayout_range *r,
				    unsigned int nr, nodemask_t *notified)
{
	unsigned int i;
	int nid, ret;

	nodes_clear(*notified);
	for (i = 0; i < nr; i++) {
		nid = r[i].nid;
		if (node_state(nid, N_MEMORY) || node_isset(nid, *notified))
			continue;
		ret = dnuma_node_notify(MEM_GOING_ONLINE, nid,
					dnuma_zone_idx(r[i].start_pfn));
		if (ret) {
			for_each_node_mask(nid, *notified)
				dnuma_node_notify(MEM_CANCEL_ONLINE, nid,
						  ZONE_NORMAL);
			return ret;
		}
		node_set(nid, *notified);
	}
	return 0;
}

/* Nodes that had memory and have none now: tell who listens, no veto. */
static void dnuma_nodes_offline(const nodemask_t *had_memory)
{
	int nid;

	for_each_node_mask(nid, *had_memory) {
		if (node_state(nid, N_MEMORY))
			continue;
		dnuma_node_notify(MEM_GOING_OFFLINE, nid, ZONE_NORMAL);
		dnuma_node_notify(MEM_OFFLINE, nid, ZONE_NORMAL);
	}
}

static int dnuma_commit(const struct memlayout_range *r, unsigned int nr,
			struct dnuma_event *ev)
{
	struct memlayout *prev, *old, *new;
	nodemask_t gaining, had_memory = node_states[N_MEMORY];
	unsigned int i;
	int nid, ret;

	ret = blocking_notifier_call_chain(&dnuma_chain, DNUMA_RELAYOUT_PREPARE,
					   ev);
	if (ret & NOTIFY_STOP_MASK)
		return notifier_to_errno(ret) ?: -EBUSY;
	prev = dnuma_layout_locked();
	/*
	 * With no page pending anywhere, every page of a relayouted section
	 * is on the section's node: no free path moves one while we count,
	 * and there is no count to forget.  (Only commits add pending pages,
	 * and we are the only one.)
	 */
	if (atomic_long_read(&dnuma_pending_total) &&
	    dnuma_retargets(prev, r, nr)) {
		ret = dnuma_withdraw(r, nr);
		if (ret)
			return ret;
	}
	old = dnuma_layout_locked();
	new = memlayout_apply(old, r, nr, GFP_KERNEL);
	if (!new) {
		ret = -ENOMEM;
		goto out;
	}
	ret = dnuma_nodes_going_online(r, nr, &gaining);
	if (ret) {
		memlayout_free(new);
		goto out;
	}

	/* From here on pageblocks may mix zones: see dnuma_other_zone(). */
	static_branch_enable_cpuslocked(&dnuma_redirect_key);
	for (i = 0; i < nr; i++)
		dnuma_take_range(&r[i], prev, &ev->nodes);
	rcu_assign_pointer(dnuma_layout, new);
	if (old)
		kvfree_rcu(old, rcu);

	for (i = 0; i < nr; i++)
		dnuma_move_blocks(&r[i]);
	dnuma_update_nodes(&ev->nodes);
	for_each_node_mask(nid, gaining)
		dnuma_node_notify(MEM_ONLINE, nid, ZONE_NORMAL);
	dnuma_nodes_offline(&had_memory);
	atomic_long_inc(&dnuma_commits);
	ret = 0;
out:
	/* Withdrawn and waited for: nobody reads it any more. */
	if (prev != old)
		memlayout_free(prev);
	return ret;
}

/* --- After a commit: strays, migration, the end of a transplant --- */

/*
 * Move free pages that reached their old zone after the commit counted
 * them.  A sweep moves them under both zone locks, like a commit, and
 * they stop being pending.  dnuma_lock held.
 */
static void dnuma_sweep(void)
{
	const struct memlayout *ml = dnuma_layout_locked();
	unsigned long sec, pfn;
	struct zone *zone;

	if (!ml)
		return;
	/*
	 * Strays on per-cpu lists go back to their zone's free lists.  Not
	 * drain_all_pages(NULL): it skips zones without present pages, and a
	 * relayout may leave such a zone with pages on its lists.
	 */
	for_each_zone(zone)
		if (zone_managed_pages(zone))
			drain_all_pages(zone);
	get_online_mems();
	for (sec = 0; sec < ml->nr_sections; sec++) {
		int target = ml->nid[sec], nid;
		enum zone_type zidx;
		struct zone *to;

		pfn = section_nr_to_pfn(sec);
		if (target == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		zidx = dnuma_zone_idx(pfn);
		to = dnuma_zone(target, zidx);
		for_each_online_node(nid) {
			struct zone *from = dnuma_zone(nid, zidx);
			unsigned long moved;

			if (nid == target ||
			    !zone_intersects(from, pfn, PAGES_PER_SECTION))
				continue;
			moved = move_free_pages_to_zone(from, to, pfn, pfn +
							PAGES_PER_SECTION);
			if (moved) {
				atomic_long_add(moved, &dnuma_swept);
				dnuma_account_moved(nid, target, moved);
			}
		}
		cond_resched();
	}
	put_online_mems();
}

/* Isolate the folio at @pfn if it is pending; return its last pfn. */
static unsigned long dnuma_isolate(unsigned long pfn, int nid,
				   struct list_head *list, unsigned long *nr)
{
	struct page *page = pfn_to_page(pfn);
	struct folio *folio;

	if (page_to_nid(page) == nid || PageBuddy(page) || PageReserved(page))
		return pfn;
	folio = page_folio(page);
	/* No reference yet: the folio may split; the walk comes back. */
	if (folio_test_large(folio))
		pfn = folio_pfn(folio) + folio_nr_pages(folio) - 1;
	if (!folio_try_get(folio))
		return pfn;
	if (page_folio(page) == folio && isolate_folio_to_list(folio, list))
		(*nr)++;
	folio_put(folio);
	return pfn;
}

static void dnuma_migrate_list(struct list_head *list,
			       struct migration_target_control *mtc)
{
	if (list_empty(list))
		return;
	if (migrate_pages(list, alloc_migration_target, NULL,
			  (unsigned long)mtc, MIGRATE_SYNC, MR_MEMORY_HOTPLUG,
			  NULL))
		putback_movable_pages(list);
	cond_resched();
}

/*
 * Migrate the pending pages of @r that can move, a section at a time, so
 * that they are freed (and change zone) now.  Unmovable ones stay pending.
 */
static void dnuma_migrate_range(const struct memlayout_range *r)
{
	const unsigned long end = r->start_pfn + r->nr_pages;
	nodemask_t nmask = node_states[N_MEMORY];
	struct migration_target_control mtc = {
		.nid = r->nid,
		.nmask = &nmask,
		.gfp_mask = GFP_USER | __GFP_MOVABLE | __GFP_RETRY_MAYFAIL,
		.reason = MR_MEMORY_HOTPLUG,
	};
	unsigned long pfn, sec_end, nr = 0;
	LIST_HEAD(list);

	for (pfn = r->start_pfn; pfn < end; pfn = sec_end) {
		sec_end = pfn + PAGES_PER_SECTION;
		for (; pfn < sec_end; pfn++)
			pfn = dnuma_isolate(pfn, r->nid, &list, &nr);
		dnuma_migrate_list(&list, &mtc);
	}
	atomic_long_add(nr, &dnuma_migrated);
}

/* No page is pending: spans shrink, the allocator's hook goes quiet. */
static void dnuma_finish(void)
{
	const struct memlayout *ml = dnuma_layout_locked();
	nodemask_t nodes = NODE_MASK_NONE;
	struct dnuma_event ev = {};
	unsigned long sec, pfn;
	int nid;

	if (!static_key_enabled(&dnuma_redirect_key))
		return;
	static_branch_disable(&dnuma_redirect_key);

	mem_hotplug_begin();
	for (sec = 0; ml && sec < ml->nr_sections; sec++) {
		enum zone_type zidx;

		if (ml->nid[sec] == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		pfn = section_nr_to_pfn(sec);
		zidx = dnuma_zone_idx(pfn);
		for_each_online_node(nid) {
			struct zone *zone = dnuma_zone(nid, zidx);

			if (nid == ml->nid[sec] ||
			    !zone_intersects(zone, pfn, PAGES_PER_SECTION))
				continue;
			shrink_zone_range(zone, pfn, pfn + PAGES_PER_SECTION);
			node_set(nid, nodes);
			/* No page left to free into it: as offline_pages(). */
			if (!populated_zone(zone) && !zone_managed_pages(zone))
				zone_pcp_reset(zone);
		}
		node_set(ml->nid[sec], nodes);
	}
	dnuma_update_nodes(&nodes);
	mem_hotplug_done();

	dnuma_sweep_ms = DNUMA_SWEEP_MIN_MS;
	ev.nodes = nodes;
	blocking_notifier_call_chain(&dnuma_chain, DNUMA_TRANSPLANT_DONE, &ev);
	dnuma_uevent(&nodes);
}

/* Strays, then the end of the transplant, or another try later. */
static void dnuma_settle(void)
{
	if (atomic_long_read(&dnuma_pending_total))
		dnuma_sweep();
	if (!atomic_long_read(&dnuma_pending_total)) {
		dnuma_finish();
		return;
	}
	mod_delayed_work(system_wq, &dnuma_work,
			 msecs_to_jiffies(dnuma_sweep_ms));
	dnuma_sweep_ms = min(2 * dnuma_sweep_ms, DNUMA_SWEEP_MAX_MS);
}

static void dnuma_work_fn(struct work_struct *work)
{
	mutex_lock(&dnuma_lock);
	dnuma_settle();
	mutex_unlock(&dnuma_lock);
}

/**
 * dnuma_relayout - give ranges of memory to other nodes, in place
 * @r: the ranges: sorted, disjoint, whole memory blocks of online RAM
 * @nr: how many
 * @flags: DNUMA_F_MIGRATE to migrate allocated pages now
 * @res: what was done, or what was wrong
 *
 * All ranges are checked before anything changes; on error nothing did.
 * Target nodes must be possible; an offline one is brought online.
 *
 * Context: process context, may sleep for long.
 * Return: 0, -EINVAL (@res->bad, @res->why say which range and why),
 * -ENOMEM, or -EBUSY if a notifier vetoed.
 */
int dnuma_relayout(const struct memlayout_range *r, unsigned int nr,
		   unsigned int flags, struct dnuma_result *res)
{
	struct dnuma_event ev = {};
	enum memlayout_error err;
	long moved, swept;
	unsigned int i;
	int ret = 0;

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
	for (i = 0; i < nr; i++) {
		res->why = dnuma_check_range(&r[i]);
		if (res->why) {
			res->bad = i;
			res->bad_node = !node_possible(r[i].nid);
			ret = -EINVAL;
			goto out;
		}
	}
	/* A target's zones must exist before they can take pages. */
	for (i = 0; i < nr; i++) {
		if (node_online(r[i].nid))
			continue;
		ret = try_online_node(r[i].nid);
		if (ret < 0) {
			res->bad = i;
			res->bad_node = true;
			res->why = "cannot bring the node online";
			goto out;
		}
	}
	ev.start_pfn = r[0].start_pfn;
	ev.end_pfn = r[nr - 1].start_pfn + r[nr - 1].nr_pages;

	moved = atomic_long_read(&dnuma_moved);
	swept = atomic_long_read(&dnuma_swept);
	lock_device_hotplug();
	mem_hotplug_begin();
	ret = dnuma_commit(r, nr, &ev);
	mem_hotplug_done();
	unlock_device_hotplug();
	if (ret) {
		res->why = ret == -ENOMEM ? "out of memory" : "vetoed";
		goto out;
	}

	if (flags & DNUMA_F_MIGRATE)
		for (i = 0; i < nr; i++)
			dnuma_migrate_range(&r[i]);
	dnuma_settle();
	res->moved = atomic_long_read(&dnuma_moved) - moved +
		     atomic_long_read(&dnuma_swept) - swept;
	res->pending = atomic_long_read(&dnuma_pending_total);
	blocking_notifier_call_chain(&dnuma_chain, DNUMA_RELAYOUT_DONE, &ev);
	dnuma_uevent(&ev.nodes);
out:
	mutex_unlock(&dnuma_lock);
	return ret;
}
EXPORT_SYMBOL_GPL(dnuma_relayout);

/* --- debugfs: drive and inspect relayouts without a device --- */

#ifdef CONFIG_DEBUG_FS
/*
 * "START SIZE NODE[ START SIZE NODE...][ migrate]": START and SIZE in
 * bytes (memparse: 0x..., 512M), NODE a node id.  One write, one commit.
 */
static ssize_t dnuma_relayout_write(struct file *file, const char __user *ubuf,
				    size_t count, loff_t *ppos)
{
	struct memlayout_range *r;
	struct dnuma_result res;
	unsigned int nr = 0, flags = 0;
	char *buf, *p, *tok[3], *end0, *end1;
	unsigned long long start, size;
	int ret, i;

	if (count > PAGE_SIZE)
		return -E2BIG;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	r = kcalloc(MEMLAYOUT_MAX_RANGES, sizeof(*r), GFP_KERNEL);
	if (!r) {
		kfree(buf);
		return -ENOMEM;
	}
	p = strim(buf);
	ret = -EINVAL;
	while (p && *p) {
		if (!strncmp(p, "migrate", 7) && (!p[7] || isspace(p[7]))) {
			flags |= DNUMA_F_MIGRATE;
			p = skip_spaces(p + 7);
			continue;
		}
		if (nr == MEMLAYOUT_MAX_RANGES)
			goto out;
		for (i = 0; i < 3; i++) {
			tok[i] = strsep(&p, " \t\n");
			if (!tok[i] || !*tok[i])
				goto out;
			if (p)
				p = skip_spaces(p);
		}
		start = memparse(tok[0], &end0);
		size = memparse(tok[1], &end1);
		/* Whole numbers of pages, or the rounding would move others. */
		if (*end0 || *end1 || !PAGE_ALIGNED(start) ||
		    !PAGE_ALIGNED(size) || kstrtoint(tok[2], 0, &r[nr].nid))
			goto out;
		r[nr].start_pfn = PHYS_PFN(start);
		r[nr].nr_pages = PHYS_PFN(size);
		nr++;
	}
	ret = dnuma_relayout(r, nr, flags, &res);
	if (ret)
		pr_info("dnuma: relayout refused: range %u: %s\n", res.bad,
			res.why);
out:
	kfree(r);
	kfree(buf);
	return ret ?: count;
}

static const struct file_operations dnuma_relayout_fops = {
	.open = simple_open,
	.write = dnuma_relayout_write,
	.llseek = noop_llseek,
};

/* Runs of sections with the same node: "0x20000000-0x3fffffff 1". */
static int dnuma_layout_show(struct seq_file *m, void *v)
{
	const struct memlayout *ml;
	unsigned long sec, first = 0;
	int nid = NUMA_NO_NODE;

	mutex_lock(&dnuma_lock);
	ml = dnuma_layout_locked();
	for (sec = 0; ml && sec <= ml->nr_sections; sec++) {
		int cur = sec < ml->nr_sections ? ml->nid[sec] : NUMA_NO_NODE;

		if (cur == nid)
			continue;
		if (nid != NUMA_NO_NODE)
			seq_printf(m, "%#llx-%#llx %d\n",
				   PFN_PHYS(section_nr_to_pfn(first)),
				   PFN_PHYS(section_nr_to_pfn(sec)) - 1, nid);
		first = sec;
		nid = cur;
	}
	mutex_unlock(&dnuma_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_layout);

static int dnuma_stats_show(struct seq_file *m, void *v)
{
	unsigned long lookups = 0;
	int cpu, nid;

	for_each_possible_cpu(cpu)
		lookups += per_cpu(dnuma_lookups, cpu);
	seq_printf(m, "commits %ld\nmoved %ld\nredirected %ld\nswept %ld\n"
		   "migrated %ld\nlookups %lu\npending %ld\nredirect %s\n",
		   atomic_long_read(&dnuma_commits),
		   atomic_long_read(&dnuma_moved),
		   atomic_long_read(&dnuma_redirected),
		   atomic_long_read(&dnuma_swept),
		   atomic_long_read(&dnuma_migrated), lookups,
		   atomic_long_read(&dnuma_pending_total),
		   static_key_enabled(&dnuma_redirect_key) ? "on" : "off");
	for_each_node(nid)
		seq_printf(m, "node %d pending %ld transplanted %ld\n", nid,
			   atomic_long_read(&dnuma_pending[nid]),
			   atomic_long_read(&dnuma_transplanted[nid]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_stats);

/* The first pending pages, to see what holds a transplant up. */
static int dnuma_pending_show(struct seq_file *m, void *v)
{
	const struct memlayout *ml;
	unsigned long sec, pfn, shown = 0;

	mutex_lock(&dnuma_lock);
	ml = dnuma_layout_locked();
	for (sec = 0; ml && sec < ml->nr_sections && shown < 32; sec++) {
		if (ml->nid[sec] == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		for (pfn = section_nr_to_pfn(sec);
		     pfn < section_nr_to_pfn(sec + 1) && shown < 32; pfn++) {
			struct page *page = pfn_to_page(pfn);

			if (page_to_nid(page) == ml->nid[sec] ||
			    PageReserved(page))
				continue;
			seq_printf(m, "pfn %#lx node %d refcount %d buddy %d flags %pGp\n",
				   pfn, page_to_nid(page), page_ref_count(page),
				   PageBuddy(page), &page->flags);
			shown++;
		}
	}
	mutex_unlock(&dnuma_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_pending);

static int __init dnuma_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("dnuma", NULL);

	debugfs_create_file("relayout", 0200, dir, NULL, &dnuma_relayout_fops);
	debugfs_create_file("layout", 0444, dir, NULL, &dnuma_layout_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &dnuma_stats_fops);
	debugfs_create_file("pending", 0444, dir, NULL, &dnuma_pending_fops);
	return 0;
}
late_initcall(dnuma_debugfs_init);
#endif /* CONFIG_DEBUG_FS */
