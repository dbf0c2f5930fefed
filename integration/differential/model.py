"""What a Redis 7.0 client connection's state is, so that the runner knows how many replies each
request produces and which connections a PUBLISH reaches.

The state changes only when the reference server's reply confirms the change (+OK to SELECT, the
subscribe replies, the elements of EXEC's array, +RESET), which is how Redis itself behaves
(server.c processCommand, multi.c, pubsub.c, networking.c). The proxy side is read with the counts
the reference produced, so the model never trusts the system under test.
"""

from fnmatch import fnmatchcase

import resp

# Commands that run at once inside MULTI instead of being queued (server.c processCommand).
_NOT_QUEUED = {b'EXEC', b'DISCARD', b'MULTI', b'WATCH', b'QUIT', b'RESET'}
# Commands a RESP2 connection in subscribe mode may run (server.c processCommand).
_PUBSUB_ALLOWED = {b'PING', b'SUBSCRIBE', b'SSUBSCRIBE', b'UNSUBSCRIBE', b'SUNSUBSCRIBE',
                   b'PSUBSCRIBE', b'PUNSUBSCRIBE', b'QUIT', b'RESET'}
_SUBSCRIBE_KIND = {b'SUBSCRIBE': 'channels', b'UNSUBSCRIBE': 'channels',
                   b'PSUBSCRIBE': 'patterns', b'PUNSUBSCRIBE': 'patterns',
                   b'SSUBSCRIBE': 'shards', b'SUNSUBSCRIBE': 'shards'}
_REPLY_KIND = {b'subscribe': ('channels', True), b'unsubscribe': ('channels', False),
               b'psubscribe': ('patterns', True), b'punsubscribe': ('patterns', False),
               b'ssubscribe': ('shards', True), b'sunsubscribe': ('shards', False)}


def name_of(cmd_args):
    return cmd_args[0].upper() if cmd_args else b''


def sub_of(cmd_args):
    return cmd_args[1].upper() if len(cmd_args) > 1 else b''


class ConnState:
    def __init__(self):
        self.reset()
        self.closed = False
        # CLIENT REPLY flags exactly as Redis keeps them (networking.c): OFF silences until ON;
        # SKIP silences the command being processed; SKIP_NEXT becomes SKIP at the next command.
        self.off = self.skip = self.skip_next = False

    def reset(self):
        self.db = 0
        self.multi = False
        self.queued = []       # commands answered +QUEUED, applied when EXEC succeeds
        self.watching = set()  # key names (any db): part of what EXEC touches
        self.channels = set()
        self.patterns = set()
        self.shards = set()
        self.monitor = False
        self.proto = 2

    def subscribed(self):
        return bool(self.channels or self.patterns or self.shards)

    def pubsub_restricted(self):
        return self.proto == 2 and self.subscribed()

    def silenced(self):
        return self.off or self.skip

    def describe(self):
        parts = ['db=%d' % self.db]
        if self.multi:
            parts.append('multi(%d queued)' % len(self.queued))
        if self.subscribed():
            parts.append('sub=%d/%d/%d' % (len(self.channels), len(self.patterns),
                                           len(self.shards)))
        if self.monitor:
            parts.append('monitor')
        if self.off:
            parts.append('reply=off')
        if self.skip:
            parts.append('reply=skip')
        if self.proto != 2:
            parts.append('resp3')
        return ' '.join(parts)


def receivers(states, args):
    """{conn index: messages} a PUBLISH/SPUBLISH with these args delivers (pubsub.c)."""
    name = name_of(args)
    if len(args) != 3:
        return {}
    channel = args[1]
    out = {}
    for i, st in enumerate(states):
        if st.closed:
            continue
        if name == b'SPUBLISH':
            n = 1 if channel in st.shards else 0
        else:
            n = (1 if channel in st.channels else 0) + sum(
                1 for p in st.patterns
                if fnmatchcase(channel.decode('latin-1'), p.decode('latin-1')))
        if n:
            out[i] = n
    return out


def _is_client_reply(args):
    return len(args) == 3 and name_of(args) == b'CLIENT' and sub_of(args) == b'REPLY'


