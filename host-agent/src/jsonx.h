/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Typed, checked access to the members of a JSON object from QEMU.
 * Each getter fails with a message naming the member and what is wrong
 * with it; the caller puts the context in front.
 */
#ifndef VN_JSONX_H
#define VN_JSONX_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "status.h"

int jx_u64(struct json_object *obj, const char *key, uint64_t max,
	   uint64_t *v, struct vn_err *err);
int jx_u32(struct json_object *obj, const char *key, uint32_t *v,
	   struct vn_err *err);
int jx_opt_u64(struct json_object *obj, const char *key, uint64_t max,
	       bool *has, uint64_t *v, struct vn_err *err);
int jx_bool(struct json_object *obj, const char *key, bool *v,
	    struct vn_err *err);
int jx_str(struct json_object *obj, const char *key, const char **v,
	   struct vn_err *err);
int jx_opt_str(struct json_object *obj, const char *key, const char **v,
	       struct vn_err *err);
int jx_array(struct json_object *obj, const char *key,
	     struct json_object **v, struct vn_err *err);
int jx_value_u64(struct json_object *val, const char *what, uint64_t max,
		 uint64_t *v, struct vn_err *err);

const char *jx_str_or_null(struct json_object *obj, const char *key);

#endif /* VN_JSONX_H */
