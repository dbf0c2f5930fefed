"""The command families of the differential generator: one builder per family, each
returning a Cmd with the metadata the runner needs (keys touched, write, TTL, undeclared keys,
normalisation). Random choices come from self.rng (the Generator's seeded Random)."""

import hashlib

from program import AbsTime, Cmd

STR_KEYS = [b'k1', b'k2', b'k3']
NUM_KEYS = [b'n1', b'n2']
HASH_KEYS = [b'h1', b'h2']
LIST_KEYS = [b'l1', b'l2']
SET_KEYS = [b's1', b's2']
ZSET_KEYS = [b'z1', b'z2']
GEO_KEYS = [b'g1']
ODD_KEYS = [b'', b'b\x00in\r\n\xff k', b'big']
ALL_KEYS = STR_KEYS + NUM_KEYS + HASH_KEYS + LIST_KEYS + SET_KEYS + ZSET_KEYS + GEO_KEYS + \
    ODD_KEYS
FIELDS = [b'f1', b'f2', b'f3', b'']
MEMBERS = [b'm1', b'm2', b'm3', b'm4', b'1', b'2']
CHANNELS = [b'ch1', b'ch2', b'c3']
PATTERNS = [b'ch*', b'c?', b'ch[12]']
SHARD_CHANNELS = [b'sh1', b'sh2']
DATABASES = 4  # SELECT/MOVE/SWAPDB use 0..3; out-of-range numbers test the errors

SCRIPTS = {
    'set': b"return redis.call('SET', KEYS[1], ARGV[1])",
    'undeclared': b"redis.call('SET', ARGV[1], ARGV[2]); return redis.call('GET', ARGV[1])",
    'incrby': b"return redis.call('INCRBY', KEYS[1], ARGV[1])",
    'del_undeclared': b"return redis.call('DEL', ARGV[1])",
    'pexpire': b"return redis.call('PEXPIRE', KEYS[1], ARGV[1])",
    'read': b"return {redis.call('GET', KEYS[1]), redis.call('EXISTS', KEYS[1])}",
    'mixed': b"redis.call('RPUSH', KEYS[1], ARGV[1]); redis.call('HSET', ARGV[2], 'f', ARGV[1]);"
             b" return redis.call('LLEN', KEYS[1])",
    'error': b"return redis.error_reply('ERR difftest script error')",
}
SHAS = {name: hashlib.sha1(body).hexdigest().encode() for name, body in SCRIPTS.items()}
FUNCTION_LIBRARY = b"""#!lua name=dtlib
local function fset(keys, args) return redis.call('SET', keys[1], args[1]) end
local function fundecl(keys, args) redis.call('SET', args[1], args[2]) return redis.call('GET', args[1]) end
local function fget(keys, args) return redis.call('GET', keys[1]) end
redis.register_function('dt_set', fset)
redis.register_function('dt_undecl', fundecl)
redis.register_function{function_name='dt_get', callback=fget, flags={'no-writes'}}
"""


def setup_commands():
    """Loaded at the start of every program, through the program's first connection."""
    cmds = [Cmd([b'FUNCTION', b'LOAD', b'REPLACE', FUNCTION_LIBRARY], 'FUNCTION')]
    for name in sorted(SCRIPTS):
        cmds.append(Cmd([b'SCRIPT', b'LOAD', SCRIPTS[name]], 'SCRIPT'))
    return cmds


