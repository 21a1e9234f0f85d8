# SPDX-License-Identifier: GPL-2.0
"""The guest's Dynamic NUMA engine through its debugfs files
(/sys/kernel/debug/dnuma/): the map, the audit, settling transplants."""

import re
import statistics
import time

from .device import nodes, relayout, report, totals

PAGE = 4096
DNUMA = '/sys/kernel/debug/dnuma'


def layout(g, text=None):
    """The map: [(start, size, guest node)] for each run of sections;
    parsed from @text (the layout file's contents) if given."""
    out = []
    if text is None:
        text = g.read(f'{DNUMA}/layout')
    for line in text.splitlines():
        m = re.fullmatch(r'(0x[0-9a-f]+)-(0x[0-9a-f]+) (\d+)', line.strip())
        assert m, line
        lo, hi = int(m.group(1), 16), int(m.group(2), 16)
        out.append((lo, hi + 1 - lo, int(m.group(3))))
    return out


def stat(g, name, text=None):
    """One counter of the engine's stats file (commits, redirected, ...);
    from @text (the file's contents) if given."""
    if text is None:
        text = g.read(f'{DNUMA}/stats')
    return int(re.search(rf'^{name} (\d+)$', text, re.M).group(1))


def audit(g, out=None):
    """Run the engine's audit: every node's present, managed, free and
    pending pages recounted from the memmap and the free lists, every
    free page on its own zone's lists, spans and memory blocks checked.
    Fails the test with the audit's report unless it found nothing.
    @out: the audit file's contents, read already."""
    if out is None:
        out = g.read(f'{DNUMA}/audit')
    m = re.search(r'^differences: (\d+)$', out, re.M)
    assert m and m.group(1) == '0', f'dnuma audit:\n{out}'
    return out


def poll_settled(g, timeout):
    deadline = time.monotonic() + timeout
    while True:
        # Drivers free some pages only when used: the console's receive
        # buffers stay queued (and pending) until the next command.
        g.sh('true')
        report(g)
        ns = nodes(g)
        if not totals(ns, 'pending-pages') or time.monotonic() > deadline:
            return ns
        time.sleep(0.5)


def wait_settled(g, ranges):
    """Report until no node has pending pages; return the nodes.  Pages
    some process keeps using stay pending until it frees them; if any
    still are after 10 s, relayout @ranges again with migrate, which
    moves them now, as an operator would."""
    ns = poll_settled(g, 10)
    if totals(ns, 'pending-pages'):
        assert relayout(g, ranges, migrate=True)['status'] == 'ok'
        ns = poll_settled(g, 30)
    # What may remain is kernel memory that cannot move: slab (far more
    # of it under KASAN, whose quarantine keeps freed objects' pages in
    # use), page tables, KASAN's stack depot.  None of it on the LRU, each
    # pending page has its reason in the report, and besides slab pages
    # (the allocator's to free) few pages.
    pending = g.read(f'{DNUMA}/pending')
    size = sum(s for _, s, _ in ranges) // PAGE
    why = ('pending-slab-pages', 'pending-pagetable-pages',
           'pending-other-pages')
    assert all(sum(n[k] for k in why) >= n['pending-pages']
               for n in ns.values()) and \
        totals(ns, 'pending-pages') - totals(ns, 'pending-slab-pages') <= \
        size // 100 and not re.search(r'flags \S*\blru\b', pending), \
        f"still pending: {ns}\n{g.read(f'{DNUMA}/stats')}{pending}"
    return ns


def phases(g):
    """Where the last relayout spent its time: {phase: seconds}, in the
    engine's order, 'total' last (debugfs dnuma/phases)."""
    out = {}
    for line in g.read(f'{DNUMA}/phases').splitlines():
        name, ns = line.split()
        out[name] = int(ns) / 1e9
    return out


def memmap_pass(g, start, size, rmw=False):
    """Seconds the guest takes to read each struct page of [start,
    start + size) once (debugfs dnuma/memmap_pass): a relayout's floor.
    With @rmw, to rewrite each one's flags atomically, as taking a free
    page into another zone must: the floor of the take phase."""
    mode = 'rmw' if rmw else 'read'
    g.sh(f"echo {start:#x} {size:#x}{' rmw' if rmw else ''} "
         f"> {DNUMA}/memmap_pass")
    m = re.fullmatch(r'(read|rmw) pages (\d+) ns (\d+)',
                     g.read(f'{DNUMA}/memmap_pass').strip())
    assert m and m.group(1) == mode and int(m.group(2)) == size // PAGE, m
    return int(m.group(3)) / 1e9


def median_phases(runs):
    """{phase: median seconds} over a list of phases() results."""
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def print_phase_table(cols):
    """Print [(title, median_phases, memmap seconds, rmw seconds)] side
    by side: each phase in ms, the memmap pass and the engine's total
    over it, the atomic rewrite pass and the take phase over it."""
    print(f"{'phase':>10}" + ''.join(f'{c[0]:>11}' for c in cols))
    for name in cols[0][1]:
        print(f'{name:>10}' + ''.join(f'{c[1][name] * 1000:>11.2f}'
                                      for c in cols))
    print(f"{'memmap':>10}" + ''.join(f'{c[2] * 1000:>11.2f}' for c in cols))
    print(f"{'ratio':>10}" + ''.join(f"{c[1]['total'] / c[2]:>10.1f}x"
                                     for c in cols))
    print(f"{'rmw pass':>10}" + ''.join(f'{c[3] * 1000:>11.2f}' for c in cols))
    print(f"{'take/rmw':>10}" + ''.join(f"{c[1]['take'] / c[3]:>10.1f}x"
                                        for c in cols))
    print("(memmap: one pass reading each struct page of the range once, "
          "same guest; ratio: engine total over it, goal <= 2x;\n"
          " rmw pass: each struct page's flags rewritten with one atomic "
          "cmpxchg, as taking a free page must; take/rmw: the take phase "
          "over it)")
