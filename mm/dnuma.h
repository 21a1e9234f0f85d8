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
#include <linux/percpu.h>

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

/*
 * mem_hotplug_lock held, for reading (get_online_mems(): the map and the
 * sections' online state are stable) or for writing.
 */
#define dnuma_assert_hotplug_held() \
	lockdep_assert(lockdep_is_mem_hotplug_held())

struct memlayout *dnuma_layout_locked(void);

/* What a pending page is, and so why it has not followed its memory. */
enum dnuma_kind {
	DNUMA_K_LRU, DNUMA_K_SLAB, DNUMA_K_PGTABLE, DNUMA_K_HUGETLB,
	DNUMA_K_FREE, DNUMA_K_RESERVED, DNUMA_K_OTHER, DNUMA_NR_KINDS
};

enum dnuma_kind dnuma_page_kind(struct page *page);

#endif /* __MM_DNUMA_H */
