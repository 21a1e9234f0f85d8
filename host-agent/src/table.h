/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The node accounting as people read it.
 */
#ifndef VN_TABLE_H
#define VN_TABLE_H

#include <stdio.h>

#include "vnproto.h"

const char *node_state(const struct vn_node *n, char *buf, size_t len);
void table_print(FILE *f, const char *domain, const struct vn_info *info);
void table_print_pending(FILE *f, const struct vn_info *info);

#endif /* VN_TABLE_H */
