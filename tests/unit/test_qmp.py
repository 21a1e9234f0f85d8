# SPDX-License-Identifier: GPL-2.0
"""The harness's QMP client against a scripted server: an event waited
for in vain must leave the connection usable, and partial lines must be
reassembled."""
import json
import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from vnuma.qmp import QMP, QEMUExited, QMPError  # noqa: E402


def serve(path, script):
    """Accept one client; for each command it sends, send what @script
    says (a list of raw byte chunks), in order."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def run():
        conn, _ = srv.accept()
        conn.sendall(b'{"QMP": {"version": {}, "capabilities": []}}\n')
        f = conn.makefile('rb')
        for chunks in script:
            if not f.readline():
                break
            for c in chunks:
                conn.sendall(c)
        f.read()
        conn.close()
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_usable_after_event_timeout(tmp_path):
    path = str(tmp_path / 'qmp.sock')
    ev = json.dumps({'event': 'LATE', 'data': {}}).encode()
    serve(path, [
        [b'{"return": {}}\n'],                       # qmp_capabilities
        # An answer split in two, an event in between.
        [b'{"retu', b'rn": {"a": 1}}\n'],
        [b'{"return": 0}\n', ev[:5]],                # half an event...
        [ev[5:] + b'\n', b'{"return": 2}\n'],        # ...the rest, late
        [b'{"error": {"class": "GenericError", "desc": "no"}}\n'],
    ])
    q = QMP(path, timeout=5)
    assert q.cmd('first') == {'a': 1}
    assert q.cmd('second') == 0
    with pytest.raises(TimeoutError):
        q.wait_event('NEVER', timeout=0.3)
    # The connection still works: the late event, then answers.
    assert q.cmd('third') == 2
    assert q.wait_event('LATE', timeout=1)['event'] == 'LATE'
    with pytest.raises(QMPError, match='no'):
        q.cmd('fourth')
    q.close()


def test_connect_stops_when_qemu_is_gone(tmp_path):
    """A QEMU that exited at start (a socket file nobody listens on, or
    none at all) ends the wait at once, not after the whole timeout."""
    path = str(tmp_path / 'qmp.sock')
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(path)
    dead.close()
    for p in (path, str(tmp_path / 'none.sock')):
        t0 = time.monotonic()
        with pytest.raises(QEMUExited):
            QMP(p, timeout=30, alive=lambda: False)
        assert time.monotonic() - t0 < 5
    # While QEMU lives, the wait lasts the timeout.
    with pytest.raises(ConnectionRefusedError):
        QMP(path, timeout=0.3, alive=lambda: True)
