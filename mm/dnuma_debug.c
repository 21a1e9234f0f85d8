// SPDX-License-Identifier: GPL-2.0
/*
 * Dynamic NUMA's debugfs files: drive a relayout without a device, show
 * the map, the counters and what holds a transplant up, and audit the
 * engine: recount every node's pages from the memmap and the free lists,
 * and check the invariants of mm/dnuma.c against what the counters say.
 * Documentation/mm/dynamic-numa.rst describes the files.
 */
#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dnuma.h>
#include <linux/jiffies.h>
#include <linux/kernfs.h>
#include <linux/memlayout.h>
#include <linux/memory.h>
#include <linux/memory_hotplug.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/node.h>
#include <linux/page-isolation.h>
#include <linux/seq_buf.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "internal.h"
#include "dnuma.h"

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
	ret = dnuma_relayout(r, nr, flags, NULL, &res);
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

	rcu_read_lock();
	ml = rcu_dereference(dnuma_layout);
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
	rcu_read_unlock();
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
		   "migrated %ld\nlookups %lu\npending %ld\nredirect %s\n"
		   "dissolved %ld\nirqoff_max_ns %llu\n",
		   atomic_long_read(&dnuma_count.commits),
		   atomic_long_read(&dnuma_count.moved),
		   atomic_long_read(&dnuma_count.redirected),
		   atomic_long_read(&dnuma_count.swept),
		   atomic_long_read(&dnuma_count.migrated), lookups,
		   atomic_long_read(&dnuma_pending_total),
		   static_key_enabled(&dnuma_redirect_key) ? "on" : "off",
		   atomic_long_read(&dnuma_count.dissolved),
		   READ_ONCE(dnuma_irqoff_max_ns));
	for_each_node(nid)
		seq_printf(m, "node %d pending %ld transplanted %ld\n", nid,
			   atomic_long_read(&dnuma_pending[nid]),
			   atomic_long_read(&dnuma_transplanted[nid]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_stats);

/* Where the last relayout spent its time: "PHASE NS" per line, then the sum. */
static int dnuma_phases_show(struct seq_file *m, void *v)
{
	u64 total = 0;
	int ph;

	mutex_lock(&dnuma_lock);
	for (ph = 0; ph < DNUMA_NR_PHASES; ph++) {
		seq_printf(m, "%s %llu\n", dnuma_phase_names[ph],
			   dnuma_phase_ns[ph]);
		total += dnuma_phase_ns[ph];
	}
	mutex_unlock(&dnuma_lock);
	seq_printf(m, "total %llu\n", total);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_phases);

/*
 * The floor a relayout is measured against: one pass over the struct
 * pages of a range, reading each once.  Write "START SIZE" (bytes, as
 * for relayout) of online memory; read "read pages N ns T" of the last
 * pass.  "START SIZE rmw" rewrites each page's flags instead, with the
 * atomic read-modify-write a relayout needs to change a page's zone
 * (memory failure sets a flag of a free page without any lock): the
 * floor of taking the range's free pages.  The value written is the one
 * read, so nothing changes.
 */
static unsigned long dnuma_memmap_pages;
static u64 dnuma_memmap_ns;
static bool dnuma_memmap_rmw;
static DEFINE_MUTEX(dnuma_memmap_lock);

static int dnuma_memmap_pass(unsigned long start, unsigned long nr, bool rmw)
{
	unsigned long pfn, sum = 0;
	struct page *page = NULL;
	u64 t0;
	int ret = 0;

	get_online_mems();
	t0 = ktime_get_ns();
	for (pfn = start; pfn < start + nr; pfn++) {
		/* Section by section, as a relayout finds its pages. */
		if (!page || !(pfn & (PAGES_PER_SECTION - 1))) {
			page = pfn_to_online_page(pfn);
			if (!page) {
				ret = -EINVAL;
				break;
			}
		} else {
			page++;
		}
		if (rmw) {
			unsigned long old = READ_ONCE(page->flags);

			while (!try_cmpxchg(&page->flags, &old, old))
				;
			sum += old;
		} else {
			sum += READ_ONCE(page->flags);
		}
	}
	t0 = ktime_get_ns() - t0;
	put_online_mems();
	if (ret)
		return ret;
	/* The sum keeps the reads; its value says nothing. */
	OPTIMIZER_HIDE_VAR(sum);
	mutex_lock(&dnuma_memmap_lock);
	dnuma_memmap_pages = nr;
	dnuma_memmap_ns = t0;
	dnuma_memmap_rmw = rmw;
	mutex_unlock(&dnuma_memmap_lock);
	return 0;
}

static ssize_t dnuma_memmap_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	unsigned long long start, size;
	char buf[64], *p, *end;
	int ret;

	if (count >= sizeof(buf))
		return -E2BIG;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	p = skip_spaces(buf);
	start = memparse(p, &end);
	if (end == p || !isspace(*end))
		return -EINVAL;
	p = skip_spaces(end);
	size = memparse(p, &end);
	if (end == p || !size || !PAGE_ALIGNED(start) ||
	    !PAGE_ALIGNED(size) || start + size < start)
		return -EINVAL;
	p = skip_spaces(end);
	/* Nothing more, or " rmw". */
	if (*p && (p == end || !sysfs_streq(p, "rmw")))
		return -EINVAL;
	ret = dnuma_memmap_pass(PHYS_PFN(start), PHYS_PFN(size), *p != 0);
	return ret ?: count;
}

