/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memlayout: which node each relayouted memory section belongs to.
 *
 * Dynamic NUMA (mm/dnuma.c) moves ranges of memory between nodes at run
 * time.  The result is a map from section to node, consulted by the page
 * allocator's free path while pages still have to follow their memory
 * (see Documentation/mm/dynamic-numa.rst).  A map is never changed once
 * published: a commit builds a new one with memlayout_apply() and
 * replaces the old as a whole under RCU.
 *
 * The lookup is one array index: the free path must not walk a tree.
 */
#ifndef _LINUX_MEMLAYOUT_H
#define _LINUX_MEMLAYOUT_H

#include <linux/bits.h>
#include <linux/mmzone.h>
#include <linux/numa.h>
#include <linux/rcupdate.h>
#include <linux/types.h>

/* A range of whole sections and the node it belongs to from now on. */
struct memlayout_range {
	unsigned long start_pfn;
	unsigned long nr_pages;
	int nid;
};

struct memlayout {
	struct rcu_head rcu;
	/* Sections 0 .. nr_sections - 1 have an entry. */
	unsigned long nr_sections;
	/* The node of each section; NUMA_NO_NODE: never relayouted. */
	s16 nid[];
};

/* The most sections a map covers: 64 TiB of 128 MiB sections. */
#define MEMLAYOUT_MAX_SECTIONS	BIT(19)

/* The most ranges one relayout takes. */
#define MEMLAYOUT_MAX_RANGES	64

/* Why memlayout_check() refused a range list. */
enum memlayout_error {
	MEMLAYOUT_OK,
	MEMLAYOUT_E_NR,		/* no ranges, or too many */
	MEMLAYOUT_E_START,	/* start not aligned to a section */
	MEMLAYOUT_E_SIZE,	/* empty, unaligned, wraps or beyond the map */
	MEMLAYOUT_E_ORDER,	/* overlaps or comes before the one before */
	MEMLAYOUT_E_NODE,	/* node id out of range */
};

/**
 * memlayout_nid - the node a relayout assigned to @pfn
 * @ml: a map read under rcu_read_lock(), or NULL
 * @pfn: any page frame number
 *
 * Return: the node, or NUMA_NO_NODE if no relayout covers @pfn.
 */
static inline int memlayout_nid(const struct memlayout *ml, unsigned long pfn)
{
	unsigned long nr = pfn_to_section_nr(pfn);

	if (!ml || nr >= ml->nr_sections)
		return NUMA_NO_NODE;
	return ml->nid[nr];
}

enum memlayout_error memlayout_check(const struct memlayout_range *r,
				     unsigned int nr, unsigned int nr_nodes,
				     unsigned int *bad);
struct memlayout *memlayout_apply(const struct memlayout *old,
				  const struct memlayout_range *r,
				  unsigned int nr, gfp_t gfp);
void memlayout_free(struct memlayout *ml);
const char *memlayout_error_name(enum memlayout_error err);

#endif /* _LINUX_MEMLAYOUT_H */
