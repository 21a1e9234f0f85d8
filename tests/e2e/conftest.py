# SPDX-License-Identifier: GPL-2.0
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from vnuma import guest as vg  # noqa: E402


def pytest_report_header(config):
    v = vg.versions()
    accel, why = vg.choose_accel(vg.qemu_path(), vg.kernel_path(),
                                 vg.initramfs_path())
    return [f"kernel: Linux {v.get('LINUX_VERSION', '?')} "
            f"(Debian {v.get('LINUX_DEBIAN_VERSION', '?')}), "
            f"flavour {vg.FLAVOUR}, "
            f"patches {v.get('LINUX_SERIES_' + vg.FLAVOUR, '?')}",
            f"qemu: {v.get('QEMU_VERSION', '?')} "
            f"(Debian {v.get('QEMU_DEBIAN_VERSION', '?')}), "
            f"patches {v.get('QEMU_SERIES_vnuma', '?')}",
            f'accelerator: {accel} ({why})']


@pytest.fixture
def boot(tmp_path):
    """boot(topology, **kw) -> a started Guest, stopped after the test.

    Every guest's serial log is checked at teardown: a kernel warning,
    BUG, lockdep or KASAN report fails the test that booted it, unless
    the test expected that line (Guest.expected_log).
    """
    guests = []

    def _boot(topo, **kw):
        g = vg.Guest(topo, workdir=str(tmp_path / f'guest{len(guests)}'), **kw)
        guests.append(g)
        return g.start()

    yield _boot
    problems = []
    for g in guests:
        g.stop()
        problems += [f'{g.serial_log}: {line}'
                     for line in vg.log_problems(g.console(), g.expected_log)]
    if problems:
        pytest.fail('kernel reported problems:\n' + '\n'.join(problems[:20]),
                    pytrace=False)


@pytest.fixture
def figures(request):
    """figures(text): a measured figure for the log.  Printed in the run's
    summary, whichever worker ran the test (pytest-xdist's workers' own
    output never reaches the log)."""
    def _add(text):
        request.node.user_properties.append(('figures', text))
    return _add


def pytest_terminal_summary(terminalreporter):
    lines = []
    for reports in terminalreporter.stats.values():
        for r in reports:
            for key, text in getattr(r, 'user_properties', ()):
                if key == 'figures' and getattr(r, 'when', '') == 'call':
                    lines.append(f'{r.nodeid.split("::")[-1]}: {text}')
    if lines:
        terminalreporter.section('figures')
        for line in sorted(set(lines)):
            terminalreporter.write_line(line)


# The logs a failed test leaves are in its tmp_path, which CI does not
# keep: the end of each goes into the failure's report (a QEMU that
# exited, a guest that panicked, libvirtd's errors).
LOG_TAIL_LINES = 25
LOG_TAIL_FILES = 12


def log_tails(top):
    logs = sorted((p for p in top.rglob('*.log') if p.is_file()),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    out = []
    for p in logs[:LOG_TAIL_FILES]:
        with open(p, errors='replace') as f:
            lines = f.read().splitlines()[-LOG_TAIL_LINES:]
        out.append(f'==> {p.relative_to(top)} (last {len(lines)} lines) <==')
        out += lines
    return '\n'.join(out)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    top = getattr(item, 'funcargs', {}).get('tmp_path')
    if rep.when in ('setup', 'call') and rep.failed and top is not None:
        rep.sections.append(('logs in ' + str(top), log_tails(top)))
