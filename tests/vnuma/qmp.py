# SPDX-License-Identifier: GPL-2.0
"""A small synchronous QMP client: commands, their answers, and events."""

import json
import socket
import time


class QMPError(Exception):
    """QEMU answered a command with an error."""

    def __init__(self, cmd, error):
        self.cmd = cmd
        self.klass = error.get('class', '')
        self.desc = error.get('desc', '')
        super().__init__(f'{cmd}: {self.klass}: {self.desc}')


class QEMUExited(Exception):
    """QEMU exited before its QMP socket answered."""


class QMP:
    def __init__(self, path, timeout=30.0, alive=None):
        """Connect to QEMU's QMP socket at @path, waiting up to @timeout
        s for QEMU to listen; @alive() False (QEMU exited) ends the wait
        at once with QEMUExited."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if alive and not alive():
                    raise QEMUExited(f'QEMU exited before {path} '
                                     'answered') from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # Our own line buffer over recv(): a socket file object is
        # unusable after one read timed out, and a test that waited for
        # an event in vain must still be able to collect evidence.
        self.buf = b''
        self.events = []
        self.timeout = timeout
        # A connection made while QEMU starts its vCPUs can get the
        # RESUME event before the greeting: QEMU 10.0's
        # monitor_qapi_event_emit() writes events to a monitor until
        # the handling of its first OPENED event puts it in negotiation.
        while 'event' in (msg := self._read(timeout)):
            self.events.append(msg)
        self.greeting = msg
        if 'QMP' not in self.greeting:
            raise RuntimeError(f'not a QMP greeting: {self.greeting}')
        self.cmd('qmp_capabilities')

    def _read(self, timeout):
        """The next message; socket.timeout if none came in @timeout s
        (the connection stays usable: a partial line stays buffered)."""
        deadline = time.monotonic() + timeout
        while b'\n' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout('no QMP message')
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise EOFError('QMP connection closed')
            self.buf += data
        line, _, self.buf = self.buf.partition(b'\n')
        return json.loads(line)

    def cmd(self, name, **args):
        """Run one command; return its 'return' value or raise QMPError."""
        msg = {'execute': name}
        if args:
            msg['arguments'] = args
        self.sock.settimeout(self.timeout)
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            reply = self._read(self.timeout)
            if 'event' in reply:
                self.events.append(reply)
                continue
            if 'error' in reply:
                raise QMPError(name, reply['error'])
            return reply.get('return')

    def wait_event(self, name, timeout=30.0, match=None):
        """Return (and consume) the first event NAME for which match(ev)."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev['event'] == name and (match is None or match(ev)):
                    self.events.remove(ev)
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f'no {name} event within {timeout} s')
            try:
                self.events.append(self._read(left))
            except socket.timeout:
                pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
