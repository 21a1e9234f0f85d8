// SPDX-License-Identifier: GPL-2.0
/*
 * vnuma-mem: hold guest memory with verifiable contents while the host
 * changes the NUMA layout under it.
 *
 *   vnuma-mem hold [-n NODE] -m MIB
 *	fill MIB of memory (bound to NODE) and keep it until SIGTERM,
 *	then verify it.
 *   vnuma-mem stress [-n NODE] -m MIB [-t SECONDS]
 *	keep MIB of memory in 1 MiB chunks and, until SIGTERM or SECONDS,
 *	verify a chunk, free it, allocate and fill a new one, so that pages
 *	are freed and allocated all the time; then verify everything.
 *
 *   vnuma-mem release [-n NODE] -m MIB
 *	like hold, but on SIGTERM verify everything, then free it a page
 *	at a time (MADV_DONTNEED), in an order that jumps all over it, so
 *	that pages from everywhere in it are freed one by one for a while
 *	(it prints "vnuma-mem: releasing" as it begins).
 *
 *   vnuma-mem pin [-n NODE] -m MIB
 *	like hold, and also take a reference on every page by splicing it
 *	into pipes (vmsplice), so that the kernel can neither migrate nor
 *	offline it until SIGTERM; then drop the references and verify.
 *
 *   -p NODE instead of -n NODE prefers NODE rather than binding to it:
 *   the memory stays usable when the node goes away.  -H asks for
 *   transparent huge pages (2 MiB chunks, MADV_HUGEPAGE).
 *
 *   vnuma-mem poison [-n NODE] [-t SECONDS] [-i MS]
 *	until SIGTERM or SECONDS, inject memory errors: soft-offline a
 *	page of ours that holds data (MADV_SOFT_OFFLINE migrates it and
 *	retires the old page; the data must survive), and poison a page
 *	of a child (MADV_HWPOISON), which the child does not survive;
 *	one of each every MS milliseconds (20); prints
 *	"vnuma-mem: done: N soft-offlined, M poisoned, K mismatches".
 *
 *   vnuma-mem bench [-n NODE] -m MIB -r ROUNDS
 *	page allocator microbenchmark (bound to NODE): ROUNDS times, map
 *	MIB of anonymous memory, write one word per page (a page fault, an
 *	allocation) and unmap it (the frees); prints "vnuma-mem: bench: N
 *	pages in S s, X ns/page" timed with clock_gettime.
 *
 *   vnuma-mem memtotal -k KIB [-t SECONDS]
 *	wait until MemTotal in /proc/meminfo is at least KIB (every
 *	millisecond), then print "vnuma-mem: memtotal: N kB" and exit 0;
 *	exit 1 after SECONDS (600).  A benchmark starts it before it asks
 *	for memory and takes its exit as the moment the memory is online,
 *	without a round trip to the guest per poll.
 *
 * Every 8-byte word holds a value derived from its chunk, its generation
 * and its offset, so a page that changed contents, or that came back
 * from another chunk, is caught.  Prints one line
 *   "vnuma-mem: done: N chunks verified, M mismatches"
 * and exits 1 on any mismatch.  "vnuma-mem: ready" once memory is filled.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MPOL_PREFERRED	1
#define MPOL_BIND	2
#ifndef MADV_HWPOISON
#define MADV_HWPOISON	100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif

/* 1 MiB chunks; 2 MiB, aligned, for transparent huge pages (-H). */
static unsigned long CHUNK = 1UL << 20;
static int thp;
/* A pipe holds this much once enlarged (root may exceed pipe-max-size). */
#define PIPE_BYTES	CHUNK

