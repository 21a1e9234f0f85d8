# SPDX-License-Identifier: GPL-2.0
"""vnuma-mem (tests/guest/vnuma-mem.c) in the guest: memory with verifiable
contents, held or churned while the host changes the layout under it."""

import time


def wait_mem(g, name, word, timeout=120, interval=0.2):
    """Wait until vnuma-mem @name's output says @word; return it."""
    deadline = time.monotonic() + timeout
    while word not in (log := g.read(f'/tmp/{name}.log')):
        assert time.monotonic() < deadline, log
        time.sleep(interval)
    return log


def start_mem(g, name, args, timeout=120):
    """Start `vnuma-mem ARGS` in the background; return once it filled
    its memory."""
    g.sh(f'vnuma-mem {args} > /tmp/{name}.log 2>&1 & echo $! > /tmp/{name}.pid')
    wait_mem(g, name, 'ready', timeout)


def stop_mem(g, name, timeout=120):
    """Stop a vnuma-mem and return its closing line (it verified all)."""
    g.sh(f'kill -TERM $(cat /tmp/{name}.pid)')
    return wait_mem(g, name, 'done', timeout).strip().splitlines()[-1]
