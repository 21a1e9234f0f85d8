// SPDX-License-Identifier: GPL-2.0
/*
 * vnuma-fuzz: a hostile guest.  Sends COUNT events to the device through
 * the driver's debugfs inject_event file (virtio_numa.allow_inject=1):
 * one in eight is the valid TEMPLATE with a new sequence number, the
 * rest are the template mutated (bits flipped, header fields and records
 * set to edge or random values, records duplicated, the buffer cut short
 * or extended with junk) or plain random bytes.  The same SEED gives the
 * same inputs.
 *
 * Prints "vnuma-fuzz: sent N, refused by the driver M (sizes)": the
 * device must account for every event sent, as accepted or as bogus.
 *
 * usage: vnuma-fuzz -n COUNT -s SEED -f INJECT_FILE -m MAX_SIZE TEMPLATE_HEX
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR_SIZE 32             /* struct virtio_numa_event */
#define REC_SIZE 16             /* struct virtio_numa_record */
/* The driver's limit (4096 records) and one record more. */
#define BUF_MAX (HDR_SIZE + 4097 * REC_SIZE)

static uint64_t rng_state;

/* splitmix64: small, and the same everywhere. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* A value a validator gets wrong most easily. */
static uint64_t edge(unsigned int bytes)
{
	static const uint64_t v[] = { 0, 1, 2, 7, 8, 64, 255, 256, 4095,
				      4096, 65535, 65536, 0x7fffffff,
				      0x80000000, 0xffffffff };
	uint64_t mask = bytes >= 8 ? ~0ULL : (1ULL << (8 * bytes)) - 1;

	switch (below(4)) {
	case 0:
		return rnd() & mask;
	case 1:
		return mask;
	default:
		return v[below(sizeof(v) / sizeof(v[0]))] & mask;
	}
}

static void put(uint8_t *p, uint64_t v, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		p[i] = v >> (8 * i);
}

/* Header fields: offset and size. */
static const struct { unsigned int off, size; } fields[] = {
	{ 0, 8 },       /* id */
	{ 8, 2 },       /* type */
	{ 10, 2 },      /* status */
	{ 12, 2 },      /* field */
	{ 14, 2 },      /* page_shift */
	{ 16, 4 },      /* detail */
	{ 20, 2 },      /* nr_node_ids */
	{ 22, 2 },      /* nr_records */
	{ 24, 8 },      /* seq */
};

static size_t mutate(uint8_t *b, size_t len, size_t max)
{
	unsigned int n = 1 + below(4), nrec;
	size_t i, r;

	while (n--) {
		nrec = len > HDR_SIZE ? (len - HDR_SIZE) / REC_SIZE : 0;
		switch (below(7)) {
		case 0:         /* flip a bit */
			b[below(len)] ^= 1 << below(8);
			break;
		case 1: {       /* a header field */
			unsigned int f = below(sizeof(fields) / sizeof(fields[0]));

			if (fields[f].off + fields[f].size <= len)
				put(b + fields[f].off, edge(fields[f].size),
				    fields[f].size);
			break;
		}
		case 2:         /* a record's tag, node or value */
			if (!nrec)
				break;
			r = HDR_SIZE + below(nrec) * REC_SIZE;
			switch (below(3)) {
			case 0:
				put(b + r, edge(2), 2);
				break;
			case 1:
				put(b + r + 4, edge(4), 4);
				break;
			default:
				put(b + r + 8, edge(8), 8);
			}
			break;
		case 3:         /* duplicate a record */
			if (nrec && len + REC_SIZE <= max) {
				memcpy(b + len, b + HDR_SIZE +
				       below(nrec) * REC_SIZE, REC_SIZE);
				len += REC_SIZE;
			}
			break;
		case 4:         /* cut short */
			len = 1 + below(len);
			break;
		case 5:         /* extend with junk, now and then a lot */
			r = below(below(8) ? 256 : max - len + 1);
			r = len + r > max ? max - len : r;
			for (i = 0; i < r; i++)
				b[len + i] = rnd();
			len += r;
			break;
		default:        /* random bytes, now and then many */
			len = 1 + below(below(16) ? 1024 : max);
			len = len > max ? max : len;
			for (i = 0; i < len; i++)
				b[i] = rnd();
		}
	}
	return len;
}

static int hex(const char *s, uint8_t *out, size_t max)
{
	size_t i, n = strlen(s);

	if (n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned int v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = v;
	}
	return n / 2;
}

int main(int argc, char **argv)
{
	static uint8_t tmpl[BUF_MAX], buf[BUF_MAX];
	static char line[2 * BUF_MAX + 2];
	unsigned long count = 0, i, sent = 0, refused = 0;
	const char *file = NULL;
	size_t max = 0, len, k;
	int opt, fd, tlen;

	while ((opt = getopt(argc, argv, "n:s:f:m:")) != -1) {
		switch (opt) {
		case 'n':
			count = strtoul(optarg, NULL, 0);
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			file = optarg;
			break;
		case 'm':
			max = strtoul(optarg, NULL, 0);
			break;
		default:
			goto usage;
		}
	}
	if (optind + 1 != argc || !file || !max || max > BUF_MAX)
		goto usage;
	tlen = hex(argv[optind], tmpl, max);
	if (tlen < HDR_SIZE)
		goto usage;
	fd = open(file, O_WRONLY);
	if (fd < 0) {
		fprintf(stderr, "vnuma-fuzz: %s: %s\n", file, strerror(errno));
		return 1;
	}
	for (i = 0; i < count; i++) {
		memcpy(buf, tmpl, tlen);
		put(buf + 24, 1000000 + i, 8);          /* a new seq */
		len = below(8) ? mutate(buf, tlen, max) : (size_t)tlen;
		for (k = 0; k < len; k++)
			sprintf(line + 2 * k, "%02x", buf[k]);
		line[2 * len] = '\n';
		if (write(fd, line, 2 * len + 1) < 0) {
			if (errno != E2BIG && errno != EINVAL) {
				fprintf(stderr, "vnuma-fuzz: write: %s\n",
					strerror(errno));
				return 1;
			}
			refused++;
		} else {
			sent++;
		}
	}
	printf("vnuma-fuzz: sent %lu, refused by the driver %lu\n", sent,
	       refused);
	return 0;
usage:
	fprintf(stderr, "usage: vnuma-fuzz -n COUNT -s SEED -f INJECT_FILE "
		"-m MAX_SIZE TEMPLATE_HEX\n");
	return 2;
}
