#!/usr/bin/env python3
"""Network fuzzer for frontcache: many connections send valid pipelines with one mutated frame
(bit flips, truncation, huge or negative counts, oversize bulk lengths, inline junk, NUL bytes,
forms interleaved), reset connections mid-frame (SO_LINGER 0), or stop reading. A well-behaved
checker client alongside keeps writing and reading its own unique values and must only ever see
the right answers. At the end the proxy must be alive and its log free of sanitizer reports.

  net_fuzz.py --frontcache build-asan/frontcache --duration 600
  net_fuzz.py --duration 20                      # smoke, with the ci build
Exit status: 0 clean, 1 on any checker error, proxy death, invalid RESP from the proxy or
sanitizer report.
"""

import argparse
import collections
import os
import random
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402
import multi  # noqa: E402
import procs  # noqa: E402
import resp  # noqa: E402

# Commands the fuzz connections build pipelines from: nothing that can reach the checker's keys
# (fuzz keys are fz:*), nothing global (FLUSH*, SWAPDB), nothing that allocates by a number in
# its arguments (SETRANGE, SETBIT), so that a mutation cannot turn into a legal but harmful
# request.
SAFE = [
    [b'GET', b'fz:k'], [b'SET', b'fz:k', b'v'], [b'SET', b'fz:big', b'x' * 5000],
    [b'MGET', b'fz:k', b'fz:a', b'fz:k'], [b'MSET', b'fz:a', b'1', b'fz:b', b'2'],
    [b'INCR', b'fz:n'], [b'DEL', b'fz:a'], [b'HSET', b'fz:h', b'f', b'v'], [b'HGET', b'fz:h', b'f'],
    [b'HGETALL', b'fz:h'], [b'LPUSH', b'fz:l', b'a', b'b'], [b'LRANGE', b'fz:l', b'0', b'-1'],
    [b'LLEN', b'fz:l'], [b'SADD', b'fz:s', b'm'], [b'SMEMBERS', b'fz:s'],
    [b'ZADD', b'fz:z', b'1', b'm'], [b'ZRANGE', b'fz:z', b'0', b'-1'],
    [b'EXPIRE', b'fz:a', b'100'], [b'PING'], [b'ECHO', b'hello'], [b'SELECT', b'1'],
    [b'SELECT', b'0'], [b'MULTI'], [b'EXEC'], [b'DISCARD'], [b'WATCH', b'fz:k'], [b'UNWATCH'],
    [b'SUBSCRIBE', b'fz:ch'], [b'UNSUBSCRIBE'], [b'PSUBSCRIBE', b'fz:*'],
    [b'PUBLISH', b'fz:ch', b'm'], [b'CLIENT', b'SETNAME', b'fz'], [b'CLIENT', b'GETNAME'],
    [b'CLIENT', b'REPLY', b'SKIP'], [b'HELLO', b'2'], [b'RESET'], [b'MONITOR'],
    [b'BLPOP', b'fz:empty', b'0.05'], [b'EVAL', b'return 1', b'0'], [b'EXISTS', b'fz:k'],
    [b'TYPE', b'fz:k'], [b'STRLEN', b'fz:k'], [b'GETRANGE', b'fz:k', b'0', b'2'],
    [b'GET', b'fz:big'], [b'QUIT'],
    # RESP3 and client-side caching: push messages interleaved with replies, tracking tables
    # of connections that vanish while other fuzz connections write the keys they read.
    [b'HELLO', b'3'], [b'CLIENT', b'TRACKING', b'on'], [b'CLIENT', b'TRACKING', b'on', b'NOLOOP'],
    [b'CLIENT', b'TRACKING', b'on', b'BCAST', b'PREFIX', b'fz:'],
    [b'CLIENT', b'TRACKING', b'on', b'OPTIN'], [b'CLIENT', b'CACHING', b'yes'],
    [b'CLIENT', b'TRACKING', b'off'], [b'SSUBSCRIBE', b'fz:sh'], [b'SPUBLISH', b'fz:sh', b'm'],
]


INLINE = True  # --no-inline: look past the known inline bug of 672e363
ADMIN = False  # --admin: admin commands allowed, clients kill and unblock each other
TLS = None  # --tls: (port, client ssl context) of the proxy's TLS listener