static volatile sig_atomic_t stop;
static unsigned long verified, mismatches;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t word(unsigned long chunk, unsigned long gen, unsigned long i)
{
	uint64_t x = (chunk << 40) ^ (gen << 20) ^ i;

	/* splitmix64: neighbouring words differ in every bit position. */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void fill(uint64_t *p, unsigned long chunk, unsigned long gen)
{
	unsigned long i;

	for (i = 0; i < CHUNK / sizeof(*p); i++)
		p[i] = word(chunk, gen, i);
}

static void verify(const uint64_t *p, unsigned long chunk, unsigned long gen)
{
	unsigned long i, bad = 0;

	for (i = 0; i < CHUNK / sizeof(*p); i++)
		if (p[i] != word(chunk, gen, i))
			bad++;
	if (bad)
		fprintf(stderr, "vnuma-mem: chunk %lu gen %lu: %lu bad words\n",
			chunk, gen, bad);
	mismatches += !!bad;
	verified++;
}

static uint64_t *chunk_alloc(void)
{
	size_t len = thp ? 2 * CHUNK : CHUNK;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t head;

	if (p == MAP_FAILED) {
		perror("vnuma-mem: mmap");
		exit(2);
	}
	if (!thp)
		return (uint64_t *)p;
	/* Keep the CHUNK-aligned CHUNK in the middle, for a huge page. */
	head = (CHUNK - (uintptr_t)p % CHUNK) % CHUNK;
	if (head)
		munmap(p, head);
	munmap(p + head + CHUNK, CHUNK - head);
	p += head;
	if (madvise(p, CHUNK, MADV_HUGEPAGE))
		perror("vnuma-mem: madvise(MADV_HUGEPAGE)");
	return (uint64_t *)p;
}

static void bind_node(int node, int mode)
{
	unsigned long mask[4] = { 0 };

	if (node < 0)
		return;
	if (node >= (int)(8 * sizeof(mask))) {
		fprintf(stderr, "vnuma-mem: node %d out of range\n", node);
		exit(2);
	}
	mask[node / 64] = 1UL << (node % 64);
	if (syscall(SYS_set_mempolicy, mode, mask, 8 * sizeof(mask))) {
		fprintf(stderr, "vnuma-mem: set_mempolicy(node %d): %s\n", node,
			strerror(errno));
		exit(2);
	}
}

/*
 * Splice every page of the chunks into pipes: each pipe buffer holds a
 * reference on its page, which makes the page unmigratable until the
 * pipe is closed.  Returns the pipes' read ends, -1 terminated.
 */
static int *pin(uint64_t **chunks, unsigned long nr)
{
	int *fds = calloc(nr + 1, sizeof(*fds));
	unsigned long i;

	if (!fds)
		exit(2);
	for (i = 0; i < nr; i++) {
		struct iovec iov = { chunks[i], CHUNK };
		int p[2];

		if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES) < 0) {
			perror("vnuma-mem: pipe");
			exit(2);
		}
		while (iov.iov_len) {
			ssize_t n = vmsplice(p[1], &iov, 1, 0);

			if (n <= 0) {
				perror("vnuma-mem: vmsplice");
				exit(2);
			}
			iov.iov_base = (char *)iov.iov_base + n;
			iov.iov_len -= n;
		}
		close(p[1]);
		fds[i] = p[0];
	}
	fds[nr] = -1;
	return fds;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(unsigned long mib, unsigned long rounds)
{
	const unsigned long size = mib << 20, page = 4096;
	unsigned long r, off;
	double t0, t;

	t0 = now();
	for (r = 0; r < rounds; r++) {
		char *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("vnuma-mem: mmap");
			return 2;
		}
		for (off = 0; off < size; off += page)
			p[off] = (char)off;
		munmap(p, size);
	}
	t = now() - t0;
	printf("vnuma-mem: bench: %lu pages in %.6f s, %.1f ns/page\n",
	       rounds * (size / page), t, t * 1e9 / (rounds * (size / page)));
	return 0;
}

static long mem_total_kb(int fd)
{
	char buf[256];
	long kb = -1;
	ssize_t n;

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[n] = '\0';
		sscanf(buf, "MemTotal: %ld kB", &kb);
	}
	return kb;
}

static int memtotal(long want, double end)
{
	const struct timespec ms = { 0, 1000000 };
	int fd = open("/proc/meminfo", O_RDONLY), ret = 0;
	long kb;

	if (fd < 0) {
		perror("vnuma-mem: /proc/meminfo");
		return 2;
	}
	while ((kb = mem_total_kb(fd)) < want) {
		if (kb < 0) {
			fprintf(stderr, "vnuma-mem: no MemTotal in /proc/meminfo\n");
			ret = 2;
			break;
		}
		if (now() > end) {
			ret = 1;
			break;
		}
		nanosleep(&ms, NULL);
	}
	close(fd);
	if (ret == 1)
		printf("vnuma-mem: memtotal: %ld kB, not %ld kB\n", kb, want);
	else if (!ret)
		printf("vnuma-mem: memtotal: %ld kB\n", kb);
	return ret;
}

/*
 * Memory errors, injected: a page of ours soft-offlined (its data must
 * survive the migration), a page of a child hard-poisoned (the child is
 * killed when it touches it).  Until SIGTERM or @end.
 */
static int poison(double end, unsigned long interval_ms)
{
	const unsigned long page = 4096;
	unsigned long soft = 0, hard = 0, n, i;
	int status;
	pid_t pid;

	for (n = 0; !stop && (!end || now() < end); n++) {
		uint64_t *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("vnuma-mem: mmap");
			return 2;
		}
		for (i = 0; i < page / sizeof(*p); i++)
			p[i] = word(n, 1, i);
		if (!madvise(p, page, MADV_SOFT_OFFLINE))
			soft++;
		else if (!n)
			perror("vnuma-mem: madvise(MADV_SOFT_OFFLINE)");
		for (i = 0; i < page / sizeof(*p); i++)
			if (p[i] != word(n, 1, i))
				break;
		mismatches += i < page / sizeof(*p);
		munmap(p, page);

		pid = fork();
		if (pid == 0) {
			volatile char *c = mmap(NULL, page,
						PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS,
						-1, 0);

			c[0] = 1;
			if (madvise((void *)c, page, MADV_HWPOISON) && !n)
				perror("vnuma-mem: madvise(MADV_HWPOISON)");
			c[0] = 2;	/* SIGBUS */
			_exit(0);
		}
		if (pid > 0 && waitpid(pid, &status, 0) == pid &&
		    WIFSIGNALED(status))
			hard++;
		usleep(interval_ms * 1000);
	}
	printf("vnuma-mem: done: %lu soft-offlined, %lu poisoned, %lu mismatches\n",
	       soft, hard, mismatches);
	return mismatches ? 1 : 0;
}

