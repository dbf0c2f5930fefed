"""Seeded generator of differential programs: every deterministic command family over a small
key space (so that commands collide), several databases and connections, connection-state
commands in and out of MULTI, subscribe mode, MONITOR and CLIENT REPLY, pipelines of 1-500
requests in multibulk and inline forms.

The generator keeps its own rough idea of each connection's state only to pick sensible next
commands; the runner's model (model.py) tracks the real state from the reference's replies.
The one thing the generator must get right is to stay away from combinations Redis itself cannot
answer in a framed way (CLIENT REPLY or HELLO inside MULTI, multi-channel SUBSCRIBE inside
MULTI, PUBLISH to oneself inside MULTI in RESP3).
"""

import random

from families import ALL_KEYS, DATABASES, Families, setup_commands  # noqa: F401
from program import Cmd, Program, Step
import resp

_SUB_KIND = {b'SUBSCRIBE': 'channels', b'PSUBSCRIBE': 'patterns', b'SSUBSCRIBE': 'shards',
             b'UNSUBSCRIBE': 'channels', b'PUNSUBSCRIBE': 'patterns', b'SUNSUBSCRIBE': 'shards'}


class GenState:
    """The generator's guess of one connection's state (see the module comment)."""

    def __init__(self):
        self.multi = False
        self.multi_len = 0
        self.multi_subscribed = False
        self.multi_subs = []   # (kind, names) subscribed inside the open MULTI
        self.subs = {'channels': set(), 'patterns': set(), 'shards': set()}
        self.monitor = 0       # steps spent in MONITOR
        self.reply = 'on'      # on | off | skip
        self.proto = 2
        self.in_state = 0      # commands since entering subscribe mode or CLIENT REPLY OFF

    def subscribed(self):
        return any(self.subs.values())


