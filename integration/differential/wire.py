"""Program connections on the wire: non-blocking sockets, one selector over both sides, writes
chunk by chunk at the step's split points (recording when each request's first byte left),
replies framed as they arrive (recording when)."""

import collections
import random
import selectors
import socket
import time

import resp


class Conn:
    """A non-blocking program connection on one side."""

    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.framer = resp.ReplyFramer()
        self.inbox = collections.deque()  # (raw reply, arrival time in ms)
        self.out = collections.deque()    # [bytes, offset sent, [(offset, cmd index)...]]
        self.t_lo = {}                    # cmd index -> ms when its first byte was written
        self.eof = False
        # MONITOR lines are dropped while this connection monitors, judged from its own replies:
        # on from MONITOR's +OK until RESET's +RESET (a line after that is a reply like others).
        self.monitoring = False
        self.monitor_lines = 0
        self.protocol_error = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class IO:
    """One selector over every program connection of both sides: writes go out chunk by chunk
    while replies, pub/sub messages and MONITOR lines are read as they come."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()

    def open(self, port):
        c = Conn(port)
        self.sel.register(c.sock, selectors.EVENT_READ, c)
        return c

    def close(self, c):
        if c is None:
            return
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.close()

    def write(self, c, chunks):
        if c.eof:
            return
        c.out.extend(chunks)
        self.sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)

    def pump(self, done, timeout):
        """Run I/O until done() or timeout seconds; returns done()."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, ev in self.sel.select(min(left, 0.5)):
                c = key.data
                if ev & selectors.EVENT_WRITE:
                    self._send(c)
                if ev & selectors.EVENT_READ:
                    self._recv(c)
        return True

    def _send(self, c):
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        chunk = c.out[0]
        data, off, marks = chunk
        now = time.time() * 1000
        try:
            n = c.sock.send(data[off:])
        except BlockingIOError:
            return
        except OSError:
            c.out.clear()
            self._eof(c)
            return
        for mark_off, idx in marks:
            if off <= mark_off < off + n and idx not in c.t_lo:
                c.t_lo[idx] = now
        chunk[1] = off + n
        if chunk[1] >= len(data):
            c.out.popleft()  # one chunk per send: the split points reach the peer as cut
        if not c.out:
            self.sel.modify(c.sock, selectors.EVENT_READ, c)

    def _recv(self, c):
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError:
            data = b''
        if not data:
            self._eof(c)
            return
        c.framer.feed(data)
        now = time.time() * 1000
        try:
            while True:
                raw = c.framer.pop()
                if raw is None:
                    break
                c.inbox.append((raw, now))
        except resp.ProtocolError as e:
            c.protocol_error = str(e)
            c.inbox.append((b'!PROTOCOL ' + bytes(c.framer.buf[c.framer.pos:][:200]), now))
            c.framer = resp.ReplyFramer()

    def _eof(self, c):
        c.eof = True
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass


def serialize(cmd, args):
    if not args:
        return b'\r\n' if cmd.form in ('inline', 'lf', 'quoted') else b'*0\r\n'
    if cmd.form == 'inline':
        return resp.encode_inline(args)
    if cmd.form == 'lf':
        return resp.encode_inline(args, lf_only=True)
    if cmd.form == 'quoted':
        return resp.encode_inline(args, quoted=True)
    return resp.encode_multibulk(args)


def split_chunks(payloads, split_seed):
    """The step's bytes as write chunks, each [bytes, 0, [(offset, cmd index)...]]."""
    blob = b''.join(payloads)
    starts, off = [], 0
    for i, p in enumerate(payloads):
        starts.append((off, i))
        off += len(p)
    cuts = []
    if split_seed and len(blob) > 1:
        rng = random.Random(split_seed)
        cuts = sorted(set(rng.randrange(1, len(blob)) for _ in range(rng.randint(1, 6))))
    chunks, prev = [], 0
    for cut in cuts + [len(blob)]:
        marks = [(o - prev, i) for o, i in starts if prev <= o < cut]
        chunks.append([blob[prev:cut], 0, marks])
        prev = cut
    return chunks
