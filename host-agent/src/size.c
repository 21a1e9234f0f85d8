// SPDX-License-Identifier: GPL-2.0
/*
 * Sizes: a whole number of bytes ("2048", "0x80000000"), or a number
 * with a binary unit K, M, G, T, P or E, optionally followed by "i",
 * "iB" or "B", in any case: "512M", "4g", "1GiB", "1.5G".  "B" alone
 * means bytes.  Units are always powers of 1024, as QEMU's -m has them.
 *
 * Every parser rejects empty input, signs, blanks, trailing junk and
 * values that do not fit, with one line saying which.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "size.h"

/* Decimal digits of a fraction we keep: 10^18 still fits in 64 bits. */
#define MAX_FRAC_DIGITS	18

static int unit_shift(char c)
{
	static const char units[] = "kmgtpe";
	const char *p = strchr(units, tolower((unsigned char)c));

	return c && p ? 10 * (int)(p - units + 1) : -1;
}

/* Parse the unit suffix at @s; return its shift or -1 if it is junk. */
static int parse_unit(const char *s)
{
	int shift;

	if (!*s)
		return 0;
	if (!strcasecmp(s, "b"))
		return 0;
	shift = unit_shift(*s);
	if (shift < 0)
		return -1;
	s++;
	if (!*s || !strcasecmp(s, "b") || !strcasecmp(s, "i") ||
	    !strcasecmp(s, "ib"))
		return shift;
	return -1;
}

/* Digits at *@s into @v; false if there are none or they overflow. */
static bool parse_digits(const char **s, int base, uint64_t *v, int *nr)
{
	const char *p = *s;
	uint64_t x = 0;
	int n = 0;

	for (; isxdigit((unsigned char)*p); p++, n++) {
		unsigned int d = isdigit((unsigned char)*p) ?
				 (unsigned int)(*p - '0') :
				 (unsigned int)(tolower((unsigned char)*p) -
						'a' + 10);

		if (d >= (unsigned int)base)
			break;
		if (x > (UINT64_MAX - d) / base)
			return false;
		x = x * base + d;
	}
	*s = p;
	*v = x;
	if (nr)
		*nr = n;
	return n > 0;
}

static int parse_hex_size(const char *s, const char *p, uint64_t *out,
			  struct vn_err *err)
{
	uint64_t v;

	if (!parse_digits(&p, 16, &v, NULL)) {
		if (isxdigit((unsigned char)*p))
			goto too_big;
		vn_err_set(err, VN_ERR_USAGE,
			   "bad size '%s': no hex digits after 0x", s);
		return -1;
	}
	if (*p) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad size '%s': junk '%s' after a hex number", s, p);
		return -1;
	}
	*out = v;
	return 0;
too_big:
	vn_err_set(err, VN_ERR_USAGE, "bad size '%s': more than 16 EiB", s);
	return -1;
}

/*
 * @frac / 10^@digits of 2^@shift bytes, if that is a whole number of
 * bytes.  10^d = 5^d * 2^d, so divide by 5^d first: no overflow.
 */
static bool frac_bytes(uint64_t frac, int digits, int shift, uint64_t *out)
{
	uint64_t pow5 = 1;
	int i;

	for (i = 0; i < digits; i++)
		pow5 *= 5;
	if (frac % pow5)
		return false;
	frac /= pow5;
	if (shift >= digits) {
		*out = frac << (shift - digits);
		return true;
	}
	if (frac & ((1ull << (digits - shift)) - 1))
		return false;
	*out = frac >> (digits - shift);
	return true;
}

int parse_size(const char *s, uint64_t *out, struct vn_err *err)
{
	const char *p = s;
	uint64_t whole, frac = 0, fbytes = 0;
	int digits = 0, shift;

	if (!s || !*s)
		return vn_err_set(err, VN_ERR_USAGE, "empty size"), -1;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		return parse_hex_size(s, p + 2, out, err);
	if (!isdigit((unsigned char)*p)) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad size '%s': not a number (negative, or junk?)",
			   s);
		return -1;
	}
	if (!parse_digits(&p, 10, &whole, NULL))
		goto too_big;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad_frac;
		if (!parse_digits(&p, 10, &frac, &digits) ||
		    digits > MAX_FRAC_DIGITS)
			goto bad_frac;
	}
	shift = parse_unit(p);
	if (shift < 0) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad size '%s': unknown unit '%s' (use K, M, G, T, "
			   "P or E, optionally with i, iB or B)", s, p);
		return -1;
	}
	if (digits && !frac_bytes(frac, digits, shift, &fbytes)) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad size '%s': not a whole number of bytes", s);
		return -1;
	}
	if (shift && whole > (UINT64_MAX >> shift))
		goto too_big;
	whole <<= shift;
	if (whole > UINT64_MAX - fbytes)
		goto too_big;
	*out = whole + fbytes;
	return 0;
bad_frac:
	vn_err_set(err, VN_ERR_USAGE, "bad size '%s': bad fraction", s);
	return -1;
too_big:
	vn_err_set(err, VN_ERR_USAGE, "bad size '%s': more than 16 EiB", s);
	return -1;
}

