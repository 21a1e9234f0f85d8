/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsing and printing what a user types: sizes, id lists, ranges.
 */
#ifndef VN_SIZE_H
#define VN_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

/* Buffer size format_size() needs: "1023.9 EiB" and a little more. */
#define VN_SIZE_BUF	24

/* A range of guest-physical memory given to a node by a relayout. */
struct vn_range {
	uint64_t addr;
	uint64_t size;
	uint32_t node;
};

/* Relayout ranges name nodes as uint16. */
#define VN_RANGE_NODE_LIMIT	65536u

int parse_size(const char *s, uint64_t *out, struct vn_err *err);
int parse_uint(const char *s, uint64_t limit, const char *what,
	       uint64_t *out, struct vn_err *err);
int parse_id_list(const char *s, uint32_t limit, const char *what,
		  uint32_t *ids, size_t cap, size_t *nr, struct vn_err *err);
int parse_range(const char *s, struct vn_range *r, struct vn_err *err);

const char *format_size(uint64_t bytes, char *buf, size_t len);

#endif /* VN_SIZE_H */