class Victims:
    """Proxy ids and addresses of fuzz connections (never the checker's), for CLIENT KILL and
    CLIENT UNBLOCK of --admin. Ids of closed connections stay for a while: killing or
    unblocking a client that is gone (or going) is part of the test."""

    def __init__(self):
        self.lock = threading.Lock()
        self.known = collections.deque(maxlen=64)

    def add(self, client_id, addr):
        with self.lock:
            self.known.append((client_id, addr))

    def pick(self, rng):
        with self.lock:
            if not self.known:
                return (b'999999', b'127.0.0.1:1')
            recent = list(self.known)[-6:] if rng.random() < 0.8 else self.known
            return rng.choice(recent)


VICTIMS = Victims()


def frame(args, rng):
    if INLINE and rng.random() < 0.25 and resp.inline_bare_ok(args):
        return resp.encode_inline(args)
    return resp.encode_multibulk(args)


def mutate(data, rng):
    """One mutated frame and the name of the mutation."""
    kind = rng.choice(['bitflip', 'truncate', 'huge count', 'negative count', 'oversize bulk',
                       'inline junk', 'nul bytes', 'interleaved forms', 'bad length digits',
                       'giant inline', 'missing crlf'])
    if kind == 'bitflip':
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), kind
    if kind == 'truncate':
        return data[:rng.randrange(1, max(2, len(data)))], kind
    if kind == 'huge count':
        return rng.choice([b'*2147483648\r\n', b'*99999999999999999999\r\n', b'*1048577\r\n',
                           b'*3000000000\r\n$3\r\nGET\r\n']), kind
    if kind == 'negative count':
        return rng.choice([b'*-5\r\n', b'*1\r\n$-7\r\n', b'*-1\r\n', b'*2\r\n$-1\r\n$-1\r\n']), kind
    if kind == 'oversize bulk':
        return rng.choice([b'*2\r\n$3\r\nGET\r\n$9999999999\r\nabc',
                           b'*1\r\n$536870913\r\nx', b'*2\r\n$3\r\nSET\r\n$2\r\nabcdef\r\n']), kind
    if kind == 'inline junk':
        return bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 200))) + b'\r\n', kind
    if kind == 'nul bytes':
        i = rng.randrange(len(data))
        return data[:i] + b'\x00' * rng.randint(1, 8) + data[i:], kind
    if kind == 'interleaved forms':
        i = rng.randrange(len(data))
        return data[:i] + b'PING\r\n' + data[i:], kind
    if kind == 'bad length digits':
        return rng.choice([b'*1x\r\n', b'*\r\n', b'*1\r\n$\r\n', b'*1\r\n$3x\r\nGET\r\n',
                           b'*+1\r\n$4\r\nPING\r\n', b'*1\r\n$ 4\r\nPING\r\n']), kind
    if kind == 'giant inline':
        return b'GET ' + b'a' * rng.randint(65 * 1024, 200 * 1024), kind
    return data.replace(b'\r\n', b'\n', 1), kind


_HELLO = []


def client_hello():
    """The first bytes a real client sends (a ClientHello), captured once from Python's ssl."""
    if not _HELLO:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = TLS[1].wrap_bio(incoming, outgoing, server_hostname='127.0.0.1')
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        _HELLO.append(outgoing.read())
    return _HELLO[0]


