"""The normalisations applied before two replies are compared, one per kind of reply that
legitimately differs between two servers (README.md lists them). Everything else is compared
byte for byte."""

import re

import resp

# Fields of CLIENT INFO that describe the client's session (compared) rather than the socket or
# timing (dropped). `id` is compared through the id mapping.
CLIENT_INFO_KEEP = ('id', 'name', 'db', 'sub', 'psub', 'ssub', 'multi', 'flags', 'cmd', 'user',
                    'redir', 'resp')
MONITOR_LINE = re.compile(rb'^\+\d+\.\d+ \[\d+ ')


class IdMap:
    """Client ids differ between servers; each side's id must map to the same other-side id
    every time it appears (CLIENT ID, CLIENT INFO id=, HELLO id)."""

    def __init__(self):
        self.p2r = {}
        self.r2p = {}

    def translate(self, rid, pid):
        """pid as the reference would have said it, binding the pair when both are new."""
        if pid in self.p2r:
            return self.p2r[pid]
        if rid in self.r2p:
            return -pid  # rid is already some other proxy id's partner: cannot be equal
        self.p2r[pid], self.r2p[rid] = rid, pid
        return rid


def _sort_items(v):
    t, x = v
    if t in '*~' and x:
        return (t, sorted(x, key=resp.encode))
    if t == '%' and x:
        return (t, sorted(x, key=lambda kv: resp.encode(kv[0]) + resp.encode(kv[1])))
    return v


def _sort_pairs(v):
    t, x = v
    if t == '*' and x and len(x) % 2 == 0:
        pairs = sorted(((x[i], x[i + 1]) for i in range(0, len(x), 2)),
                       key=lambda kv: resp.encode(kv[0]))
        return ('*', [e for kv in pairs for e in kv])
    return _sort_items(v)


def _ttl(v):
    t, x = v
    if t == ':' and x > 0:
        return (':', 1)  # a countdown or a deadline: both sides positive is what we compare
    return v


def _info(v):
    t, x = v
    return (t, b'<info text>') if t in '$=' and x else v


def _client_info_fields(text):
    fields = {}
    for tok in text.strip().split(b' '):
        k, _, val = tok.partition(b'=')
        fields[k.decode('latin-1')] = val
    return fields


def _client_info(rv, pv, ids):
    """Both sides' CLIENT INFO reduced to the compared fields, ids mapped."""
    out = []
    rf = _client_info_fields(rv[1]) if rv[0] in '$=' and rv[1] else None
    pf = _client_info_fields(pv[1]) if pv[0] in '$=' and pv[1] else None
    if rf is None or pf is None:
        return rv, pv
    if 'id' in rf and 'id' in pf:
        try:
            pf['id'] = str(ids.translate(int(rf['id']), int(pf['id']))).encode()
        except ValueError:
            pass
    for f in (rf, pf):
        out.append(('$', b' '.join(b'%s=%s' % (k.encode(), f.get(k, b'<missing>'))
                                   for k in CLIENT_INFO_KEEP)))
    return out[0], out[1]


def _hello_pairs(v):
    t, x = v
    if t == '%' and x:
        return [kv for kv in x]
    if t == '*' and x and len(x) % 2 == 0:
        return [(x[i], x[i + 1]) for i in range(0, len(x), 2)]
    return None


def _hello(rv, pv, ids):
    rp, pp = _hello_pairs(rv), _hello_pairs(pv)
    if rp is None or pp is None:
        return rv, pv
    rd = {k[1]: w for k, w in rp}
    pd = {k[1]: w for k, w in pp}
    if b'id' in rd and b'id' in pd and rd[b'id'][0] == ':' and pd[b'id'][0] == ':':
        pd[b'id'] = (':', ids.translate(rd[b'id'][1], pd[b'id'][1]))
    for d in (rd, pd):
        if b'version' in d:
            d[b'version'] = ('$', b'<version>')

    def rebuild(orig, d, pairs):
        items = [(k, d[k[1]]) for k, _ in pairs]
        if orig[0] == '%':
            return ('%', items)
        return ('*', [e for kv in items for e in kv])
    return rebuild(rv, rd, rp), rebuild(pv, pd, pp)


def _client_id(rv, pv, ids):
    if rv[0] == ':' and pv[0] == ':':
        return rv, (':', ids.translate(rv[1], pv[1]))
    return rv, pv


_ONE_SIDED = {'sort': _sort_items, 'pairs': _sort_pairs, 'ttl': _ttl, 'info': _info}
_TWO_SIDED = {'client_info': _client_info, 'hello': _hello, 'client_id': _client_id}


def normalise_pair(norm, r_raw, p_raw, ids):
    """(r, p) after the normalisation `norm`; raw bytes when there is none or a side is not
    RESP."""
    if norm is None:
        return r_raw, p_raw
    try:
        rv, pv = resp.decode(r_raw), resp.decode(p_raw)
    except Exception:
        return r_raw, p_raw
    if norm in _ONE_SIDED:
        f = _ONE_SIDED[norm]
        return resp.encode(f(rv)), resp.encode(f(pv))
    rv, pv = _TWO_SIDED[norm](rv, pv, ids)
    return resp.encode(rv), resp.encode(pv)


def normalise_exec(norms, r_raw, p_raw, ids):
    """EXEC's array normalised element by element with the queued commands' norms."""
    if not any(norms):
        return r_raw, p_raw
    try:
        rv, pv = resp.decode(r_raw), resp.decode(p_raw)
    except Exception:
        return r_raw, p_raw
    if rv[0] != '*' or pv[0] != '*' or rv[1] is None or pv[1] is None or \
            len(rv[1]) != len(pv[1]):
        return r_raw, p_raw
    r_out, p_out = [], []
    for norm, re_, pe in zip(norms, rv[1], pv[1]):
        a, b = normalise_pair(norm, resp.encode(re_), resp.encode(pe), ids)
        r_out.append(resp.decode(a))
        p_out.append(resp.decode(b))
    return resp.encode(('*', r_out)), resp.encode(('*', p_out))


def normalise_unsubscribe_all(items):
    """(P|S)UNSUBSCRIBE without arguments answers once per subscription in the order of the
    client's hash table, which differs between servers: compare the names as a sorted list and
    the remaining counts in order."""
    try:
        decoded = [resp.decode(r) for r in items]
    except Exception:
        return items
    if not all(t in '*>' and x and len(x) == 3 for t, x in decoded):
        return items
    names = sorted((x[1] for _, x in decoded), key=resp.encode)
    return [resp.encode((t, [x[0], n, x[2]])) for (t, x), n in zip(decoded, names)]