class Families:
    """Builders of requests, mixed into Generator."""

    # -- small helpers ---------------------------------------------------------------------
    def chance(self, p):
        return self.rng.random() < p

    def pick(self, seq):
        return self.rng.choice(seq)

    def key(self, pool):
        return self.pick(pool) if self.chance(0.82) else self.pick(ALL_KEYS)

    def keys(self, pool, lo=1, hi=4):
        return [self.key(pool) for _ in range(self.rng.randint(lo, hi))]

    def num(self, lo=-5, hi=10):
        return str(self.rng.randint(lo, hi)).encode()

    def value(self):
        r = self.rng.random()
        self.counter += 1
        if r < 0.40:
            return b'v%d' % self.counter
        if r < 0.55:
            return self.num(-100, 1000)
        if r < 0.60:
            return b'%d.%d' % (self.rng.randint(-9, 99), self.rng.randint(0, 99))
        if r < 0.68:
            return bytes(self.rng.choice(b'ab\r\n\x00\xff "\\') for _ in
                         range(self.rng.randint(1, 12)))
        if r < 0.73:
            return b''
        if r < 0.76:
            return b'a b c %d' % self.counter
        if r < 0.80:
            return (b'x%d-' % self.counter) * self.rng.randint(20, 400)
        return b'w%d' % self.rng.randint(0, 20)

    def small_ttl_ms(self):
        r = self.rng.random()
        if r < 0.2:
            return self.rng.randint(1, 300)  # expires within the run: the interesting case
        if r < 0.55:
            return self.rng.randint(300, 3000)
        if r < 0.65:
            return self.rng.randint(-5, 0)  # zero or negative: deleted at once
        return self.rng.randint(60000, 600000)

    # -- command families ------------------------------------------------------------------
    def string_read(self):
        k = self.key(STR_KEYS + NUM_KEYS)
        r = self.rng.random()
        if r < 0.40:
            return Cmd([b'GET', k], keys=[k])
        if r < 0.55:
            ks = self.keys(STR_KEYS + NUM_KEYS + [b'missing'], 1, 6)
            if self.chance(0.5):
                ks.append(ks[0])  # repeated key
            return Cmd([b'MGET'] + ks, keys=ks)
        if r < 0.62:
            return Cmd([b'STRLEN', k], keys=[k])
        if r < 0.70:
            return Cmd([b'GETRANGE', k, self.num(-5, 5), self.num(-5, 20)], keys=[k])
        if r < 0.78:
            ks = self.keys(ALL_KEYS, 1, 4)
            return Cmd([b'EXISTS'] + ks, keys=ks)
        if r < 0.86:
            k = self.pick(ALL_KEYS)
            return Cmd([b'TYPE', k], keys=[k])
        if r < 0.90:
            return Cmd([b'GETBIT', k, self.num(0, 40)], keys=[k])
        if r < 0.93:
            return Cmd([b'BITCOUNT', k], keys=[k])
        if r < 0.96:
            k2 = self.key(STR_KEYS)
            return Cmd([b'LCS', k, k2], keys=[k, k2])
        cmd = self.pick([b'TTL', b'PTTL', b'EXPIRETIME', b'PEXPIRETIME'])
        k = self.pick(ALL_KEYS)
        return Cmd([cmd, k], keys=[k], norm='ttl')

    def string_write(self):
        k = self.key(STR_KEYS + NUM_KEYS + ODD_KEYS)
        r = self.rng.random()
        if r < 0.30:
            return self.set_command(k)
        if r < 0.38:
            return self.getex(k)
        if r < 0.42:
            return Cmd([b'GETDEL', k], keys=[k], write=True, blind=True)
        if r < 0.45:
            return Cmd([b'GETSET', k, self.value()], keys=[k], write=True, blind=True)
        if r < 0.47:
            return Cmd([b'SETNX', k, self.value()], keys=[k], write=True)
        if r < 0.49:
            secs = self.rng.randint(1, 3)
            return Cmd([b'SETEX', k, str(secs).encode(), self.value()], keys=[k], write=True,
                       ttl=('rel', secs * 1000), blind=True)
        if r < 0.51:
            ms = self.rng.randint(1, 400)
            return Cmd([b'PSETEX', k, str(ms).encode(), self.value()], keys=[k], write=True,
                       ttl=('rel', ms), blind=True)
        if r < 0.58:
            ks = self.keys(STR_KEYS + NUM_KEYS + ODD_KEYS, 1, 4)
            cmd = b'MSETNX' if self.chance(0.3) else b'MSET'
            args = [cmd]
            for x in ks:
                args += [x, self.value()]
            return Cmd(args, keys=ks, write=True, blind=cmd == b'MSET')
        if r < 0.72:
            k = self.key(NUM_KEYS)
            op = self.pick([b'INCR', b'DECR', b'INCRBY', b'DECRBY', b'INCRBYFLOAT'])
            args = [op, k]
            if op in (b'INCRBY', b'DECRBY'):
                args.append(self.num(-1000, 1000))
            elif op == b'INCRBYFLOAT':
                args.append(b'%d.5' % self.rng.randint(-10, 10))
            return Cmd(args, keys=[k], write=True)
        if r < 0.80:
            return Cmd([b'APPEND', k, self.value()], keys=[k], write=True)
        if r < 0.87:
            return Cmd([b'SETRANGE', k, self.num(0, 30), self.value()], keys=[k], write=True)
        if r < 0.90:
            return Cmd([b'SETBIT', k, self.num(0, 40), self.pick([b'0', b'1'])], keys=[k],
                       write=True)
        ks = self.keys(ALL_KEYS, 1, 3)
        return Cmd([self.pick([b'DEL', b'UNLINK'])] + ks, keys=ks, write=True, blind=True)

    def set_command(self, k):
        args = [b'SET', k, self.value()]
        ttl = None
        r = self.rng.random()
        if r < 0.15:
            secs = self.rng.randint(1, 2)
            args += [b'EX', str(secs).encode()]
            ttl = ('rel', secs * 1000)
        elif r < 0.35:
            ms = self.small_ttl_ms()
            if ms <= 0:
                ms = 1
            args += [b'PX', str(ms).encode()]
            ttl = ('rel', ms)
        elif r < 0.40:
            args += [b'EXAT', AbsTime(self.rng.randint(1, 3) * 1000, 's')]
            ttl = ('abs',)
        elif r < 0.45:
            args += [b'PXAT', AbsTime(self.rng.randint(1, 500), 'ms')]
            ttl = ('abs',)
        elif r < 0.52:
            args.append(b'KEEPTTL')
        if self.chance(0.2):
            args.append(self.pick([b'NX', b'XX']))
        if self.chance(0.15):
            args.append(b'GET')
        blind = not any(a in (b'NX', b'XX', b'KEEPTTL') for a in args[3:])
        return Cmd(args, keys=[k], write=True, ttl=ttl, blind=blind)

    def getex(self, k):
        r = self.rng.random()
        if r < 0.3:
            ms = self.small_ttl_ms()
            return Cmd([b'GETEX', k, b'PX', str(max(ms, 1)).encode()], keys=[k], write=True,
                       ttl=('rel', max(ms, 1)))
        if r < 0.45:
            return Cmd([b'GETEX', k, b'EX', b'1'], keys=[k], write=True, ttl=('rel', 1000))
        if r < 0.6:
            return Cmd([b'GETEX', k, b'PXAT', AbsTime(self.rng.randint(1, 400), 'ms')],
                       keys=[k], write=True, ttl=('abs',))
        if r < 0.75:
            return Cmd([b'GETEX', k, b'PERSIST'], keys=[k], write=True)
        return Cmd([b'GETEX', k], keys=[k], write=True)

    def expire(self):
        k = self.pick(ALL_KEYS)
        r = self.rng.random()
        if r < 0.35:
            ms = self.small_ttl_ms()
            args = [b'PEXPIRE', k, str(ms).encode()]
            ttl = ('rel', ms)
        elif r < 0.55:
            secs = self.rng.randint(-1, 2)
            args = [b'EXPIRE', k, str(secs).encode()]
            ttl = ('rel', secs * 1000)
        elif r < 0.70:
            args = [b'PEXPIREAT', k, AbsTime(self.rng.randint(-100, 500), 'ms')]
            ttl = ('abs',)
        elif r < 0.80:
            args = [b'EXPIREAT', k, AbsTime(self.rng.randint(0, 3) * 1000, 's')]
            ttl = ('abs',)
        else:
            return Cmd([b'PERSIST', k], keys=[k], write=True)
        if self.chance(0.25):
            args.append(self.pick([b'NX', b'XX', b'GT', b'LT']))
        return Cmd(args, keys=[k], write=True, ttl=ttl)

    def keyspace(self):
        a, b = self.pick(ALL_KEYS), self.pick(ALL_KEYS)
        r = self.rng.random()
        if r < 0.3:
            return Cmd([self.pick([b'RENAME', b'RENAMENX']), a, b], keys=[a, b], write=True)
        if r < 0.6:
            args = [b'COPY', a, b]
            if self.chance(0.3):
                args += [b'DB', self.num(0, DATABASES - 1)]
            if self.chance(0.4):
                args.append(b'REPLACE')
            return Cmd(args, keys=[a, b], write=True)
        if r < 0.85:
            return Cmd([b'MOVE', a, self.num(0, DATABASES)], keys=[a], write=True)
        if r < 0.93:
            return Cmd([b'DBSIZE'], all_keys=True)
        return Cmd([b'KEYS', b'*'], all_keys=True, norm='sort')

    def hash_cmd(self):
        h = self.key(HASH_KEYS)
        f = self.pick(FIELDS)
        r = self.rng.random()
        if r < 0.15:
            return Cmd([b'HGET', h, f], keys=[h])
        if r < 0.25:
            fs = [self.pick(FIELDS) for _ in range(self.rng.randint(1, 4))] + [b'nofield', f]
            return Cmd([b'HMGET', h] + fs, keys=[h])
        if r < 0.33:
            return Cmd([b'HGETALL', h], keys=[h], norm='pairs')
        if r < 0.38:
            return Cmd([b'HEXISTS', h, f], keys=[h])
        if r < 0.43:
            return Cmd([b'HLEN', h], keys=[h])
        if r < 0.46:
            return Cmd([self.pick([b'HKEYS', b'HVALS']), h], keys=[h], norm='sort')
        if r < 0.66:
            args = [b'HSET', h]
            for _ in range(self.rng.randint(1, 3)):
                args += [self.pick(FIELDS), self.value()]
            return Cmd(args, keys=[h], write=True)
        if r < 0.71:
            return Cmd([b'HSETNX', h, f, self.value()], keys=[h], write=True)
        if r < 0.79:
            return Cmd([b'HDEL', h, f, self.pick(FIELDS)], keys=[h], write=True)
        if r < 0.92:
            return Cmd([b'HINCRBY', h, f, self.num(-50, 50)], keys=[h], write=True)
        return Cmd([b'HINCRBYFLOAT', h, f, b'%d.25' % self.rng.randint(-5, 5)], keys=[h],
                   write=True)

    def list_cmd(self):
        lk = self.key(LIST_KEYS)
        r = self.rng.random()
        if r < 0.14:
            return Cmd([b'LRANGE', lk, self.num(-6, 3), self.num(-3, 10)], keys=[lk])
        if r < 0.22:
            return Cmd([b'LLEN', lk], keys=[lk])
        if r < 0.28:
            return Cmd([b'LINDEX', lk, self.num(-4, 4)], keys=[lk])
        if r < 0.30:
            return Cmd([b'LPOS', lk, self.pick(MEMBERS)], keys=[lk])
        if r < 0.48:
            op = self.pick([b'LPUSH', b'RPUSH', b'LPUSHX', b'RPUSHX'])
            vals = [self.pick(MEMBERS) if self.chance(0.5) else self.value()
                    for _ in range(self.rng.randint(1, 4))]
            return Cmd([op, lk] + vals, keys=[lk], write=True)
        if r < 0.56:
            args = [self.pick([b'LPOP', b'RPOP']), lk]
            if self.chance(0.3):
                args.append(self.num(0, 3))
            return Cmd(args, keys=[lk], write=True)
        if r < 0.60:
            return Cmd([b'LSET', lk, self.num(-3, 3), self.value()], keys=[lk], write=True)
        if r < 0.63:
            return Cmd([b'LINSERT', lk, self.pick([b'BEFORE', b'AFTER']), self.pick(MEMBERS),
                        self.value()], keys=[lk], write=True)
        if r < 0.66:
            return Cmd([b'LREM', lk, self.num(-2, 2), self.pick(MEMBERS)], keys=[lk],
                       write=True)
        if r < 0.69:
            return Cmd([b'LTRIM', lk, self.num(-5, 2), self.num(-3, 8)], keys=[lk], write=True)
        other = self.key(LIST_KEYS)
        if r < 0.77:
            return Cmd([b'LMOVE', lk, other, self.pick([b'LEFT', b'RIGHT']),
                        self.pick([b'LEFT', b'RIGHT'])], keys=[lk, other], write=True)
        if r < 0.82:
            return Cmd([b'RPOPLPUSH', lk, other], keys=[lk, other], write=True)
        if r < 0.89:
            ks = self.keys(LIST_KEYS, 1, 3)
            args = [b'LMPOP', str(len(ks)).encode()] + ks + [self.pick([b'LEFT', b'RIGHT'])]
            if self.chance(0.5):
                args += [b'COUNT', self.num(1, 3)]
            return Cmd(args, keys=ks, write=True)
        if r < 0.95:
            args = [b'SORT', lk]
            if self.chance(0.6):
                args.append(b'ALPHA')
            if self.chance(0.3):
                args.append(b'DESC')
            if self.chance(0.3):
                args += [b'LIMIT', b'0', self.num(1, 3)]
            if self.chance(0.5):
                dest = self.key(LIST_KEYS)
                return Cmd(args + [b'STORE', dest], keys=[lk, dest], write=True,
                           undeclared=[dest])
            return Cmd(args, keys=[lk])
        op = self.pick([b'BLPOP', b'BRPOP', b'BLMOVE'])
        if op == b'BLMOVE':
            return Cmd([op, lk, other, b'LEFT', b'RIGHT', b'0.01'], keys=[lk, other],
                       write=True)
        return Cmd([op, lk, b'0.01'], keys=[lk], write=True)

    def set_cmd(self):
        sk = self.key(SET_KEYS)
        m = self.pick(MEMBERS)
        r = self.rng.random()
        if r < 0.14:
            return Cmd([b'SMEMBERS', sk], keys=[sk], norm='sort')
        if r < 0.22:
            return Cmd([b'SISMEMBER', sk, m], keys=[sk])
        if r < 0.28:
            return Cmd([b'SCARD', sk], keys=[sk])
        if r < 0.32:
            return Cmd([b'SMISMEMBER', sk, m, self.pick(MEMBERS)], keys=[sk])
        if r < 0.52:
            vals = [self.pick(MEMBERS) if self.chance(0.7) else self.value()
                    for _ in range(self.rng.randint(1, 4))]
            return Cmd([b'SADD', sk] + vals, keys=[sk], write=True)
        if r < 0.60:
            return Cmd([b'SREM', sk, m, self.pick(MEMBERS)], keys=[sk], write=True)
        other = self.key(SET_KEYS)
        if r < 0.65:
            return Cmd([b'SMOVE', sk, other, m], keys=[sk, other], write=True)
        ks = self.keys(SET_KEYS, 1, 3)
        if r < 0.78:
            return Cmd([self.pick([b'SINTER', b'SUNION', b'SDIFF'])] + ks, keys=ks, norm='sort')
        if r < 0.82:
            return Cmd([b'SINTERCARD', str(len(ks)).encode()] + ks, keys=ks)
        dest = self.key(SET_KEYS)
        return Cmd([self.pick([b'SINTERSTORE', b'SUNIONSTORE', b'SDIFFSTORE']), dest] + ks,
                   keys=[dest] + ks, write=True)

    def zset_cmd(self):
        z = self.key(ZSET_KEYS)
        m = self.pick(MEMBERS)
        r = self.rng.random()
        if r < 0.12:
            args = [b'ZRANGE', z, self.num(-3, 1), self.num(-1, 5)]
            if self.chance(0.4):
                args.append(b'WITHSCORES')
            return Cmd(args, keys=[z])
        if r < 0.17:
            return Cmd([b'ZRANGE', z, b'(1', b'+inf', b'BYSCORE', b'LIMIT', b'0', b'3'],
                       keys=[z])
        if r < 0.24:
            return Cmd([b'ZSCORE', z, m], keys=[z])
        if r < 0.30:
            return Cmd([b'ZCARD', z], keys=[z])
        if r < 0.34:
            return Cmd([self.pick([b'ZRANK', b'ZREVRANK']), z, m], keys=[z])
        if r < 0.37:
            return Cmd([b'ZCOUNT', z, b'-inf', self.num(0, 10)], keys=[z])
        if r < 0.40:
            return Cmd([b'ZMSCORE', z, m, self.pick(MEMBERS)], keys=[z])
        if r < 0.58:
            args = [b'ZADD', z]
            if self.chance(0.2):
                args.append(self.pick([b'NX', b'XX']))
            if self.chance(0.15):
                args.append(self.pick([b'GT', b'LT']))
            if self.chance(0.15):
                args.append(b'CH')
            for _ in range(self.rng.randint(1, 3)):
                args += [self.num(-5, 20), self.pick(MEMBERS)]
            return Cmd(args, keys=[z], write=True)
        if r < 0.64:
            return Cmd([b'ZINCRBY', z, self.num(-3, 3), m], keys=[z], write=True)
        if r < 0.70:
            return Cmd([b'ZREM', z, m], keys=[z], write=True)
        if r < 0.76:
            args = [self.pick([b'ZPOPMIN', b'ZPOPMAX']), z]
            if self.chance(0.4):
                args.append(self.num(1, 3))
            return Cmd(args, keys=[z], write=True)
        if r < 0.79:
            return Cmd([b'ZREMRANGEBYSCORE', z, b'-inf', self.num(-2, 5)], keys=[z], write=True)
        dest = self.key(ZSET_KEYS)
        if r < 0.90:
            ks = self.keys(ZSET_KEYS + SET_KEYS, 1, 3)
            args = [self.pick([b'ZUNIONSTORE', b'ZINTERSTORE']), dest, str(len(ks)).encode()] + ks
            if self.chance(0.3):
                args += [b'WEIGHTS'] + [self.num(1, 3) for _ in ks]
            if self.chance(0.3):
                args += [b'AGGREGATE', self.pick([b'SUM', b'MIN', b'MAX'])]
            return Cmd(args, keys=[dest] + ks, write=True)
        if r < 0.96:
            return Cmd([b'ZRANGESTORE', dest, z, self.num(0, 1), self.num(-1, 3)],
                       keys=[dest, z], write=True)
        return Cmd([b'BZPOPMIN', z, b'0.01'], keys=[z], write=True)

    def geo_cmd(self):
        g = self.key(GEO_KEYS)
        r = self.rng.random()
        if r < 0.4:
            args = [b'GEOADD', g]
            for _ in range(self.rng.randint(1, 3)):
                args += [b'13.%d' % self.rng.randint(0, 999), b'38.%d' % self.rng.randint(0, 999),
                         self.pick(MEMBERS)]
            return Cmd(args, keys=[g], write=True)
        if r < 0.55:
            return Cmd([b'GEOPOS', g, self.pick(MEMBERS), self.pick(MEMBERS)], keys=[g])
        if r < 0.65:
            return Cmd([b'GEODIST', g, self.pick(MEMBERS), self.pick(MEMBERS), b'km'], keys=[g])
        if r < 0.75:
            return Cmd([b'GEORADIUS', g, b'13.5', b'38.5', b'200', b'km', b'ASC', b'WITHDIST'],
                       keys=[g])
        dest = self.key(ZSET_KEYS + GEO_KEYS)
        opt = self.pick([b'STORE', b'STOREDIST'])
        return Cmd([b'GEORADIUS', g, b'13.5', b'38.5', b'200', b'km', b'ASC', opt, dest],
                   keys=[g, dest], write=True, undeclared=[dest])

    def script_cmd(self):
        r = self.rng.random()
        k = self.key(STR_KEYS + NUM_KEYS)
        u = self.key(STR_KEYS + ODD_KEYS)
        if r < 0.15:
            return self.eval('set', [k], [self.value()], write=True)
        if r < 0.30:
            return self.eval('undeclared', [], [u, self.value()], undeclared=[u])
        if r < 0.40:
            return self.eval('incrby', [self.key(NUM_KEYS)], [self.num(-5, 5)], write=True)
        if r < 0.46:
            return self.eval('del_undeclared', [], [u], undeclared=[u])
        if r < 0.52:
            ms = self.small_ttl_ms()
            return self.eval('pexpire', [k], [str(ms).encode()], write=True, ttl=('rel', ms))
        if r < 0.62:
            return self.eval('read', [k], [], ro=self.chance(0.3))
        if r < 0.72:
            lk, h = self.key(LIST_KEYS), self.key(HASH_KEYS)
            return self.eval('mixed', [lk], [self.value(), h], write=True, undeclared=[h])
        if r < 0.75:
            return self.eval('error', [], [])
        if r < 0.83:
            return Cmd([b'FCALL', b'dt_set', b'1', k, self.value()], 'FCALL', keys=[k],
                       write=True)
        if r < 0.91:
            return Cmd([b'FCALL', b'dt_undecl', b'0', u, self.value()], 'FCALL-undeclared',
                       keys=[u], write=True, undeclared=[u])
        if r < 0.97:
            return Cmd([self.pick([b'FCALL_RO', b'FCALL']), b'dt_get', b'1', k], 'FCALL',
                       keys=[k])
        return Cmd([b'EVALSHA', b'0' * 40, b'0'], 'EVALSHA')  # NOSCRIPT

    def eval(self, name, keys, argv, write=False, undeclared=(), ttl=None, ro=False):
        if self.chance(0.5):
            head = [b'EVAL_RO' if ro else b'EVAL', SCRIPTS[name]]
            family = 'EVAL'
        else:
            head = [b'EVALSHA_RO' if ro else b'EVALSHA', SHAS[name]]
            family = 'EVALSHA'
        if undeclared:
            family += '-undeclared'
        args = head + [str(len(keys)).encode()] + list(keys) + list(argv)
        return Cmd(args, family, keys=list(keys) + list(undeclared), write=write or bool(
            undeclared), undeclared=undeclared, ttl=ttl)

    def bit_cmd(self):
        dest = self.key(STR_KEYS)
        op = self.pick([b'AND', b'OR', b'XOR', b'NOT'])
        srcs = self.keys(STR_KEYS + NUM_KEYS, 1, 1 if op == b'NOT' else 3)
        return Cmd([b'BITOP', op, dest] + srcs, keys=[dest] + srcs, write=True)

    def global_cmd(self):
        r = self.rng.random()
        if r < 0.45:
            return Cmd([b'FLUSHDB'], all_keys=True, write=True, undeclared=ALL_KEYS, blind=True)
        if r < 0.90:
            a, b = self.rng.randint(0, DATABASES - 1), self.rng.randint(0, DATABASES - 1)
            # (a swap carries expiring keys along with their deadlines: the same on both sides)
            return Cmd([b'SWAPDB', str(a).encode(), str(b).encode()], all_keys=True, write=True,
                       undeclared=ALL_KEYS, blind=True)
        return Cmd([b'FLUSHALL'], all_keys=True, write=True, undeclared=ALL_KEYS, blind=True)

    def data_cmd(self):
        r = self.rng.random()
        if r < 0.20:
            cmd = self.string_read()
        elif r < 0.38:
            cmd = self.string_write()
        elif r < 0.45:
            cmd = self.expire()
        elif r < 0.50:
            cmd = self.keyspace()
        elif r < 0.61:
            cmd = self.hash_cmd()
        elif r < 0.72:
            cmd = self.list_cmd()
        elif r < 0.80:
            cmd = self.set_cmd()
        elif r < 0.88:
            cmd = self.zset_cmd()
        elif r < 0.91:
            cmd = self.geo_cmd()
        elif r < 0.97:
            cmd = self.script_cmd()
        elif r < 0.985:
            cmd = self.bit_cmd()
        elif r < 0.988:
            cmd = self.global_cmd()
        else:
            cmd = self.error_cmd()
        return cmd

    def error_cmd(self):
        return self.pick([
            Cmd([b'NOSUCHCOMMAND', b'x'], 'ERROR'),
            Cmd([b'GET'], 'ERROR'),
            Cmd([b'SET', b'k1'], 'ERROR'),
            Cmd([b'HSET', b'h1', b'f'], 'ERROR'),
            Cmd([b'INCRBY', b'n1', b'notanumber'], 'ERROR', keys=[b'n1'], write=True),
            Cmd([b'ZADD', b'z1', b'NX', b'XX', b'1', b'm'], 'ERROR', keys=[b'z1'], write=True),
        ])

    # -- connection-state commands ---------------------------------------------------------
    def state_cmd(self, st):
        """A connection-state command for a connection in the plain state."""
        r = self.rng.random()
        if r < 0.16:
            d = self.rng.randint(0, DATABASES - 1) if self.chance(0.9) else self.pick([16, -1])
            return Cmd([b'SELECT', str(d).encode()])
        if r < 0.30:
            return Cmd([b'MULTI'])
        if r < 0.38:
            ks = self.keys(ALL_KEYS, 1, 3)
            return Cmd([b'WATCH'] + ks, keys=ks)
        if r < 0.40:
            return Cmd([b'UNWATCH'])
        if r < 0.48:
            return self.subscribe_cmd(st, in_multi=False)
        if r < 0.56:
            return self.publish_cmd()
        if r < 0.58:
            return Cmd([b'MONITOR'])
        if r < 0.61:
            return Cmd([b'RESET'])
        if r < 0.66 and st.proto == 2:
            return Cmd([b'CLIENT', b'REPLY', self.pick([b'OFF', b'SKIP', b'SKIP', b'ON'])],
                       'CLIENT REPLY')
        if r < 0.78:
            return self.client_cmd()
        if r < 0.83:
            return self.hello_cmd()
        if r < 0.89:
            return Cmd([b'ECHO', self.value()])
        if r < 0.90:  # only its framing is compared: the text differs by design
            return Cmd([b'INFO'] + ([self.pick([b'server', b'keyspace'])] if self.chance(0.5)
                                    else []), norm='info')
        if r < 0.97:
            return Cmd([b'PING'] + ([self.value()] if self.chance(0.5) else []))
        return Cmd([b'QUIT'])

    def client_cmd(self):
        r = self.rng.random()
        if r < 0.3:
            name = self.pick([b'app%d' % self.rng.randint(0, 9), b'bad name', b''])
            return Cmd([b'CLIENT', b'SETNAME', name], 'CLIENT SETNAME')
        if r < 0.55:
            return Cmd([b'CLIENT', b'GETNAME'], 'CLIENT GETNAME')
        if r < 0.8:
            return Cmd([b'CLIENT', b'ID'], 'CLIENT ID', norm='client_id')
        return Cmd([b'CLIENT', b'INFO'], 'CLIENT INFO', norm='client_info')

    def hello_cmd(self):
        r = self.rng.random()
        if r < 0.15:
            return Cmd([b'HELLO'], norm='hello')
        if r < 0.25:
            return Cmd([b'HELLO', b'4'], 'HELLO')
        ver = b'3' if self.resp3 and self.chance(0.5) else b'2'
        args = [b'HELLO', ver]
        if self.chance(0.3):
            args += [b'SETNAME', b'hello%d' % self.rng.randint(0, 9)]
        return Cmd(args, norm='hello')

    def subscribe_cmd(self, st, in_multi):
        r = self.rng.random()
        count = 1 if in_multi else self.rng.randint(1, 3)
        if r < 0.45:
            return Cmd([b'SUBSCRIBE'] + [self.pick(CHANNELS) for _ in range(count)])
        if r < 0.75:
            pool = PATTERNS + [b'*'] if self.chance(0.05) else PATTERNS
            return Cmd([b'PSUBSCRIBE'] + [self.pick(pool) for _ in range(count)])
        return Cmd([b'SSUBSCRIBE'] + [self.pick(SHARD_CHANNELS) for _ in range(count)])

    def unsubscribe_cmd(self):
        r = self.rng.random()
        name, pool = ((b'UNSUBSCRIBE', CHANNELS) if r < 0.4 else
                      (b'PUNSUBSCRIBE', PATTERNS) if r < 0.7 else (b'SUNSUBSCRIBE', SHARD_CHANNELS))
        if self.chance(0.5):
            return Cmd([name])
        return Cmd([name] + [self.pick(pool) for _ in range(self.rng.randint(1, 2))])

    def publish_cmd(self):
        if self.chance(0.75):
            return Cmd([b'PUBLISH', self.pick(CHANNELS + [b'other']), self.value()])
        return Cmd([b'SPUBLISH', self.pick(SHARD_CHANNELS), self.value()])