/* A decimal number below @limit. */
int parse_uint(const char *s, uint64_t limit, const char *what,
	       uint64_t *out, struct vn_err *err)
{
	const char *p = s;
	uint64_t v;

	if (!s || !*s)
		return vn_err_set(err, VN_ERR_USAGE, "empty %s", what), -1;
	if (!isdigit((unsigned char)*p) || !parse_digits(&p, 10, &v, NULL) ||
	    *p) {
		if (isdigit((unsigned char)*p))
			goto too_big;
		vn_err_set(err, VN_ERR_USAGE,
			   "bad %s '%s': not a decimal number", what, s);
		return -1;
	}
	if (v >= limit)
		goto too_big;
	*out = v;
	return 0;
too_big:
	vn_err_set(err, VN_ERR_USAGE, "bad %s '%s': must be below %" PRIu64,
		   what, s, limit);
	return -1;
}

static int list_add(uint32_t id, const char *s, const char *what,
		    uint32_t *ids, size_t cap, size_t *nr,
		    struct vn_err *err)
{
	size_t i;

	for (i = 0; i < *nr; i++) {
		if (ids[i] == id) {
			vn_err_set(err, VN_ERR_USAGE,
				   "bad %s list '%s': %s %" PRIu32
				   " named twice", what, s, what, id);
			return -1;
		}
	}
	if (*nr == cap) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad %s list '%s': more than %zu ids", what, s,
			   cap);
		return -1;
	}
	ids[(*nr)++] = id;
	return 0;
}

/* One "N" or "N-M" element of an id list, up to the next ',' or end. */
static int parse_id_elem(const char **pp, const char *s, uint32_t limit,
			 const char *what, uint32_t *ids, size_t cap,
			 size_t *nr, struct vn_err *err)
{
	const char *p = *pp;
	uint64_t lo, hi, id;

	if (!isdigit((unsigned char)*p) || !parse_digits(&p, 10, &lo, NULL))
		goto bad;
	hi = lo;
	if (*p == '-') {
		p++;
		if (!isdigit((unsigned char)*p) ||
		    !parse_digits(&p, 10, &hi, NULL))
			goto bad;
	}
	if (*p && *p != ',')
		goto bad;
	if (hi < lo) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad %s list '%s': range %" PRIu64 "-%" PRIu64
			   " goes down", what, s, lo, hi);
		return -1;
	}
	if (hi >= limit) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad %s list '%s': %s %" PRIu64 " is not below %"
			   PRIu32, what, s, what, hi, limit);
		return -1;
	}
	for (id = lo; id <= hi; id++)
		if (list_add(id, s, what, ids, cap, nr, err))
			return -1;
	*pp = p;
	return 0;
bad:
	vn_err_set(err, VN_ERR_USAGE,
		   "bad %s list '%s': expected N or N-M at '%s'", what, s,
		   *pp);
	return -1;
}

/* "0,2-3": ids below @limit, each once, in the order given. */
int parse_id_list(const char *s, uint32_t limit, const char *what,
		  uint32_t *ids, size_t cap, size_t *nr, struct vn_err *err)
{
	const char *p = s;

	*nr = 0;
	if (!s || !*s)
		return vn_err_set(err, VN_ERR_USAGE, "empty %s list", what), -1;
	for (;;) {
		if (parse_id_elem(&p, s, limit, what, ids, cap, nr, err))
			return -1;
		if (!*p)
			return 0;
		p++;	/* ',' */
	}
}

/* Split "A:B:C" at the colons into three strings of @buf. */
static int split3(const char *s, char *buf, size_t len, char **f)
{
	char *c1, *c2;

	if (strlen(s) >= len)
		return -1;
	strcpy(buf, s);
	c1 = strchr(buf, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c2 || strchr(c2 + 1, ':'))
		return -1;
	*c1 = *c2 = '\0';
	f[0] = buf;
	f[1] = c1 + 1;
	f[2] = c2 + 1;
	return 0;
}

/* "START:SIZE:NODE", START and SIZE as parse_size() takes them. */
int parse_range(const char *s, struct vn_range *r, struct vn_err *err)
{
	char buf[128], *f[3];
	uint64_t node;

	if (!s || split3(s, buf, sizeof(buf), f)) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad range '%s': expected START:SIZE:NODE",
			   s ? s : "");
		return -1;
	}
	if (parse_size(f[0], &r->addr, err) ||
	    parse_size(f[1], &r->size, err) ||
	    parse_uint(f[2], VN_RANGE_NODE_LIMIT, "node", &node, err)) {
		vn_err_prefix(err, "bad range '%s': ", s);
		return -1;
	}
	if (!r->size) {
		vn_err_set(err, VN_ERR_USAGE, "bad range '%s': size is 0", s);
		return -1;
	}
	if (r->addr + r->size < r->addr) {
		vn_err_set(err, VN_ERR_USAGE,
			   "bad range '%s': ends beyond 16 EiB", s);
		return -1;
	}
	r->node = node;
	return 0;
}

/* "512 MiB", "1.5 GiB", "4095 B": to a tenth, ".0" left out. */
const char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	unsigned int u = 0;
	uint64_t unit, whole, tenths;

	while (u < 6 && bytes >> (10 * (u + 1)))
		u++;
	for (;;) {
		unit = 1ull << (10 * u);
		whole = bytes >> (10 * u);
		tenths = ((bytes & (unit - 1)) * 10 + unit / 2) >> (10 * u);
		if (tenths == 10) {
			whole++;
			tenths = 0;
		}
		if (whole < 1024 || u == 6)
			break;
		u++;
	}
	if (tenths)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 " %s", whole, tenths,
			 units[u]);
	else
		snprintf(buf, len, "%" PRIu64 " %s", whole, units[u]);
	return buf;
}
