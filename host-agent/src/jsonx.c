// SPDX-License-Identifier: GPL-2.0
/*
 * Checked JSON member access.  json-c keeps integers above INT64_MAX as
 * unsigned and everything else as signed: a value is a valid unsigned
 * integer when it is an int whose signed value is not negative.
 */
#include <inttypes.h>

#include "jsonx.h"

static const char *jx_text(struct json_object *v)
{
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
}

static int jx_member(struct json_object *obj, const char *key,
		     struct json_object **v, struct vn_err *err)
{
	if (!json_object_is_type(obj, json_type_object))
		return vn_err_set(err, VN_ERR_IO, "not a JSON object: %.80s",
				  jx_text(obj)), -1;
	if (!json_object_object_get_ex(obj, key, v))
		return vn_err_set(err, VN_ERR_IO, "'%s' is missing", key), -1;
	return 0;
}

int jx_value_u64(struct json_object *val, const char *what, uint64_t max,
		 uint64_t *v, struct vn_err *err)
{
	if (!json_object_is_type(val, json_type_int) ||
	    json_object_get_int64(val) < 0)
		return vn_err_set(err, VN_ERR_IO, "'%s' is not an unsigned "
				  "integer: %.80s", what, jx_text(val)), -1;
	*v = json_object_get_uint64(val);
	if (*v > max)
		return vn_err_set(err, VN_ERR_IO, "'%s' is %" PRIu64 ", more "
				  "than %" PRIu64, what, *v, max), -1;
	return 0;
}

int jx_u64(struct json_object *obj, const char *key, uint64_t max,
	   uint64_t *v, struct vn_err *err)
{
	struct json_object *val;

	if (jx_member(obj, key, &val, err))
		return -1;
	return jx_value_u64(val, key, max, v, err);
}

int jx_u32(struct json_object *obj, const char *key, uint32_t *v,
	   struct vn_err *err)
{
	uint64_t x;

	if (jx_u64(obj, key, UINT32_MAX, &x, err))
		return -1;
	*v = x;
	return 0;
}

int jx_opt_u64(struct json_object *obj, const char *key, uint64_t max,
	       bool *has, uint64_t *v, struct vn_err *err)
{
	*has = json_object_is_type(obj, json_type_object) &&
	       json_object_object_get_ex(obj, key, NULL);
	if (!*has) {
		*v = 0;
		return 0;
	}
	return jx_u64(obj, key, max, v, err);
}

int jx_bool(struct json_object *obj, const char *key, bool *v,
	    struct vn_err *err)
{
	struct json_object *val;

	if (jx_member(obj, key, &val, err))
		return -1;
	if (!json_object_is_type(val, json_type_boolean))
		return vn_err_set(err, VN_ERR_IO, "'%s' is not a boolean: "
				  "%.80s", key, jx_text(val)), -1;
	*v = json_object_get_boolean(val);
	return 0;
}

int jx_str(struct json_object *obj, const char *key, const char **v,
	   struct vn_err *err)
{
	struct json_object *val;

	if (jx_member(obj, key, &val, err))
		return -1;
	if (!json_object_is_type(val, json_type_string))
		return vn_err_set(err, VN_ERR_IO, "'%s' is not a string: "
				  "%.80s", key, jx_text(val)), -1;
	*v = json_object_get_string(val);
	return 0;
}

/* A string member that may be missing (then *@v is NULL). */
int jx_opt_str(struct json_object *obj, const char *key, const char **v,
	       struct vn_err *err)
{
	*v = NULL;
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, NULL))
		return 0;
	return jx_str(obj, key, v, err);
}

int jx_array(struct json_object *obj, const char *key,
	     struct json_object **v, struct vn_err *err)
{
	if (jx_member(obj, key, v, err))
		return -1;
	if (!json_object_is_type(*v, json_type_array))
		return vn_err_set(err, VN_ERR_IO, "'%s' is not an array: "
				  "%.80s", key, jx_text(*v)), -1;
	return 0;
}

/* @key's string, or NULL when it is missing or not a string. */
const char *jx_str_or_null(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}
