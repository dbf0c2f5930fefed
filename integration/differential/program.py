"""A program: steps, each a pipeline of commands sent on one of the program's connections.

Programs are plain data (JSON-able) so that a failing one can be shrunk, saved and replayed with
`diff_runner.py --replay FILE`.
"""

import json


class AbsTime:
    """An EXPIREAT/PXAT-style argument: now + offset, resolved when its step is sent, with the
    same digits going to both sides."""

    __slots__ = ('offset_ms', 'unit')

    def __init__(self, offset_ms, unit):
        self.offset_ms = offset_ms
        self.unit = unit  # 's' or 'ms'

    def __str__(self):
        return 'now%+d%s' % (self.offset_ms if self.unit == 'ms' else self.offset_ms // 1000,
                            self.unit)

    def resolve(self, now_ms):
        t = now_ms + self.offset_ms
        return str(t // 1000 if self.unit == 's' else t).encode()


class Cmd:
    """One request and what the runner must know about it.

    keys        key names it reads or writes (any database); all_keys for FLUSHDB, DBSIZE...
    write       it may change the keys (a skipped write is resynchronised)
    ttl         ('rel', ms) when it may set a relative TTL on keys[0], ('abs',) for an absolute
                one (the AbsTime argument), None otherwise
    undeclared  keys it writes that the proxy cannot name from the request (script bodies,
                ... STORE options, other databases): another connection may see them only after
                the proxy's invalidation arrives
    blind       a write whose resulting state does not depend on the keys' previous state (DEL,
                plain SET, MSET, FLUSHDB...): when it races an expiry, its reply is not
                compared but both sides still agree afterwards, so nothing is resynchronised
    norm        the normalisation its reply needs (normalize.py), or None for raw bytes
    form        mb | inline | quoted | lf (inline ended by a bare LF)
    """

    __slots__ = ('args', 'family', 'keys', 'all_keys', 'write', 'ttl', 'undeclared', 'norm',
                 'form', 'blind')

    def __init__(self, args, family=None, keys=(), write=False, ttl=None, undeclared=(),
                 norm=None, all_keys=False, form='mb', blind=False):
        self.args = list(args)
        self.family = family or (args[0].decode('latin-1').upper() if args else 'EMPTY')
        self.keys = tuple(keys)
        self.all_keys = all_keys
        self.write = write
        self.ttl = ttl
        self.undeclared = tuple(undeclared)
        self.norm = norm
        self.form = form
        self.blind = blind

    def resolved(self, now_ms):
        return [a.resolve(now_ms) if isinstance(a, AbsTime) else a for a in self.args]

    def to_json(self):
        return {
            'args': [{'abs': a.offset_ms, 'unit': a.unit} if isinstance(a, AbsTime)
                     else a.decode('latin-1') for a in self.args],
            'family': self.family, 'keys': [k.decode('latin-1') for k in self.keys],
            'all_keys': self.all_keys, 'write': self.write,
            'ttl': list(self.ttl) if self.ttl else None,
            'undeclared': [k.decode('latin-1') for k in self.undeclared],
            'norm': self.norm, 'form': self.form, 'blind': self.blind,
        }

    @staticmethod
    def from_json(d):
        args = [AbsTime(a['abs'], a['unit']) if isinstance(a, dict) else a.encode('latin-1')
                for a in d['args']]
        return Cmd(args, d['family'], [k.encode('latin-1') for k in d['keys']], d['write'],
                   tuple(d['ttl']) if d['ttl'] else None,
                   [k.encode('latin-1') for k in d['undeclared']], d['norm'], d['all_keys'],
                   d['form'], d.get('blind', False))


class Step:
    """A pipeline on one connection. split: seed for the byte offsets at which the pipeline is
    cut into separate writes (0: one write)."""

    __slots__ = ('conn', 'cmds', 'split')

    def __init__(self, conn, cmds, split=0):
        self.conn = conn
        self.cmds = cmds
        self.split = split

    def to_json(self):
        return {'conn': self.conn, 'split': self.split, 'cmds': [c.to_json() for c in self.cmds]}

    @staticmethod
    def from_json(d):
        return Step(d['conn'], [Cmd.from_json(c) for c in d['cmds']], d['split'])


class Program:
    def __init__(self, steps, nconns, seed=None, resp3=False):
        self.steps = steps
        self.nconns = nconns
        self.seed = seed
        self.resp3 = resp3

    def command_count(self):
        return sum(len(s.cmds) for s in self.steps)

    def save(self, path):
        with open(path, 'w') as f:
            json.dump({'seed': self.seed, 'nconns': self.nconns, 'resp3': self.resp3,
                       'steps': [s.to_json() for s in self.steps]}, f, indent=1)

    @staticmethod
    def load(path):
        with open(path) as f:
            d = json.load(f)
        return Program([Step.from_json(s) for s in d['steps']], d['nconns'], d.get('seed'),
                       d.get('resp3', False))


def split_args(line):
    """Arguments of a redis-cli style line (Redis's sdssplitargs: "..." with \\xHH, \\n, \\r,
    \\t escapes, '...' literal)."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i] in ' \t':
            i += 1
        if i >= n:
            return args
        cur = bytearray()
        if line[i] in '"\'':
            q = line[i]
            i += 1
            while i < n and line[i] != q:
                c = line[i]
                if c == '\\' and q == '"' and i + 1 < n:
                    e = line[i + 1]
                    if e == 'x' and i + 3 < n:
                        cur.append(int(line[i + 2:i + 4], 16))
                        i += 4
                        continue
                    cur += {'n': b'\n', 'r': b'\r', 't': b'\t', 'a': b'\a', 'b': b'\b'}.get(
                        e, e.encode('latin-1'))
                    i += 2
                    continue
                cur += c.encode('latin-1')
                i += 1
            i += 1
        else:
            while i < n and line[i] not in ' \t':
                cur += line[i].encode('latin-1')
                i += 1
        args.append(bytes(cur))


def load_script(path, nconns=3):
    """A program written by hand as a transcript: `cN> COMMAND args` lines (`cN inline> ...`,
    `cN quoted> ...` or `cN lf> ...` for the inline forms); consecutive lines of one connection
    form a pipeline, a blank line or another connection ends it; `#` comments. Keys are not
    declared, so expiry races are not detected: use no tiny TTLs here."""
    steps, cur = [], None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip('\n')
            if not line.strip() or line.lstrip().startswith('#'):
                cur = None
                continue
            head, _, rest = line.partition('>')
            words = head.split()
            conn = int(words[0].lstrip('c'))
            args = split_args(rest.strip())
            cmd = Cmd(args, keys=[a for a in args[1:2]], write=True,
                      form=words[1] if len(words) > 1 else 'mb')
            if cur is None or cur.conn != conn:
                cur = Step(conn, [], 0)
                steps.append(cur)
            cur.cmds.append(cmd)
    return Program(steps, max(nconns, 1 + max((s.conn for s in steps), default=0)), None)