class ClientModel:
    """The states of all of a program's connections on the reference side."""

    def __init__(self, nconns):
        self.states = [ConnState() for _ in range(nconns)]
        self.last_exec = []  # (args, tag) of the commands the last EXEC ran or dropped

    def expected(self, conn, args):
        """How many items the reference sends for this request on conn, counting messages a
        PUBLISH delivers to conn itself (RESP3), and not counting MONITOR lines."""
        st = self.states[conn]
        if st.closed or not args:  # after QUIT nothing runs; an empty line gets no reply
            return 0
        name = name_of(args)
        quiet = 0 if st.silenced() else 1
        if st.multi and name not in _NOT_QUEUED:
            return quiet  # +QUEUED or an error
        if st.pubsub_restricted() and name not in _PUBSUB_ALLOWED:
            return quiet  # "Can't execute ..."
        kind = _SUBSCRIBE_KIND.get(name)
        if kind:
            # Subscribe confirmations are pushed even under CLIENT REPLY OFF (CLIENT_PUSHING).
            if len(args) > 1:
                return len(args) - 1
            if name[:2] == b'UN' or name[1:3] == b'UN':
                return max(1, len(getattr(st, kind)))
            return quiet  # arity error
        if _is_client_reply(args):
            mode = args[2].upper()
            if mode == b'ON':
                return 1  # the flags are cleared before +OK is added
            if mode in (b'OFF', b'SKIP'):
                return 0
        if name == b'RESET':
            return 0 if st.skip else 1  # RESET clears OFF but not an active SKIP
        if name == b'MONITOR' and len(args) == 1 and st.monitor:
            return 0  # "ignore MONITOR if already slave or in monitor mode", without a reply
        own = 0
        if name in (b'PUBLISH', b'SPUBLISH') and not st.monitor:
            # (a monitoring connection is a replica to Redis: "Replica can't interact with the
            # keyspace" refuses PUBLISH, a may-replicate command)
            own = receivers(self.states, args).get(conn, 0)  # pushed, never silenced
        return own + quiet

    def apply(self, conn, args, items, tag=None):
        """Update conn's state from the reference's items for this request. Returns the
        {conn: messages} deliveries to other connections that a PUBLISH (or an EXEC running
        PUBLISH) caused."""
        st = self.states[conn]
        deliveries = {}
        if args and not st.closed:
            name = name_of(args)
            if st.multi and name not in _NOT_QUEUED:
                if items == [b'+QUEUED\r\n'] or (not items and st.silenced()):
                    st.queued.append((args, tag))
            elif not (st.pubsub_restricted() and name not in _PUBSUB_ALLOWED):
                deliveries = self._effect(conn, args, items)
        # resetClient(): SKIP lasts one command, SKIP_NEXT turns into SKIP.
        st.skip, st.skip_next = st.skip_next, False
        return deliveries

    def _effect(self, conn, args, items):
        st = self.states[conn]
        name = name_of(args)
        reply = items[-1] if items else None  # None: silenced by CLIENT REPLY
        deliveries = {}
        if name in (b'PUBLISH', b'SPUBLISH'):
            if reply is None or reply[:1] == b':':
                deliveries = receivers(self.states, args)
                deliveries.pop(conn, None)  # counted in expected() already
        elif name == b'SELECT':
            if reply == b'+OK\r\n':
                st.db = int(args[1])
        elif name == b'MULTI':
            if reply == b'+OK\r\n':
                st.multi, st.queued = True, []
        elif name == b'EXEC':
            deliveries = self._exec(conn, reply)
        elif name == b'DISCARD':
            if reply == b'+OK\r\n':
                st.multi, st.queued, st.watching = False, [], set()
        elif name == b'WATCH':
            if reply == b'+OK\r\n':
                st.watching.update(args[1:])
        elif name == b'UNWATCH':
            if reply == b'+OK\r\n':
                st.watching = set()
        elif name in _SUBSCRIBE_KIND:
            for it in items:
                self._subscription(st, it)
        elif name == b'MONITOR':
            if reply == b'+OK\r\n':
                st.monitor = True
        elif name == b'RESET':
            if reply in (b'+RESET\r\n', None):
                st.reset()
                st.off = st.skip_next = False
        elif name == b'QUIT':
            st.closed = True
        elif name == b'HELLO':
            if reply is not None and reply[:1] in (b'*', b'%') and len(args) > 1:
                st.proto = int(args[1])
        elif _is_client_reply(args):
            mode = args[2].upper()
            if mode == b'ON':
                st.off = st.skip = False
            elif mode == b'OFF':
                st.off = True
            elif mode == b'SKIP' and not st.off:
                st.skip_next = True
        return deliveries

    def _exec(self, conn, reply):
        st = self.states[conn]
        deliveries = {}
        if not st.multi:
            return deliveries
        queued = st.queued
        self.last_exec = queued
        st.multi, st.queued, st.watching = False, [], set()
        if reply is not None and reply[:1] == b'*' and reply != b'*-1\r\n':
            elements = resp.decode(reply)[1]
            if len(elements) != len(queued):
                raise ValueError('EXEC answered %d elements for %d queued commands' %
                                 (len(elements), len(queued)))
            for (qargs, _), el in zip(queued, elements):
                for k, v in self._effect(conn, qargs, [resp.encode(el)]).items():
                    deliveries[k] = deliveries.get(k, 0) + v
        return deliveries

    def _subscription(self, st, raw):
        try:
            t, x = resp.decode(raw)
        except Exception:
            return
        if t not in '*>' or not x or len(x) != 3 or x[0][0] != '$':
            return
        kind = _REPLY_KIND.get(x[0][1])
        if not kind or x[1][0] != '$' or x[1][1] is None:
            return
        attr, add = kind
        names = getattr(st, attr)
        if add:
            names.add(x[1][1])
        else:
            names.discard(x[1][1])

    def reconnect(self, conn):
        self.states[conn] = ConnState()
