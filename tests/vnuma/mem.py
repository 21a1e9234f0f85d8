# SPDX-License-Identifier: GPL-2.0
"""vnuma-mem (tests/guest/vnuma-mem.c) in the guest: memory with verifiable
contents, held or churned while the host changes the layout under it."""

import time


def start_mem(g, name, args, timeout=120):
    """Start `vnuma-mem ARGS` in the background; return once it filled
    its memory."""
    g.sh(f'vnuma-mem {args} > /tmp/{name}.log 2>&1 & echo $! > /tmp/{name}.pid')
    deadline = time.monotonic() + timeout
    while 'ready' not in g.read(f'/tmp/{name}.log'):
        assert time.monotonic() < deadline, g.read(f'/tmp/{name}.log')
        time.sleep(0.2)


def stop_mem(g, name, timeout=120):
    """Stop a vnuma-mem and return its closing line (it verified all)."""
    g.sh(f'kill -TERM $(cat /tmp/{name}.pid)')
    deadline = time.monotonic() + timeout
    while 'done' not in (log := g.read(f'/tmp/{name}.log')):
        assert time.monotonic() < deadline, log
        time.sleep(0.2)
    return log.strip().splitlines()[-1]
