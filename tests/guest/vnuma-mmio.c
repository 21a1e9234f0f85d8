// SPDX-License-Identifier: GPL-2.0
/*
 * vnuma-mmio: MMIO from one CPU while another changes the memory map.
 *
 *   vnuma-mmio read RESOURCE OFFSET SECONDS
 *	maps a PCI BAR (/sys/bus/pci/devices/.../resourceN) and reads the
 *	32-bit word at OFFSET for SECONDS; every read must return what the
 *	first one did.  Prints "vnuma-mmio: N reads, M mismatches".
 *   vnuma-mmio toggle CONFIG SECONDS
 *	turns the memory decoding of a PCI device (its config file) off
 *	and on for SECONDS, each time a change of the memory map for
 *	QEMU.  Prints "vnuma-mmio: N toggles".
 *
 * Run pinned to different CPUs (taskset), they race the accesses of a
 * TCG vCPU through its TLB against the memory map changing under it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_read(const char *path, unsigned long off, double secs)
{
	unsigned long long reads = 0, bad = 0;
	long page = sysconf(_SC_PAGESIZE);
	volatile uint32_t *w;
	uint32_t first, v;
	double end;
	void *map;
	int fd;

	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	map = mmap(NULL, page, PROT_READ, MAP_SHARED, fd,
		   off & ~(unsigned long)(page - 1));
	if (map == MAP_FAILED) {
		perror("vnuma-mmio: mmap");
		return 1;
	}
	w = (volatile uint32_t *)((char *)map + (off & (page - 1)));
	first = *w;
	end = now() + secs;
	while (now() < end) {
		for (int i = 0; i < 1000; i++) {
			v = *w;
			reads++;
			if (v != first && bad++ < 5)
				fprintf(stderr, "vnuma-mmio: read 0x%x, "
					"not 0x%x\n", v, first);
		}
	}
	printf("vnuma-mmio: %llu reads of 0x%x, %llu mismatches\n", reads,
	       first, bad);
	return bad != 0;
}

static int do_toggle(const char *path, double secs)
{
	unsigned long long n = 0;
	uint16_t cmd, off;
	double end;
	int fd;

	fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &cmd, 2, PCI_COMMAND) != 2) {
		perror(path);
		return 1;
	}
	off = cmd & ~PCI_COMMAND_MEMORY;
	end = now() + secs;
	while (now() < end) {
		if (pwrite(fd, &off, 2, PCI_COMMAND) != 2 ||
		    pwrite(fd, &cmd, 2, PCI_COMMAND) != 2) {
			perror("vnuma-mmio: config write");
			return 1;
		}
		n++;
	}
	printf("vnuma-mmio: %llu toggles\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "read"))
		return do_read(argv[2], strtoul(argv[3], NULL, 0),
			       atof(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "toggle"))
		return do_toggle(argv[2], atof(argv[3]));
	fprintf(stderr, "usage: vnuma-mmio read RESOURCE OFFSET SECONDS | "
		"toggle CONFIG SECONDS\n");
	return 2;
}
