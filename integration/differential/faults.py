"""Faults for the multi-client mode (--faults) and the windows they open: a read belongs to a
fault's window from the fault's start to FAULT_TAIL_S after its end."""

import collections
import ctypes
import os
import random
import signal
import socket
import threading
import time

import resp

FAULT_TAIL_S = 2.0  # a read this long after a fault ended still counts in its window

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_libc.ptrace.restype = ctypes.c_long
_PTRACE_DETACH, _PTRACE_SEIZE, _PTRACE_INTERRUPT = 17, 0x4206, 0x4207
_WALL = 0x40000000


def _ptrace(request, tid):
    return _libc.ptrace(request, tid, None, None)


def now():
    return time.monotonic()


class FaultLog:
    def __init__(self):
        self.lock = threading.Lock()
        self.windows = []  # (start, end, name)
        self.counts = collections.Counter()

    def add(self, name, start, end):
        with self.lock:
            self.windows.append((start, end, name))
            self.counts[name] += 1

    def begin(self, name, start):
        """A window whose end is not known yet (a fault that lasts seconds): reads during it
        belong to it. Returns the handle for end()."""
        with self.lock:
            self.windows.append((start, float('inf'), name))
            self.counts[name] += 1
            return len(self.windows) - 1

    def end(self, handle, end):
        with self.lock:
            start, _, name = self.windows[handle]
            self.windows[handle] = (start, end, name)

    def window_of(self, t):
        with self.lock:
            for start, end, name in reversed(self.windows):
                if start <= t <= end + FAULT_TAIL_S:
                    return name
        return 'no fault'


class FaultInjector(threading.Thread):
    KINDS = ('client kill pubsub', 'kill tracking connection', 'debug sleep 0.5',
             'restart redis', 'stall proxy', 'busy workers', 'stall one thread')

    def __init__(self, world, ks, log, opts, deadline, seed, conn_class):
        super().__init__(daemon=True)
        self.conn_class = conn_class  # multi.Conn: a reconnecting blocking client
        self.world = world
        self.ks = ks
        self.log = log
        self.opts = opts
        self.deadline = deadline
        self.rng = random.Random(seed)
        self.epoch = 1
        self.failures = collections.Counter()

    def run(self):
        time.sleep(min(self.opts.fault_interval, 1.0))
        while now() < self.deadline - 1.0:
            kind = self.rng.choice(self.KINDS)
            start = now()
            try:
                getattr(self, '_' + kind.replace(' ', '_').replace('.', ''))()
            except (OSError, ConnectionError) as e:
                self.failures['%s: %s' % (kind, e)] += 1
            self.log.add(kind, start, now())
            time.sleep(self.opts.fault_interval * self.rng.uniform(0.5, 1.5))

    def _direct(self, cmds):
        return self.conn_class(self.world.redis.port).call(cmds)

    def _client_kill_pubsub(self):
        self._direct([[b'CLIENT', b'KILL', b'TYPE', b'pubsub']])

    def _kill_tracking_connection(self):
        text = resp.decode(self._direct([[b'CLIENT', b'LIST']])[0])[1]
        ids = [line.split(b' ')[0].split(b'=')[1] for line in text.splitlines()
               if b' flags=' in line and b't' in line.split(b' flags=')[1].split(b' ')[0]]
        for i in ids:
            self._direct([[b'CLIENT', b'KILL', b'ID', i]])

    def _debug_sleep_05(self):
        self._direct([[b'DEBUG', b'SLEEP', b'0.5']])

    def _restart_redis(self):
        cells = sorted(self.ks.all, key=lambda c: c.name())
        for c in cells:
            c.lock.acquire()
        try:
            # Until populate() below, the new Redis is empty: a version of its own (registered
            # before the kill, acknowledged when the new server is up), so that a read of
            # nothing is "written" and a read of the old data is stale from then on.
            empty = [c.register({('len', 0), ('last', None)} if c.kind == 'list' else
                                {('v', None)}, -1, c.value) for c in cells]
            self.world.redis.restart()
            t = now()
            for v in empty:
                v.ack = t
            self.epoch += 1
            conn = self.conn_class(self.world.redis.port)
            self.ks.populate(conn, self.epoch)
            conn.close()
        finally:
            for c in reversed(cells):
                c.lock.release()

    def _busy_workers(self):
        """Keep one proxy's worker threads busy for about a second: connections blasting
        pipelines of L1 hits (SO_REUSEPORT spreads them over the workers). A single stalled
        worker cannot be chosen from outside; this loads them all."""
        p = self.rng.choice(self.world.proxies)
        key = b'busy:%d' % self.rng.randrange(1 << 30)
        self._direct([[b'SET', key, b'x' * 1000]])
        blob = resp.encode_multibulk([b'GET', key]) * 20000
        socks = [socket.create_connection(('127.0.0.1', p.port), timeout=5) for _ in range(4)]
        try:
            end = now() + 1.0
            while now() < end:
                for s in socks:
                    s.sendall(blob)
                for s in socks:  # read about what was asked, so the next batch is not refused
                    got = 0
                    while got < 20000 * 1000 and now() < end + 2:
                        data = s.recv(1 << 20)
                        if not data:
                            break
                        got += len(data)
        finally:
            for s in socks:
                s.close()

    def _stall_one_thread(self):
        """Stop one thread of a proxy (not the main one) for 0.5-1.1 s, the others running on:
        a worker or the invalidation thread stalling. ptrace stops a single thread, SIGSTOP
        cannot (it stops the whole process)."""
        p = self.rng.choice(self.world.proxies)
        tids = sorted(int(t) for t in os.listdir('/proc/%d/task' % p.child.pid)
                      if int(t) != p.child.pid)
        if not tids:
            return
        tid = self.rng.choice(tids)
        if _ptrace(_PTRACE_SEIZE, tid) != 0 or _ptrace(_PTRACE_INTERRUPT, tid) != 0:
            raise OSError(ctypes.get_errno(), 'ptrace of thread %d' % tid)
        try:
            os.waitpid(tid, _WALL)
            time.sleep(self.rng.uniform(0.5, 1.1))  # the stall itself
        finally:
            _ptrace(_PTRACE_DETACH, tid)

    def _stall_proxy(self):
        p = self.rng.choice(self.world.proxies)
        os.kill(p.child.pid, signal.SIGSTOP)
        time.sleep(0.3)
        os.kill(p.child.pid, signal.SIGCONT)
