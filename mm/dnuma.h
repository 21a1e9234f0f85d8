/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the Dynamic NUMA engine (mm/dnuma.c) shares with its debugfs files
 * (mm/dnuma_debug.c).  The locking rules are at the top of mm/dnuma.c.
 */
#ifndef __MM_DNUMA_H
#define __MM_DNUMA_H

#include <linux/atomic.h>
#include <linux/memlayout.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/percpu.h>

struct memory_block;
struct zone;

extern struct mutex dnuma_lock;
/* Replaced as a whole under mem_hotplug_lock held for writing. */
extern struct memlayout __rcu *dnuma_layout;
extern atomic_long_t dnuma_pending[MAX_NUMNODES];
extern atomic_long_t dnuma_pending_total;
extern atomic_long_t dnuma_transplanted[MAX_NUMNODES];

/* Since boot: commits, and pages moved by each path. */
struct dnuma_counters {
	atomic_long_t commits;
	atomic_long_t moved;		/* free pages, by commits */
	/*
	 * By the free path: @redirecting as a page's move begins,
	 * @redirected once it ended.  Equal: no move under way.
	 */
	atomic_long_t redirecting;
	atomic_long_t redirected;
	atomic_long_t swept;		/* strays, by sweeps */
	atomic_long_t migrated;
	atomic_long_t dissolved;	/* free hugetlb pool pages */
};

extern struct dnuma_counters dnuma_count;
DECLARE_PER_CPU(unsigned long, dnuma_lookups);
extern u64 dnuma_irqoff_max_ns;

/* Where the last relayout spent its time, phase by phase, in order. */
enum dnuma_phase {
	DNUMA_PH_CHECK,		/* validation, target nodes online */
	DNUMA_PH_SWEEP,		/* strays of earlier relayouts */
	DNUMA_PH_PREPARE,	/* notifier veto, maps, nodes going online */
	DNUMA_PH_ISOLATE,	/* pageblocks isolated */
	DNUMA_PH_TAKE,		/* spans, present pages, free pages move */
	DNUMA_PH_PUBLISH,	/* the map published, an RCU grace period */
	DNUMA_PH_RELEASE,	/* strays moved, pageblocks released */
	DNUMA_PH_BLOCKS,	/* memory block devices and their links */
	DNUMA_PH_NODES,		/* node states, contiguity, MEM_ONLINE */
	DNUMA_PH_ZONELISTS,	/* zonelists, when a zone filled or emptied */
	DNUMA_PH_WMARKS,	/* watermarks and reserves */
	DNUMA_PH_MIGRATE,	/* allocated pages migrated (--migrate) */
	DNUMA_PH_SETTLE,	/* sweep, spans shrunk: the transplant ends */
	DNUMA_PH_DONE,		/* the done notifier, the uevent */
	DNUMA_NR_PHASES
};

/* Of the last relayout that got past its checks.  dnuma_lock. */
extern u64 dnuma_phase_ns[DNUMA_NR_PHASES];
extern const char * const dnuma_phase_names[DNUMA_NR_PHASES];

/*
 * mem_hotplug_lock held, for reading (get_online_mems(): the map and the
 * sections' online state are stable) or for writing.
 */
#define dnuma_assert_hotplug_held() \
	lockdep_assert(lockdep_is_mem_hotplug_held())

struct memlayout *dnuma_layout_locked(void);
int dnuma_block_layout(const struct memlayout *ml, struct memory_block *mem,
		       nodemask_t *nodes, struct zone **zone);
unsigned long dnuma_recount_holes(struct zone *zone, long *kept);

/* What a pending page is, and so why it has not followed its memory. */
enum dnuma_kind {
	DNUMA_K_LRU, DNUMA_K_SLAB, DNUMA_K_PGTABLE, DNUMA_K_HUGETLB,
	DNUMA_K_FREE, DNUMA_K_RESERVED, DNUMA_K_OTHER, DNUMA_NR_KINDS
};

enum dnuma_kind dnuma_page_kind(struct page *page);

#endif /* __MM_DNUMA_H */