def make_certificate(wd):
    """A self-signed certificate for 127.0.0.1 (the openssl CLI); paths of cert and key."""
    cert, key = wd.file('fuzz-cert.pem'), wd.file('fuzz-key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
                    'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
                    '-days', '2', '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    return cert, key


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.Counter()

    def add(self, key, n=1):
        with self.lock:
            self.c[key] += n


def rst_close(sock):
    """Close with SO_LINGER 0: the peer sees a RST, not a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        sock.close()
    except OSError:
        pass


def drain(sock, framer, seconds, counts, replies=None):
    """Read what the proxy answers for a while; its output must always be valid RESP.
    Complete replies are appended to `replies` when given."""
    end = time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return
        if not data:
            return
        counts.add('bytes received', len(data))
        framer.feed(data)
        try:
            while True:
                raw = framer.pop()
                if raw is None:
                    break
                counts.add('replies received')
                if raw[:1] == b'>':
                    counts.add('RESP3 pushes received')
                if replies is not None:
                    replies.append(raw)
        except resp.ProtocolError as e:
            counts.add('INVALID RESP from proxy')
            counts.add('invalid: %s' % e)
            return


class Fuzzer(threading.Thread):
    def __init__(self, port, seed, deadline, counts):
        super().__init__(daemon=True)
        self.port = port
        self.rng = random.Random(seed)
        self.deadline = deadline
        self.counts = counts

    def run(self):
        while time.monotonic() < self.deadline:
            try:
                self.one_connection()
            except OSError as e:
                self.counts.add('connect/send errors (%s)' % type(e).__name__)
                time.sleep(0.01)

    def one_connection(self):
        rng = self.rng
        tls = TLS is not None and rng.random() < 0.8
        sock = socket.create_connection(('127.0.0.1', TLS[0] if tls else self.port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counts.add('connections')
        if tls:
            if rng.random() < 0.25:
                return self.tls_attack(sock)
            sock = TLS[1].wrap_socket(sock, server_hostname='127.0.0.1')
            self.counts.add('TLS sessions')
        r = rng.random()
        if ADMIN and r < 0.25:
            self.admin_client(sock) if r < 0.12 else self.victim(sock)
            return
        if r < 0.70:
            self.mutated_pipeline(sock)
        elif r < 0.85:
            self.rst_mid_frame(sock)
        elif r < 0.93:
            self.slow_reader(sock)
        else:
            self.pinned_then_rst(sock)

    def send_split(self, sock, data):
        pos = 0
        while pos < len(data):
            n = self.rng.randint(1, max(1, len(data) - pos))
            sock.sendall(data[pos:pos + n])
            pos += n
        self.counts.add('bytes sent', len(data))

    def mutated_pipeline(self, sock):
        rng = self.rng
        frames = [frame(rng.choice(SAFE), rng) for _ in range(rng.randint(1, 60))]
        i = rng.randrange(len(frames))
        frames[i], kind = mutate(frames[i], rng)
        self.counts.add('mutation: ' + kind)
        try:
            self.send_split(sock, b''.join(frames))
            drain(sock, resp.ReplyFramer(), rng.uniform(0.05, 0.4), self.counts)
        finally:
            if rng.random() < 0.3:
                rst_close(sock)
                self.counts.add('closed with RST')
            else:
                sock.close()

    def rst_mid_frame(self, sock):
        rng = self.rng
        frames = b''.join(frame(rng.choice(SAFE), rng) for _ in range(rng.randint(1, 20)))
        cut = rng.randrange(1, len(frames))
        try:
            sock.sendall(frames[:cut])
            if rng.random() < 0.5:
                drain(sock, resp.ReplyFramer(), 0.02, self.counts)
        finally:
            rst_close(sock)
        self.counts.add('RST mid-frame')

    def slow_reader(self, sock):
        """Ask for a lot and stop reading: the proxy must bound what it buffers for us."""
        rng = self.rng
        try:
            sock.sendall(b''.join(resp.encode_multibulk([b'GET', b'fz:large'])
                                  for _ in range(rng.randint(50, 400))))
            time.sleep(rng.uniform(0.2, 1.5))  # pacing only: this client simply does not read
        except OSError:
            pass
        finally:
            rst_close(sock)
        self.counts.add('slow readers')

    def pinned_then_rst(self, sock):
        rng = self.rng
        cmds = rng.choice([
            [[b'MULTI'], [b'SET', b'fz:k', b'1']],
            [[b'SUBSCRIBE', b'fz:ch']],
            [[b'MONITOR']],
            [[b'BLPOP', b'fz:empty', b'5']],
            [[b'WATCH', b'fz:k'], [b'MULTI']],
            [[b'SELECT', b'1'], [b'MULTI'], [b'SELECT', b'2']],
            [[b'HELLO', b'3'], [b'CLIENT', b'TRACKING', b'on'], [b'GET', b'fz:k'],
             [b'SUBSCRIBE', b'fz:ch']],
            [[b'HELLO', b'3'], [b'CLIENT', b'TRACKING', b'on', b'BCAST'], [b'MULTI'],
             [b'GET', b'fz:k']],
        ])
        try:
            sock.sendall(b''.join(resp.encode_multibulk(c) for c in cmds))
            drain(sock, resp.ReplyFramer(), 0.05, self.counts)
        finally:
            rst_close(sock) if rng.random() < 0.5 else sock.close()
        self.counts.add('pinned then closed')


    def tls_attack(self, sock):
        """The TLS listener's own inputs: junk or plaintext instead of a ClientHello, a
        ClientHello cut short or followed by junk, a silent client, a RST mid-handshake."""
        rng = self.rng
        kind = rng.choice(['junk', 'plaintext RESP', 'cut hello', 'hello then junk', 'silent',
                           'bad record after handshake'])
        self.counts.add('TLS attack: ' + kind)
        try:
            if kind == 'junk':
                sock.sendall(bytes(rng.randrange(256) for _ in range(rng.randint(1, 2000))))
            elif kind == 'plaintext RESP':
                sock.sendall(resp.encode_multibulk([b'GET', b'fz:k']) * rng.randint(1, 50))
            elif kind in ('cut hello', 'hello then junk'):
                hello = client_hello()
                if kind == 'cut hello':
                    sock.sendall(hello[:rng.randrange(1, len(hello))])
                else:
                    b = bytearray(hello)
                    for _ in range(rng.randint(1, 6)):
                        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                    sock.sendall(bytes(b) + bytes(rng.randrange(256) for _ in range(64)))
            elif kind == 'bad record after handshake':
                sock = TLS[1].wrap_socket(sock, server_hostname='127.0.0.1')
                sock.sendall(resp.encode_multibulk([b'PING']))
                # An application-data record of junk, written under the TLS layer.
                socket.socket.sendall(sock, b'\x17\x03\x03\x00\x20' +
                                      bytes(rng.randrange(256) for _ in range(32)))
            if kind != 'silent' or rng.random() < 0.5:
                drain(sock, resp.ReplyFramer(), rng.uniform(0.02, 0.3), Counts())
            else:
                time.sleep(rng.uniform(0.05, 0.5))  # pacing only: a client that says nothing
        except OSError:
            pass
        finally:
            rst_close(sock) if rng.random() < 0.5 else sock.close()

    def admin_client(self, sock):
        """CLIENT KILL / UNBLOCK / LIST of other fuzz connections, whatever worker they are on
        and whatever they are doing (blocked, in MULTI, subscribed, closing). Never mutated: a
        flipped digit in an id could name the checker."""
        rng = self.rng
        cmds = []
        for _ in range(rng.randint(1, 8)):
            cid, addr = VICTIMS.pick(rng)
            cmds.append(rng.choice([
                [b'CLIENT', b'KILL', b'ID', cid],
                [b'CLIENT', b'KILL', b'ID', cid, b'SKIPME', b'no'],
                [b'CLIENT', b'KILL', addr],
                [b'CLIENT', b'KILL', b'ADDR', addr],
                [b'CLIENT', b'KILL', b'TYPE', b'pubsub'],
                [b'CLIENT', b'UNBLOCK', cid],
                [b'CLIENT', b'UNBLOCK', cid, b'TIMEOUT'],
                [b'CLIENT', b'UNBLOCK', cid, b'ERROR'],
                [b'CLIENT', b'LIST'],
                [b'CLIENT', b'LIST', b'ID', cid, VICTIMS.pick(rng)[0]],
                [b'CLIENT', b'LIST', b'TYPE', b'normal'],
                [b'CLIENT', b'INFO'],
                [b'CLIENT', b'NO-EVICT', b'on'],
                [b'INFO', b'clients'],
                [b'INFO'],
                [b'MULTI'], [b'EXEC'],
                [b'SELECT', b'2'],
                [b'BLPOP', b'fz:empty', b'0.2'],
                [b'CONFIG', b'GET', b'maxmemory'],
                [b'SLOWLOG', b'LEN'],
                [b'COMMAND', b'COUNT'],
            ]))
        replies = []
        try:
            self.send_split(sock, b''.join(resp.encode_multibulk(c) for c in cmds))
            drain(sock, resp.ReplyFramer(), rng.uniform(0.05, 0.5), self.counts, replies)
        finally:
            rst_close(sock) if rng.random() < 0.3 else sock.close()
        self.counts.add('admin clients')
        # How often a kill or unblock found its target (replies line up with commands).
        for cmd, raw in zip(cmds, replies):
            if cmd[0] == b'CLIENT' and cmd[1] in (b'KILL', b'UNBLOCK'):
                self.counts.add('admin: CLIENT %s -> %s' % (
                    cmd[1].decode(), raw[:1].decode() + ('1+' if raw[:2] in (b':1', b':2', b':3')
                                                         or raw.startswith(b'+OK') else '')))

    def victim(self, sock):
        """A connection that tells the others its id and address, then blocks, pins a state
        or works, until it is killed, unblocked or closes by itself."""
        rng = self.rng
        sock.sendall(resp.encode_multibulk([b'CLIENT', b'ID']))
        framer = resp.ReplyFramer()
        sock.settimeout(5)
        raw = None
        while raw is None:
            data = sock.recv(4096)
            if not data:
                return
            framer.feed(data)
            raw = framer.pop()
        host, port = sock.getsockname()[:2]
        VICTIMS.add(raw[1:].strip(), b'%s:%d' % (host.encode(), port))
        cmds = rng.choice([
            [[b'BLPOP', b'fz:empty', b'0']],
            [[b'SELECT', b'3'], [b'BLPOP', b'fz:empty', b'0']],
            [[b'BRPOPLPUSH', b'fz:empty', b'fz:l', b'0'], [b'GET', b'fz:k']],
            [[b'MULTI'], [b'SET', b'fz:k', b'1'], [b'BLPOP', b'fz:empty', b'0']],
            [[b'SUBSCRIBE', b'fz:ch']],
            [[b'WATCH', b'fz:k'], [b'GET', b'fz:k'], [b'MULTI'], [b'INCR', b'fz:n']],
            [[b'CLIENT', b'TRACKING', b'on'], [b'GET', b'fz:k']],
            [[b'GET', b'fz:k'], [b'SET', b'fz:k', b'v'], [b'BLPOP', b'fz:empty', b'0.3']],
        ])
        try:
            self.send_split(sock, b''.join(resp.encode_multibulk(c) for c in cmds))
            drain(sock, framer, rng.uniform(0.3, 3), self.counts)
        finally:
            rst_close(sock) if rng.random() < 0.3 else sock.close()
        self.counts.add('victims')


class Checker(threading.Thread):
    """The well-behaved client: unique values written and read back, counters incremented
    and checked; any error, wrong answer or stall is a failure."""

    def __init__(self, port, deadline, counts, timeout, redis_port=None):
        super().__init__(daemon=True)
        self.port = port
        self.redis_port = redis_port
        self.stall_clients = []
        self.deadline = deadline
        self.counts = counts
        self.timeout = timeout
        self.failures = []
        self.longest_wait = 0.0  # seconds, the slowest pipeline of three
        self.token = os.urandom(8).hex().encode()
        self.pending, self.replies_in = [], 0  # the pipeline in flight, for a stall's report

    def run(self):
        n = 0
        counter = 0  # the counter's value as last seen, None when unknown
        try:
            sock = socket.create_connection(
                ('127.0.0.1', TLS[0] if TLS else self.port), timeout=self.timeout)
            if TLS:
                sock = TLS[1].wrap_socket(sock, server_hostname='127.0.0.1')
            framer = resp.ReplyFramer()
            while time.monotonic() < self.deadline and len(self.failures) < 20:
                n += 1
                key = b'chk:%s:%d' % (self.token, n % 50)
                val = b'%s-%d' % (self.token, n)
                expect = [b'+OK\r\n', b'$%d\r\n%s\r\n' % (len(val), val),
                          b':%d\r\n' % ((counter or 0) + 1)]
                cmds = [[b'SET', key, val], [b'GET', key], [b'INCR', b'chk:%s:n' % self.token]]
                started = time.monotonic()
                got = self.call(sock, framer, cmds)
                self.longest_wait = max(self.longest_wait, time.monotonic() - started)
                if got[:2] != expect[:2] or (counter is not None and got[2] != expect[2]):
                    self.failures.append('%r -> %r (expected %r)' % (cmds, got, expect))
                # After an error the INCR may or may not have run: learn the counter again.
                counter = int(got[2][1:]) if got[2][:1] == b':' else None
                self.counts.add('checker requests', len(cmds))
        except OSError as e:
            self.failures.append('checker connection failed at %s: %s (request %d, %r, %d of its '
                                 'replies in)' % (time.strftime('%H:%M:%S'), e, n, self.pending,
                                                  self.replies_in))
            if self.redis_port:
                # What the proxy's upstream connections were doing (qbuf: requests Redis has
                # not run; omem: replies the proxy has not read; cmd: the last one run).
                self.stall_clients = upstream_clients(self.redis_port)

    def call(self, sock, framer, cmds):
        self.pending, self.replies_in = cmds, 0
        sock.sendall(b''.join(resp.encode_multibulk(c) for c in cmds))
        out = []
        while len(out) < len(cmds):
            raw = framer.pop()
            if raw is not None:
                out.append(raw)
                self.replies_in = len(out)
                continue
            data = sock.recv(65536)
            if not data:
                raise ConnectionError('closed by the proxy')
            framer.feed(data)
        return out


class Reloader(threading.Thread):
    """--reload: SIGHUP every 0.2-1 s, the config alternating between two versions: other TTLs,
    and rules for fz:* and chk:* instead of *, so that the tracking prefixes change (invalidation
    re-armed, L1 cleared) while the checker reads its own writes."""

    def __init__(self, proxy, deadline, counts, seed):
        super().__init__(daemon=True)
        self.proxy = proxy
        self.deadline = deadline
        self.counts = counts
        self.rng = random.Random(seed)

    def run(self):
        flip = False
        while time.monotonic() < self.deadline:
            time.sleep(self.rng.uniform(0.2, 1.0))  # pacing only: reloads at random moments
            flip = not flip
            settings = dict(self.proxy.settings, ttl='7s' if flip else '10s',
                            rules_extra='    - match: "fz:*"\n      ttl: 1s\n' if flip else '')
            text = procs.FRONTCACHE_YAML.format(port=self.proxy.port, **settings)
            if flip:  # rules for fz:* and chk:* only: the prefixes to track change
                text = text.replace('- match: "*"', '- match: "chk:*"')
            with open(self.proxy.config_path(), 'w') as f:
                f.write(text)
            os.kill(self.proxy.child.pid, signal.SIGHUP)
            self.counts.add('reloads (SIGHUP)')


def info_fields(port, names):
    """{name: int} for these fields of INFO frontcache; {} when unreadable."""
    conn = multi.Conn(port)
    try:
        text = resp.decode(conn.call([[b'INFO', b'frontcache']], 5.0)[0])[1]
        return {n: int(cluster.info_field(text, n.encode())) for n in names}
    except (OSError, TypeError, ValueError):  # TypeError: a field missing (None)
        return {}
    finally:
        conn.close()


def slowlog(port):
    """Redis's slowest commands of the run (SLOWLOG GET), for a checker stall's report: a
    command that held Redis for seconds stalls every client, through the proxy or not."""
    conn = multi.Conn(port)
    try:
        entries = [[v for _, v in e[1]]
                   for e in resp.decode(conn.call([[b'SLOWLOG', b'GET', b'10']], 5.0)[0])[1]]
        return ['%.2f s: %s' % (e[2] / 1e6, b' '.join(a for _, a in e[3])[:120].decode(
            errors='replace')) for e in sorted(entries, key=lambda e: -e[2])]
    except (OSError, TypeError, ValueError, IndexError):
        return []
    finally:
        conn.close()


def upstream_clients(port):
    """Redis's CLIENT LIST lines (the proxy's connections and ours), most buffered first."""
    conn = multi.Conn(port)
    try:
        text = resp.decode(conn.call([[b'CLIENT', b'LIST']], 5.0)[0])[1].decode()
    except (OSError, TypeError, ValueError, IndexError):
        return []
    finally:
        conn.close()
    keep = ('id', 'age', 'idle', 'flags', 'db', 'qbuf', 'omem', 'tot-mem', 'cmd', 'name')
    lines = []
    for line in text.splitlines():
        fields = dict(f.split('=', 1) for f in line.split() if '=' in f)
        lines.append((int(fields.get('omem', 0)) + int(fields.get('qbuf', 0)),
                      ' '.join('%s=%s' % (k, fields.get(k, '')) for k in keep)))
    return [line for _, line in sorted(lines, reverse=True)][:20]


def sanitized(binary):
    """True for an ASan or TSan build (linked against the sanitizer's runtime)."""
    try:
        out = subprocess.run(['ldd', binary], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return 'libasan' in out or 'libtsan' in out


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frontcache', help='binary (default $FRONTCACHE_BIN, then build-ci)')
    p.add_argument('--duration', type=float, default=20)
    p.add_argument('--threads', type=int, default=12, help='concurrent fuzz connections')
    p.add_argument('--seed', type=int, default=None)
    p.add_argument('--checker-timeout', type=float, default=None,
                   help='seconds a checker request may take before it counts as a stall '
                        '(default 10, 60 for a sanitizer build: its proxy moves the slow '
                        "readers' large replies, which the checker may queue behind on a "
                        'shared upstream connection, several times slower)')
    p.add_argument('--extra-yaml', default=os.environ.get('DIFFTEST_EXTRA_YAML', ''))
    p.add_argument('--tracking', default='bcast', choices=['bcast', 'default'],
                   help='invalidation.tracking of the proxy')
    p.add_argument('--max-rss-mb', type=int, default=None,
                   help='fail when the proxy\'s RSS ever exceeds this (output buffers bounded?)')
    p.add_argument('--no-inline', action='store_true',
                   help='valid frames in multibulk form only (mutations may still make lines)')
    p.add_argument('--admin', action='store_true',
                   help='admin commands allowed; a quarter of the connections kill, unblock '
                        'and list the others')
    p.add_argument('--tls', action='store_true',
                   help='a TLS listener too: the checker and 80 %% of the connections use it, '
                        'a quarter of those attack the handshake')
    p.add_argument('--reload', action='store_true',
                   help='SIGHUP the proxy every 0.2-1 s with an alternating config')
    p.add_argument('--summary-json')
    opts = p.parse_args(argv)
    global INLINE, ADMIN, TLS
    INLINE = not opts.no_inline
    ADMIN = opts.admin
    binary = procs.find_frontcache(opts.frontcache)
    if not binary or not os.path.exists(binary):
        print('frontcache binary not found: pass --frontcache or set FRONTCACHE_BIN')
        return 2
    seed = opts.seed if opts.seed is not None else random.SystemRandom().randrange(1, 2**31)
    print('== net fuzz: seed %d, %.0f s, %d fuzz threads%s%s%s, proxy %s' % (
        seed, opts.duration, opts.threads, ', admin' if opts.admin else '',
        ', tls' if opts.tls else '', ', reload' if opts.reload else '', binary), flush=True)
    wd = procs.Workdir('difftest-fuzz-')
    redis = procs.RedisServer(wd, 'fuzz')
    # ASan wants its report on exit too: no leak check noise from intentional exits.
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get(
        'ASAN_OPTIONS', 'detect_leaks=0:abort_on_error=0'),
        UBSAN_OPTIONS=os.environ.get('UBSAN_OPTIONS', 'print_stacktrace=1'))
    extra_yaml = opts.extra_yaml
    if opts.tls:
        cert, key = make_certificate(wd)
        tls_port = procs.free_port()
        extra_yaml += ('tls:\n  listen: 127.0.0.1:%d\n  cert_file: %s\n  key_file: %s\n'
                       '  handshake_timeout: 2s\n' % (tls_port, cert, key))
        context = ssl.create_default_context(cafile=cert)
        TLS = (tls_port, context)
    proxy = procs.Frontcache(binary, wd, 'fuzz', redis.port, extra_yaml=extra_yaml,
                             command_timeout='5s', env=env, tracking=opts.tracking,
                             admin_commands='forward' if opts.admin else 'deny')
    status = 0
    try:
        conn = socket.create_connection(('127.0.0.1', redis.port))
        conn.sendall(resp.encode_multibulk([b'SET', b'fz:large', b'L' * 256 * 1024]))
        conn.recv(100)
        conn.close()
        counts = Counts()
        start = time.monotonic()
        deadline = start + opts.duration
        checker_timeout = opts.checker_timeout or (60.0 if sanitized(binary) else 10.0)
        checker = Checker(proxy.port, deadline, counts, checker_timeout, redis.port)
        fuzzers = [Fuzzer(proxy.port, seed * 100 + i, deadline, counts)
                   for i in range(opts.threads)]
        if opts.reload:
            fuzzers.append(Reloader(proxy, deadline, counts, seed))
        rss0 = rss_kb(proxy.child.pid)
        rss_max = rss0
        for t in [checker] + fuzzers:
            t.start()
        while time.monotonic() < deadline:
            time.sleep(0.5)
            rss_max = max(rss_max, rss_kb(proxy.child.pid))
        for t in [checker] + fuzzers:
            t.join(timeout=30)
        alive = proxy.alive() and procs.ping(proxy.port, timeout=5)
        if opts.reload:
            info = info_fields(proxy.port, ['config_reloads', 'config_reload_failures'])
            for name, value in info.items():
                counts.add('INFO %s' % name, value)
            if not info or info['config_reload_failures'] or not info['config_reloads']:
                checker.failures.append('config reloads not all applied: %r' % info)
        status = report(counts, checker, proxy, alive, rss0, rss_max, time.monotonic() - start,
                        opts)
        if checker.failures:
            print('  Redis SLOWLOG, slowest first:')
            for line in slowlog(redis.port):
                print('    ' + line)
            if checker.stall_clients:
                print("  Redis's clients when the checker stalled, most buffered first:")
                for line in checker.stall_clients:
                    print('    ' + line)
    finally:
        proxy.stop()
        sanitizer = procs.sanitizer_reports(proxy.log())
        if sanitizer:
            print('SANITIZER REPORTS: %d' % len(sanitizer))
            for line in sanitizer[:20]:
                print('  ' + line)
            print('(full log: %s; set DIFFTEST_KEEP_TMP=1 to keep it)' % proxy.child.log_path)
            status = 1
        else:
            print('sanitizer reports: 0')
        redis.stop()
        if status and not os.environ.get('DIFFTEST_KEEP_TMP'):
            print('--- last lines of the proxy log ---\n' + '\n'.join(
                proxy.log().splitlines()[-30:]))
        wd.close()
    print('RESULT: %s' % ('FAIL' if status else 'ok'))
    return status


def report(counts, checker, proxy, alive, rss0, rss_max, seconds, opts):
    c = counts.c
    print('\n==== net fuzz summary (%.0f s) ====' % seconds)
    for k in sorted(c):
        print('  %-48s %d' % (k, c[k]))
    print('  proxy RSS: %d MB at start, %d MB at most' % (rss0 // 1024, rss_max // 1024))
    print('  checker: %d requests, %d failures, longest wait %.2f s' % (
        c['checker requests'], len(checker.failures), checker.longest_wait))
    for f in checker.failures[:10]:
        print('    ' + f[:300])
    print('  proxy alive at the end: %s' % ('yes' if alive else 'NO'))
    if opts.summary_json:
        import json
        with open(opts.summary_json, 'w') as f:
            json.dump({'connections': c['connections'], 'checker_requests': c['checker requests'],
                       'checker_failures': len(checker.failures), 'alive': bool(alive),
                       'invalid_resp': c['INVALID RESP from proxy'], 'rss_max_mb': rss_max // 1024},
                      f, indent=1)
    over = opts.max_rss_mb is not None and rss_max // 1024 > opts.max_rss_mb
    if over:
        print('  proxy RSS exceeded --max-rss-mb %d' % opts.max_rss_mb)
    return 0 if alive and not checker.failures and not c['INVALID RESP from proxy'] and \
        not over else 1


if __name__ == '__main__':
    sys.exit(main())