static int dnuma_memmap_show(struct seq_file *m, void *v)
{
	mutex_lock(&dnuma_memmap_lock);
	seq_printf(m, "%s pages %lu ns %llu\n",
		   dnuma_memmap_rmw ? "rmw" : "read", dnuma_memmap_pages,
		   dnuma_memmap_ns);
	mutex_unlock(&dnuma_memmap_lock);
	return 0;
}

DEFINE_SHOW_STORE_ATTRIBUTE(dnuma_memmap);

static const char *const dnuma_kinds[] = {
	"lru", "slab", "pagetable", "hugetlb", "free", "reserved", "other",
};

/*
 * What holds a transplant up: per section, how many pages are pending;
 * then the first pending pages themselves.
 */
static int dnuma_pending_show(struct seq_file *m, void *v)
{
	const struct memlayout *ml;
	unsigned long sec, pfn, n, shown = 0;

	mutex_lock(&dnuma_lock);
	get_online_mems();
	ml = dnuma_layout_locked();
	for (sec = 0; ml && sec < ml->nr_sections; sec++) {
		if (ml->nid[sec] == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		n = 0;
		for (pfn = section_nr_to_pfn(sec);
		     pfn < section_nr_to_pfn(sec + 1); pfn++)
			n += page_to_nid(pfn_to_page(pfn)) != ml->nid[sec];
		if (n)
			seq_printf(m, "section %#llx pending %lu\n",
				   PFN_PHYS(section_nr_to_pfn(sec)), n);
	}
	for (sec = 0; ml && sec < ml->nr_sections && shown < 32; sec++) {
		if (ml->nid[sec] == NUMA_NO_NODE || !online_section_nr(sec))
			continue;
		for (pfn = section_nr_to_pfn(sec);
		     pfn < section_nr_to_pfn(sec + 1) && shown < 32; pfn++) {
			struct page *page = pfn_to_page(pfn);

			if (page_to_nid(page) == ml->nid[sec])
				continue;
			seq_printf(m, "pfn %#lx node %d %s refcount %d flags %pGp\n",
				   pfn, page_to_nid(page),
				   dnuma_kinds[dnuma_page_kind(page)],
				   page_ref_count(page), &page->flags);
			shown++;
		}
		cond_resched();
	}
	put_online_mems();
	mutex_unlock(&dnuma_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_pending);

/*
 * The audit: recount, from the memmap and the free lists, what the
 * counters say, and check the invariants at the top of this file.
 */
struct dnuma_audit {
	struct seq_buf sb;		/* this pass's report */
	unsigned long differences;
	/* Per node, recounted. */
	unsigned long *present, *pending;
	/* Per node and kind, the pending pages. */
	unsigned long (*kinds)[DNUMA_NR_KINDS];
	/* Per zone (nid * MAX_NR_ZONES + idx): pages not reserved. */
	unsigned long *unreserved;
	/* Per node, pending pages free on per-cpu lists. */
	unsigned long *pcp;
	/* Pending pages of no known kind said so far. */
	unsigned int others_shown;
};

/* A difference found: the first few are said. */
static __printf(2, 3) void dnuma_audit_err(struct dnuma_audit *a,
					   const char *fmt, ...)
{
	va_list args;

	if (a->differences++ >= 16)
		return;
	seq_buf_puts(&a->sb, "error: ");
	va_start(args, fmt);
	seq_buf_vprintf(&a->sb, fmt, args);
	va_end(args);
	seq_buf_putc(&a->sb, '\n');
}

/* Which pages of a section are RAM. */
struct dnuma_audit_ram {
	unsigned long start;
	unsigned long *bits;
};

static int dnuma_audit_ram(unsigned long start, unsigned long nr, void *arg)
{
	struct dnuma_audit_ram *ram = arg;

	bitmap_set(ram->bits, start - ram->start, nr);
	return 0;
}

/* A pending page of no known kind: the first few are said. */
static void dnuma_audit_other(struct dnuma_audit *a, struct page *page,
			      unsigned long pfn)
{
	a->others_shown++;
	seq_buf_printf(&a->sb,
		       "pending pfn %#lx node %d: refcount %d order %u flags %pGp\n",
		       pfn, page_to_nid(page), page_ref_count(page),
		       compound_order(compound_head(page)), &page->flags);
}

/* One online section: its pages, what owns it, whose zone spans it. */
static void dnuma_audit_section(struct dnuma_audit *a,
				const struct memlayout *ml, unsigned long sec,
				unsigned long *bits)
{
	const unsigned long start = section_nr_to_pfn(sec);
	const int target = memlayout_nid(ml, start);
	struct dnuma_audit_ram ram = { .start = start, .bits = bits };
	unsigned long pfn;

	bitmap_zero(bits, PAGES_PER_SECTION);
	walk_system_ram_range(start, PAGES_PER_SECTION, &ram, dnuma_audit_ram);
	for (pfn = start; pfn < start + PAGES_PER_SECTION; pfn++) {
		struct page *page = pfn_to_page(pfn);
		struct zone *zone = page_zone(page);
		int nid = page_to_nid(page);
		int owner = target == NUMA_NO_NODE ? nid : target;

		if (test_bit(pfn - start, bits))
			a->present[owner]++;
		if (!PageReserved(page))
			a->unreserved[nid * MAX_NR_ZONES + zone_idx(zone)]++;
		if (!zone_spans_pfn(zone, pfn) && test_bit(pfn - start, bits))
			dnuma_audit_err(a, "pfn %#lx outside its zone %d/%s",
					pfn, nid, zone->name);
		if (nid != owner) {
			enum dnuma_kind kind = dnuma_page_kind(page);

			a->pending[nid]++;
			a->kinds[nid][kind]++;
			if (kind == DNUMA_K_OTHER && a->others_shown < 4)
				dnuma_audit_other(a, page, pfn);
		}
	}
}

/* The order of the pages on a zone's per-cpu list @i. */
static unsigned int dnuma_pcp_order(int i)
{
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	if (i >= NR_LOWORDER_PCP_LISTS)
		return HPAGE_PMD_ORDER;
#endif
	return i / MIGRATE_PCPTYPES;
}

/* Every free page of @zone on its own lists: count them, check them. */
static void dnuma_audit_free(struct dnuma_audit *a, struct zone *zone,
			     const struct memlayout *ml)
{
	unsigned long flags, free = 0, expected;
	unsigned int order;
	struct page *page;
	int mt, cpu;

	spin_lock_irqsave(&zone->lock, flags);
	for (order = 0; order < NR_PAGE_ORDERS; order++) {
		for (mt = 0; mt < MIGRATE_TYPES; mt++) {
			list_for_each_entry(page,
					    &zone->free_area[order].free_list[mt],
					    buddy_list) {
				if (page_zone(page) != zone)
					dnuma_audit_err(a, "free pfn %#lx of zone %d/%s on %d/%s's lists",
							page_to_pfn(page),
							page_to_nid(page),
							page_zone(page)->name,
							zone_to_nid(zone),
							zone->name);
				if (!is_migrate_isolate(mt))
					free += 1UL << order;
			}
		}
	}
	expected = zone_page_state_snapshot(zone, NR_FREE_PAGES);
	spin_unlock_irqrestore(&zone->lock, flags);
	if (free != expected)
		dnuma_audit_err(a, "zone %d/%s: %lu free pages on its lists, NR_FREE_PAGES %lu",
				zone_to_nid(zone), zone->name, free, expected);

	/* A zone keeps its lists while pages of it are anywhere (6). */
	if (!zone_pcp_allocated(zone)) {
		if (populated_zone(zone))
			dnuma_audit_err(a, "zone %d/%s: present pages, no per-cpu lists",
					zone_to_nid(zone), zone->name);
		return;
	}
	for_each_online_cpu(cpu) {
		struct per_cpu_pages *pcp = per_cpu_ptr(zone->per_cpu_pageset,
							cpu);
		int i;

		spin_lock_irqsave(&pcp->lock, flags);
		for (i = 0; i < NR_PCP_LISTS; i++) {
			list_for_each_entry(page, &pcp->lists[i], pcp_list) {
				int target = memlayout_nid(ml,
							   page_to_pfn(page));

				if (page_zone(page) != zone)
					dnuma_audit_err(a, "pfn %#lx of zone %d/%s on %d/%s's per-cpu list",
							page_to_pfn(page),
							page_to_nid(page),
							page_zone(page)->name,
							zone_to_nid(zone),
							zone->name);
				if (target != NUMA_NO_NODE &&
				    target != page_to_nid(page))
					a->pcp[page_to_nid(page)] +=
						1UL << dnuma_pcp_order(i);
			}
		}
		spin_unlock_irqrestore(&pcp->lock, flags);
	}
}

/* Whether @mem and node @nid link to each other: 0 no, 3 both ways. */
static int dnuma_block_links(struct memory_block *mem, int nid)
{
	struct kernfs_node *to_mem, *to_node;
	struct kobject *node;
	int links;

	if (!node_devices[nid])
		return 0;
	node = &node_devices[nid]->dev.kobj;
	to_mem = kernfs_find_and_get(node->sd, kobject_name(&mem->dev.kobj));
	to_node = kernfs_find_and_get(mem->dev.kobj.sd, kobject_name(node));
	links = !!to_mem + 2 * !!to_node;
	kernfs_put(to_mem);
	kernfs_put(to_node);
	return links;
}

/*
 * A memory block with memory the map places: its nid, zone and node links
 * recounted from the map (dnuma_block_layout()).  Other blocks are memory
 * hotplug's.  A block whose memory went offline left the map with it, so
 * no block checked is going on- or offline.
 */
static int dnuma_audit_block(struct memory_block *mem, void *arg)
{
	struct dnuma_audit *a = arg;
	const struct memlayout *ml = dnuma_layout_locked();
	unsigned long pfn = section_nr_to_pfn(mem->start_section_nr);
	const unsigned long end = pfn + PHYS_PFN(memory_block_size_bytes());
	bool mapped = false;
	struct zone *zone;
	nodemask_t has;
	int nid, first, links;

	if (mem->state != MEM_ONLINE)
		return 0;
	for (; pfn < end && !mapped; pfn += PAGES_PER_SECTION)
		mapped = memlayout_nid(ml, pfn) != NUMA_NO_NODE;
	if (!mapped)
		return 0;
	first = dnuma_block_layout(ml, mem, &has, &zone);
	if (mem->nid != first)
		dnuma_audit_err(a, "memory block %u: node %d, map says %d",
				mem->dev.id, mem->nid, first);
	if (mem->zone != zone)
		dnuma_audit_err(a, "memory block %u: zone %d/%s, map says %d/%s",
				mem->dev.id,
				mem->zone ? zone_to_nid(mem->zone) : -1,
				mem->zone ? mem->zone->name : "none",
				zone ? zone_to_nid(zone) : -1,
				zone ? zone->name : "none");
	for_each_online_node(nid) {
		links = dnuma_block_links(mem, nid);
		if (links != (node_isset(nid, has) ? 3 : 0))
			dnuma_audit_err(a, "memory block %u: links with node %d: %s, memory of it: %s",
					mem->dev.id, nid,
					links == 3 ? "both ways" :
					links ? "one way" : "none",
					node_isset(nid, has) ? "yes" : "no");
	}
	return 0;
}

static void dnuma_audit_run(struct dnuma_audit *a)
{
	const struct memlayout *ml = dnuma_layout_locked();
	unsigned long sec, *ram;
	struct zone *zone;
	int nid;

	ram = bitmap_zalloc(PAGES_PER_SECTION, GFP_KERNEL);
	if (!ram) {
		dnuma_audit_err(a, "out of memory");
		return;
	}
	for (sec = 0; sec < NR_MEM_SECTIONS; sec++) {
		if (!online_section_nr(sec))
			continue;
		dnuma_audit_section(a, ml, sec, ram);
		cond_resched();
	}
	bitmap_free(ram);
	for_each_zone(zone) {
		nid = zone_to_nid(zone);
		/* A zone that never had pages has no lists yet. */
		if (!node_online(nid) || !zone_is_initialized(zone))
			continue;
		dnuma_audit_free(a, zone, ml);
	}
	for_each_memory_block(a, dnuma_audit_block);
}

/*
 * The holes a zone's commits kept against a count of them, and that a
 * contiguous zone has none while nothing is pending (pending pages make
 * the pages and the map differ).  (A zone with none may still be marked not
 * contiguous: 6.12's online_pages() looks before the memory is online.)
 */
static void dnuma_audit_holes(struct dnuma_audit *a, struct zone *zone)
{
	unsigned long holes;
	long kept;

	holes = dnuma_recount_holes(zone, &kept);
	if (kept >= 0 && kept != holes)
		dnuma_audit_err(a, "zone %d/%s: holes %ld, recounted %lu",
				zone_to_nid(zone), zone->name, kept, holes);
	if (zone->contiguous && holes &&
	    !atomic_long_read(&dnuma_pending_total))
		dnuma_audit_err(a, "zone %d/%s: contiguous with %lu holes",
				zone_to_nid(zone), zone->name, holes);
}

/* One node's counters against what the walk found; returns its pending. */
static long dnuma_audit_node(struct dnuma_audit *a, int nid)
{
	unsigned long present = 0, managed = 0, free = 0, unreserved;
	long pending = atomic_long_read(&dnuma_pending[nid]);
	struct zone *zone;
	int k;

	for (zone = NODE_DATA(nid)->node_zones;
	     zone < NODE_DATA(nid)->node_zones + MAX_NR_ZONES; zone++) {
		unreserved = a->unreserved[nid * MAX_NR_ZONES + zone_idx(zone)];
		present += zone->present_pages;
		managed += zone_managed_pages(zone);
		free += zone_page_state_snapshot(zone, NR_FREE_PAGES);
		if (zone_managed_pages(zone) != unreserved)
			dnuma_audit_err(a, "zone %d/%s: managed %lu, pages not reserved %lu",
					nid, zone->name,
					zone_managed_pages(zone), unreserved);
		if (populated_zone(zone))
			dnuma_audit_holes(a, zone);
	}
	if (present != node_present_pages(nid))
		dnuma_audit_err(a, "node %d: zones' present %lu, node's %lu",
				nid, present, node_present_pages(nid));
	if (present != a->present[nid])
		dnuma_audit_err(a, "node %d: present %lu, RAM it owns %lu",
				nid, present, a->present[nid]);
	if (pending != a->pending[nid])
		dnuma_audit_err(a, "node %d: pending %ld, recounted %lu",
				nid, pending, a->pending[nid]);
	seq_buf_printf(&a->sb,
		       "node %d present %lu managed %lu free %lu pending %ld",
		       nid, present, managed, free, pending);
	for (k = 0; k < DNUMA_NR_KINDS; k++)
		if (a->kinds[nid][k])
			seq_buf_printf(&a->sb, " %s %lu", dnuma_kinds[k],
				       a->kinds[nid][k]);
	/* Free, yet not on the free lists: "other" above. */
	if (a->pcp[nid])
		seq_buf_printf(&a->sb, " (per-cpu lists %lu)", a->pcp[nid]);
	seq_buf_putc(&a->sb, '\n');
	return pending;
}

/* One pass of the audit: a walk, then each node against it. */
static void dnuma_audit_pass(struct dnuma_audit *a, int pass)
{
	long total = 0;
	int nid;

	a->differences = 0;
	a->others_shown = 0;
	memset(a->present, 0, nr_node_ids * sizeof(*a->present));
	memset(a->pending, 0, nr_node_ids * sizeof(*a->pending));
	memset(a->kinds, 0, nr_node_ids * sizeof(*a->kinds));
	memset(a->unreserved, 0,
	       nr_node_ids * MAX_NR_ZONES * sizeof(*a->unreserved));
	memset(a->pcp, 0, nr_node_ids * sizeof(*a->pcp));
	seq_buf_clear(&a->sb);
	seq_buf_printf(&a->sb, "pass %d\n", pass);
	dnuma_audit_run(a);
	for_each_online_node(nid)
		total += dnuma_audit_node(a, nid);
	if (total != atomic_long_read(&dnuma_pending_total))
		dnuma_audit_err(a, "pending %ld over the nodes, %ld in all",
				total, atomic_long_read(&dnuma_pending_total));
}

/* How long the audit waits for a pass that no freed page moved under. */
#define DNUMA_AUDIT_MAX_MS	30000
#define DNUMA_AUDIT_BUF_SIZE	(16 * 1024)

static int dnuma_audit_show(struct seq_file *m, void *v)
{
	const unsigned long deadline = jiffies +
				       msecs_to_jiffies(DNUMA_AUDIT_MAX_MS);
	struct dnuma_audit a = {};
	long ended, begun;
	char *buf;
	int pass;

	buf = kvmalloc(DNUMA_AUDIT_BUF_SIZE, GFP_KERNEL);
	a.present = kcalloc(nr_node_ids, sizeof(*a.present), GFP_KERNEL);
	a.pending = kcalloc(nr_node_ids, sizeof(*a.pending), GFP_KERNEL);
	a.kinds = kcalloc(nr_node_ids, sizeof(*a.kinds), GFP_KERNEL);
	a.unreserved = kcalloc(nr_node_ids * MAX_NR_ZONES,
			       sizeof(*a.unreserved), GFP_KERNEL);
	a.pcp = kcalloc(nr_node_ids, sizeof(*a.pcp), GFP_KERNEL);
	if (!buf || !a.present || !a.pending || !a.kinds || !a.unreserved ||
	    !a.pcp) {
		seq_puts(m, "out of memory\n");
		goto out;
	}
	seq_buf_init(&a.sb, buf, DNUMA_AUDIT_BUF_SIZE);

	/*
	 * No commit, sweep or memory hotplug meanwhile.  The free path still
	 * moves pending pages as they are freed, and a move that overlaps
	 * the walk makes the walk and the counters disagree: only a pass no
	 * move overlapped counts (see __dnuma_free_page()).  Until one, the
	 * audit walks again.
	 */
	mutex_lock(&dnuma_lock);
	get_online_mems();
	for (pass = 1;; pass++) {
		ended = atomic_long_read(&dnuma_count.redirected);
		/* Moves ended by now are all in what the pass reads. */
		smp_rmb();
		dnuma_audit_pass(&a, pass);
		/* A move the pass saw any of has begun by now. */
		smp_rmb();
		begun = atomic_long_read(&dnuma_count.redirecting);
		if (!a.differences || begun == ended)
			break;
		if (time_after(jiffies, deadline)) {
			dnuma_audit_err(&a, "no pass without pages moving as they were freed in %u ms (%d passes)",
					DNUMA_AUDIT_MAX_MS, pass);
			break;
		}
		msleep(20);
	}
	put_online_mems();
	mutex_unlock(&dnuma_lock);
	seq_buf_print_seq(m, &a.sb);
	if (seq_buf_has_overflowed(&a.sb))
		seq_puts(m, "(report truncated)\n");
	seq_printf(m, "differences: %lu\n", a.differences);
out:
	kvfree(buf);
	kfree(a.present);
	kfree(a.pending);
	kfree(a.kinds);
	kfree(a.unreserved);
	kfree(a.pcp);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(dnuma_audit);

static int __init dnuma_debugfs_init(void)
{
	struct dentry *dir = debugfs_create_dir("dnuma", NULL);

	debugfs_create_file("relayout", 0200, dir, NULL, &dnuma_relayout_fops);
	debugfs_create_file("layout", 0444, dir, NULL, &dnuma_layout_fops);
	debugfs_create_file("stats", 0444, dir, NULL, &dnuma_stats_fops);
	debugfs_create_file("pending", 0444, dir, NULL, &dnuma_pending_fops);
	debugfs_create_file("audit", 0400, dir, NULL, &dnuma_audit_fops);
	debugfs_create_file("phases", 0444, dir, NULL, &dnuma_phases_fops);
	debugfs_create_file("memmap_pass", 0600, dir, NULL,
			    &dnuma_memmap_fops);
	return 0;
}
late_initcall(dnuma_debugfs_init);