static unsigned long gcd(unsigned long a, unsigned long b)
{
	while (b) {
		unsigned long t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Free @nr chunks a page at a time, each page far from the one before. */
static void release(uint64_t **chunks, unsigned long nr)
{
	const unsigned long page = sysconf(_SC_PAGESIZE);
	const unsigned long per_chunk = CHUNK / page, pages = nr * per_chunk;
	unsigned long stride = 7919, k, p;

	while (gcd(stride, pages) != 1)
		stride += 2;
	printf("vnuma-mem: releasing\n");
	fflush(stdout);
	for (k = 0, p = 0; k < pages; k++, p = (p + stride) % pages)
		madvise((char *)chunks[p / per_chunk] + p % per_chunk * page,
			page, MADV_DONTNEED);
	for (k = 0; k < nr; k++)
		munmap(chunks[k], CHUNK);
}

static int usage(void)
{
	fprintf(stderr, "usage: vnuma-mem hold|stress|release|pin|bench|poison|memtotal [-n NODE|-p NODE] [-H] -m MIB [-t SECONDS] [-r ROUNDS] [-i MS] [-k KIB]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long nr = 0, rounds = 0, i, *gen;
	long kib = 0;
	double seconds = 0, end;
	uint64_t **chunks;
	int node = -1, mode = MPOL_BIND, opt, stress, *pipes = NULL;

	if (argc < 2)
		return usage();
	stress = !strcmp(argv[1], "stress");
	if (!stress && strcmp(argv[1], "hold") && strcmp(argv[1], "bench") &&
	    strcmp(argv[1], "pin") && strcmp(argv[1], "poison") &&
	    strcmp(argv[1], "release") && strcmp(argv[1], "memtotal"))
		return usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "n:p:m:t:r:i:k:H")) != -1) {
		switch (opt) {
		case 'H':
			thp = 1;
			CHUNK = 2UL << 20;
			break;
		case 'n':
		case 'p':
			node = atoi(optarg);
			mode = opt == 'p' ? MPOL_PREFERRED : MPOL_BIND;
			break;
		case 'm':
			nr = strtoul(optarg, NULL, 0);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
		case 'i':
			rounds = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			kib = strtol(optarg, NULL, 0);
			break;
		default:
			return usage();
		}
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	if (!strcmp(argv[1], "poison")) {
		bind_node(node, mode);
		printf("vnuma-mem: ready: poisoning\n");
		fflush(stdout);
		return poison(seconds ? now() + seconds : 0, rounds ?: 20);
	}
	if (!strcmp(argv[1], "memtotal"))
		return kib > 0 ? memtotal(kib, now() + (seconds ?: 600)) : usage();
	if (!strcmp(argv[1], "bench")) {
		if (!nr)
			return usage();
		bind_node(node, mode);
		return bench(nr, rounds ?: 1);
	}
	/* -m is MiB: so many chunks. */
	nr /= CHUNK >> 20;
	if (!nr)
		return usage();

	bind_node(node, mode);
	chunks = calloc(nr, sizeof(*chunks));
	gen = calloc(nr, sizeof(*gen));
	if (!chunks || !gen)
		return 2;
	for (i = 0; i < nr; i++) {
		chunks[i] = chunk_alloc();
		fill(chunks[i], i, 0);
	}
	if (!strcmp(argv[1], "pin"))
		pipes = pin(chunks, nr);
	printf("vnuma-mem: ready: %lu MiB%s\n", nr * (CHUNK >> 20),
	       stress ? ", stressing" : pipes ? ", pinned" : "");
	fflush(stdout);

	end = seconds ? now() + seconds : 0;
	for (i = 0; !stop && (!end || now() < end); i = (i + 1) % nr) {
		if (!stress) {
			pause();
			continue;
		}
		verify(chunks[i], i, gen[i]);
		munmap(chunks[i], CHUNK);
		chunks[i] = chunk_alloc();
		fill(chunks[i], i, ++gen[i]);
	}
	for (i = 0; pipes && pipes[i] >= 0; i++)
		close(pipes[i]);
	for (i = 0; i < nr; i++)
		verify(chunks[i], i, gen[i]);
	if (!strcmp(argv[1], "release"))
		release(chunks, nr);
	printf("vnuma-mem: done: %lu chunks verified, %lu mismatches\n",
	       verified, mismatches);
	return mismatches ? 1 : 0;
}
