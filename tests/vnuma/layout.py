# SPDX-License-Identifier: GPL-2.0
"""The guest's NUMA layout as the guest itself sees it (sysfs, procfs)."""

import re


def node_list(s):
    """A kernel-style id list (nodes, CPUs): '0-2,5' -> [0, 1, 2, 5]"""
    out = []
    for part in filter(None, s.strip().split(',')):
        lo, _, hi = part.partition('-')
        out += range(int(lo), int(hi or lo) + 1)
    return out


def guest_layout(g):
    """[{host, node, cpus, total_kb, free_kb}] for every online node."""
    rows = []
    host = {n: p for p, n in g.pxm_to_node().items()}
    for n in node_list(g.read('/sys/devices/system/node/online')):
        mi = g.node_meminfo(n)
        rows.append({'host': host.get(n, '?'), 'node': n,
                     'cpus': g.read(f'/sys/devices/system/node/node{n}/cpulist').strip(),
                     'total_kb': mi['MemTotal'], 'free_kb': mi['MemFree']})
    return rows


def format_layout(rows):
    lines = [f"{'host node':>9}  {'guest node':>10}  {'cpus':<8} "
             f"{'MemTotal':>10} {'MemFree':>10}"]
    for r in rows:
        lines.append(f"{r['host']:>9}  {r['node']:>10}  {r['cpus'] or '-':<8} "
                     f"{r['total_kb'] // 1024:>7} MiB {r['free_kb'] // 1024:>6} MiB")
    return '\n'.join(lines)


def zoneinfo(g, text=None):
    """/proc/zoneinfo as [{'node', 'zone', 'present', 'spanned', 'start_pfn'}]
    (start_pfn only for zones that print it: those with pages); parsed
    from @text (its contents) if given."""
    zones = []
    if text is None:
        text = g.read('/proc/zoneinfo')
    for line in text.splitlines():
        m = re.match(r'Node (\d+), zone\s+(\S+)', line)
        if m:
            zones.append({'node': int(m.group(1)), 'zone': m.group(2)})
            continue
        m = re.match(r'\s+(present|spanned|start_pfn):?\s+(\d+)$', line)
        if m and zones:
            zones[-1][m.group(1)] = int(m.group(2))
    return zones
