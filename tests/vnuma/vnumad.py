# SPDX-License-Identifier: GPL-2.0
"""vnumad run by a test: in the foreground, with its own configuration,
control socket and export file in a directory of the test's."""

import json
import os
import re
import signal
import socket
import subprocess
import time

from vnuma.guest import BUILD

VNUMAD = os.path.join(BUILD, 'host-agent', 'vnumad')
VNUMACTL = os.path.join(BUILD, 'host-agent', 'vnumactl')


class Vnumad:
    """A vnumad in the foreground, logging to DIR/vnumad.log."""

    @staticmethod
    def socket_path(dir):
        return os.path.join(dir, 'run', 'vnumad.sock')

    def __init__(self, dir, uri, extra='', env=None):
        self.dir = dir
        os.makedirs(dir, exist_ok=True)
        self.sock = self.socket_path(dir)
        self.export = os.path.join(dir, 'nodes.json')
        self.metrics = os.path.join(dir, 'vnumad.prom')
        self.conf = os.path.join(dir, 'vnumad.conf')
        self.logpath = os.path.join(dir, 'vnumad.log')
        self.write_conf(f'uri = {uri}\nsocket = {self.sock}\n'
                        f'export = {self.export}\n'
                        f'metrics = {self.metrics}\n{extra}')
        self.proc = subprocess.Popen(
            [VNUMAD, '--foreground', '--config', self.conf, '-v'],
            stdin=subprocess.DEVNULL, stdout=open(self.logpath, 'ab'),
            stderr=subprocess.STDOUT, env=env)
        self.wait_log('listening on')

    def write_conf(self, text):
        with open(self.conf, 'w') as f:
            f.write(text)

    def log(self):
        with open(self.logpath, errors='replace') as f:
            return f.read()

    def wait_log(self, pattern, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while len(re.findall(pattern, self.log())) < count:
            assert self.proc.poll() is None, self.log()
            assert time.monotonic() < deadline, \
                f'no {pattern!r} x{count} in vnumad log:\n{self.log()}'
            time.sleep(0.2)

    def ctl(self, *args, check=True):
        p = subprocess.run([VNUMACTL, '-s', self.sock, *args],
                           capture_output=True, text=True, timeout=300)
        if check:
            assert p.returncode == 0, p.stdout + p.stderr
        return p

    def request(self, raw, timeout=10):
        """Send @raw bytes on the control socket, return the answer."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.sock)
        s.sendall(raw)
        data = b''
        while not data.endswith(b'\n'):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data) if data else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            return self.proc.wait(30)
        return self.proc.returncode


def nodes_of(daemon, dom):
    """{node: present bytes} of @dom from vnumad's export file."""
    with open(daemon.export) as f:
        doms = json.load(f)['domains']
    d = next(d for d in doms if d['domain'] == dom)
    return {n['node']: n['present-pages'] * d['page-size']
            for n in d['nodes'] if n['present-pages']}


def wait_nodes(daemon, dom, cond, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = nodes_of(daemon, dom)
            if cond(got):
                return got
        except (FileNotFoundError, StopIteration, KeyError,
                json.JSONDecodeError):
            got = None
        assert time.monotonic() < deadline, \
            f'{dom}: nodes {got} in {daemon.export}\n{daemon.log()}'
        time.sleep(0.3)