class Generator(Families):
    def __init__(self, seed, nconns=3, resp3=False, exclude=(), forms=('mb', 'inline', 'quoted',
                                                                       'lf')):
        self.rng = random.Random(seed)
        self.seed = seed
        self.nconns = nconns
        self.resp3 = resp3
        self.exclude = set(exclude)
        self.forms = set(forms)
        self.counter = 0
        self.states = [GenState() for _ in range(nconns)]


    # -- per-state command choice ----------------------------------------------------------
    def next_cmd(self, st):
        if st.reply != 'on':
            return self.reply_mode_cmd(st)
        if st.multi:
            return self.multi_cmd(st)
        if st.subscribed() and st.proto == 2:
            return self.subscribed_cmd(st)
        if st.monitor and self.chance(0.05):
            return Cmd([self.pick([b'RESET', b'RESET', b'QUIT'])])
        if st.subscribed() and self.chance(0.15):  # RESP3: anything goes, but leave sometimes
            return self.unsubscribe_cmd()
        if self.chance(0.22):
            cmd = self.state_cmd(st)
            if st.monitor and cmd.args[0] == b'MULTI':
                # A monitoring connection's own MONITOR lines would land inside EXEC's array,
                # which no client can frame.
                return Cmd([b'PING'])
            return cmd
        return self.data_cmd()

    def reply_mode_cmd(self, st):
        st.in_state += 1
        r = self.rng.random()
        if r < 0.12 or st.in_state > 12:
            return Cmd([b'CLIENT', b'REPLY', b'ON'], 'CLIENT REPLY')
        if r < 0.16:
            return Cmd([b'CLIENT', b'REPLY', self.pick([b'OFF', b'SKIP'])], 'CLIENT REPLY')
        if r < 0.18:
            return Cmd([b'RESET'])
        if r < 0.25:  # (no QUIT: under CLIENT REPLY OFF Redis never closes the connection)
            return Cmd([b'PING'])
        while True:  # plain data commands only: their success changes no connection state
            cmd = self.data_cmd()
            if cmd.family not in ('FLUSHALL',):
                return cmd

    def multi_cmd(self, st):
        r = self.rng.random()
        if st.multi_len >= 1 and r < 0.22:
            return Cmd([b'EXEC'])
        if st.multi_len >= 1 and r < 0.28:
            return Cmd([b'DISCARD'])
        if r < 0.29:
            return Cmd([b'RESET'])
        if r < 0.30:
            return Cmd([self.pick([b'WATCH', b'MULTI'])] + ([b'k1'] if self.chance(0.5) else []))
        if r < 0.32:
            return self.error_cmd()
        if r < 0.38:
            d = self.rng.randint(0, DATABASES - 1) if self.chance(0.9) else 16
            return Cmd([b'SELECT', str(d).encode()])
        if r < 0.40:
            st.multi_subscribed = True
            return self.subscribe_cmd(st, in_multi=True)
        if r < 0.43 and not self.resp3 and not st.multi_subscribed:
            # (after a SUBSCRIBE in the same transaction the message to itself would land
            # inside EXEC's array, which no client can frame)
            return self.publish_cmd()
        if r < 0.45:
            return self.client_cmd()
        if r < 0.46:
            return Cmd([b'PING'])
        return self.data_cmd()

    def subscribed_cmd(self, st):
        st.in_state += 1
        r = self.rng.random()
        leave = min(0.5, 0.04 * st.in_state)
        if r < leave * 0.5:
            return self.unsubscribe_all(st)
        if r < leave * 0.6:
            return Cmd([self.pick([b'RESET', b'QUIT'])])
        if r < 0.45:
            return self.subscribe_cmd(st, in_multi=False)
        if r < 0.70:
            return self.unsubscribe_cmd()
        if r < 0.85:
            return Cmd([b'PING'] + ([self.value()] if self.chance(0.5) else []))
        # Not allowed in this context. (No MULTI here: should this guess of the state be wrong,
        # a MULTI that succeeds would be followed by multi-channel SUBSCRIBEs inside it.)
        return self.pick([self.data_cmd(), Cmd([b'SELECT', b'1']),
                          Cmd([b'PUBLISH', b'ch1', b'x'])])

    def unsubscribe_all(self, st):
        for kind, name in (('channels', b'UNSUBSCRIBE'), ('patterns', b'PUNSUBSCRIBE'),
                           ('shards', b'SUNSUBSCRIBE')):
            if st.subs[kind]:
                return Cmd([name])
        return Cmd([b'UNSUBSCRIBE'])

    def track(self, st, cmd):
        """Update the generator's guess after emitting cmd."""
        name = cmd.args[0].upper() if cmd.args else b''
        if st.reply == 'skip':  # silences exactly one command (CLIENT REPLY below may renew it)
            st.reply = 'on'
        if name == b'QUIT' or name == b'RESET':
            st.__init__()
            return
        if st.multi:
            if name == b'EXEC':
                for kind, names in st.multi_subs:  # subscriptions take effect at EXEC
                    st.subs[kind].update(names)
            if name in (b'EXEC', b'DISCARD'):
                st.multi, st.multi_len, st.multi_subs = False, 0, []
            else:
                st.multi_len += 1
                if name in _SUB_KIND and not name.endswith(b'UNSUBSCRIBE'):
                    st.multi_subs.append((_SUB_KIND[name], cmd.args[1:]))
            return
        if name == b'MULTI' and not (st.subscribed() and st.proto == 2):
            st.multi, st.multi_len, st.multi_subscribed, st.multi_subs = True, 0, False, []
        elif name in (b'SUBSCRIBE', b'PSUBSCRIBE', b'SSUBSCRIBE'):
            kind = {b'SUBSCRIBE': 'channels', b'PSUBSCRIBE': 'patterns',
                    b'SSUBSCRIBE': 'shards'}[name]
            if st.proto == 3 or not st.subscribed():
                st.in_state = 0
            st.subs[kind].update(cmd.args[1:])
        elif name in (b'UNSUBSCRIBE', b'PUNSUBSCRIBE', b'SUNSUBSCRIBE'):
            kind = {b'UNSUBSCRIBE': 'channels', b'PUNSUBSCRIBE': 'patterns',
                    b'SUNSUBSCRIBE': 'shards'}[name]
            if len(cmd.args) == 1:
                st.subs[kind].clear()
            else:
                st.subs[kind].difference_update(cmd.args[1:])
        elif name == b'MONITOR':
            st.monitor = 1
        elif name == b'CLIENT' and cmd.family == 'CLIENT REPLY':
            mode = cmd.args[2].upper()
            if mode == b'ON':
                st.reply = 'on'
            elif mode == b'OFF':
                st.reply, st.in_state = 'off', 0
            elif st.reply != 'off':
                st.reply, st.in_state = 'skip', 0
        elif name == b'HELLO' and len(cmd.args) > 1 and cmd.args[1] in (b'2', b'3'):
            st.proto = int(cmd.args[1])

    # -- forms and pipelines ---------------------------------------------------------------
    def choose_form(self, cmd):
        if not cmd.args:
            return self.pick(['inline', 'mb'])
        r = self.rng.random()
        plain = [a for a in cmd.args if not hasattr(a, 'resolve')]
        size = sum(len(a) for a in plain)
        if 'inline' in self.forms and r < 0.22 and resp.inline_bare_ok(plain) and size < 4000:
            return 'lf' if 'lf' in self.forms and self.chance(0.15) else 'inline'
        if 'quoted' in self.forms and r < 0.28 and size < 4000:
            return 'quoted'
        return 'mb'

    def depth(self):
        r = self.rng.random()
        if r < 0.45:
            return 1
        if r < 0.75:
            return self.rng.randint(2, 8)
        if r < 0.94:
            return self.rng.randint(9, 60)
        return self.rng.randint(61, 500)

    def step(self):
        conn = self.rng.choices(range(self.nconns), weights=[6, 2, 1, 1][:self.nconns])[0]
        st = self.states[conn]
        if st.monitor:
            st.monitor += 1
            if st.monitor > 4:  # don't let a monitor stream grow for the whole run
                cmd = Cmd([b'RESET'])
                cmd.form = 'mb'
                self.track(st, cmd)
                return Step(conn, [cmd], 0)
        if self.chance(0.003):
            return self.big_value_burst(conn)
        cmds = []
        silent_tail = False
        for _ in range(self.depth()):
            if self.chance(0.004):
                cmd = Cmd([], 'EMPTY')
            else:
                cmd = self.next_cmd(st)
            if cmd.family in self.exclude:
                continue
            cmd.form = self.choose_form(cmd)
            silent_tail = st.reply != 'on' or cmd.family == 'CLIENT REPLY'
            self.track(st, cmd)
            cmds.append(cmd)
            if cmd.args and cmd.args[0].upper() == b'QUIT':
                silent_tail = False
                break
        if silent_tail:
            # Requests without a reply give no sign of having run: before another connection
            # acts, something on this one must answer (CLIENT REPLY ON always does).
            cmd = Cmd([b'CLIENT', b'REPLY', b'ON'], 'CLIENT REPLY')
            self.track(st, cmd)
            cmds.append(cmd)
        if not cmds:
            cmds = [Cmd([b'PING'])]
        split = self.rng.getrandbits(31) if self.chance(0.5) else 0
        return Step(conn, cmds, split)

    def big_value_burst(self, conn):
        """A value over 64 KB read back many times in one pipeline: L1 hits queued behind each
        other exercise the proxy's output-buffer pausing (connection-state issue, item 6)."""
        size = self.rng.randint(64 * 1024, 140 * 1024)
        value = (b'B%d-' % self.counter) * (size // 8)
        cmds = [Cmd([b'SET', b'big', value], keys=[b'big'], write=True)]
        for _ in range(self.rng.randint(33, 120)):
            cmds.append(Cmd([b'GET', b'big'], keys=[b'big']))
        return Step(conn, cmds, self.rng.getrandbits(31))

    def program(self, commands):
        steps = [Step(0, setup_commands(), 0)]
        total = 0
        while total < commands:
            s = self.step()
            steps.append(s)
            total += len(s.cmds)
        return Program(steps, self.nconns, self.seed, self.resp3)


def generate(seed, commands, nconns=3, resp3=False, exclude=(), forms=None):
    kw = {'forms': forms} if forms else {}
    return Generator(seed, nconns, resp3, exclude, **kw).program(commands)
