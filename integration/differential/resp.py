"""RESP2/RESP3 on the client side: request encoders (multibulk and inline) and an incremental
reply framer that hands back each complete top-level reply as its exact raw bytes.

Replies are compared as raw bytes; `decode` turns them into a small tree only when a reply has to
be normalised, inspected by the client-state model, or printed in a reproducer.
"""

CRLF = b'\r\n'

# Bytes that end or start something special in an unquoted inline argument (Redis sdssplitargs):
# whitespace splits, quotes switch to quoted mode, NUL stops Redis's strchr() newline search.
_INLINE_UNSAFE = frozenset(b' \t\r\n\v\f"\'\x00')


def encode_multibulk(args):
    parts = [b'*%d\r\n' % len(args)]
    for a in args:
        parts.append(b'$%d\r\n' % len(a))
        parts.append(a)
        parts.append(CRLF)
    return b''.join(parts)


def inline_bare_ok(args):
    """True when every argument can be written unquoted on an inline line."""
    if not args or args[0][:1] == b'*':
        return False
    return all(a and not (_INLINE_UNSAFE & set(a)) for a in args)


def _quote(arg):
    out = bytearray(b'"')
    for b in arg:
        if b == 0x22 or b == 0x5c:
            out += b'\\' + bytes([b])
        elif 0x20 <= b < 0x7f:
            out.append(b)
        else:
            out += b'\\x%02x' % b
    out += b'"'
    return bytes(out)


def encode_inline(args, quoted=False, lf_only=False):
    """An inline (telnet-style) request. With `quoted`, every argument is double-quoted with
    \\xHH escapes, which is how redis-cli users type binary or empty arguments."""
    if quoted:
        line = b' '.join(_quote(a) for a in args)
    else:
        line = b' '.join(args)
    return line + (b'\n' if lf_only else CRLF)


class ProtocolError(Exception):
    pass


def _frame_end(buf, pos):
    """Index just past the complete reply starting at buf[pos], or -1 when more bytes are
    needed. Raises ProtocolError on bytes that are not RESP."""
    nl = buf.find(CRLF, pos)
    if nl < 0:
        return -1
    t = buf[pos]
    if t in b'+-:_,#(':  # one line
        return nl + 2
    if t in b'$!=':  # bulk, blob error, verbatim
        try:
            n = int(buf[pos + 1:nl])
        except ValueError:
            raise ProtocolError('bad bulk length %r' % bytes(buf[pos:nl]))
        if n < 0:
            return nl + 2
        end = nl + 2 + n + 2
        return end if len(buf) >= end else -1
    if t in b'*%~>|':  # aggregates; maps and attributes hold two items per count
        try:
            n = int(buf[pos + 1:nl])
        except ValueError:
            raise ProtocolError('bad aggregate length %r' % bytes(buf[pos:nl]))
        if t in b'%|':
            n *= 2
        p = nl + 2
        for _ in range(max(n, 0)):
            p = _frame_end(buf, p)
            if p < 0:
                return -1
        if t == 0x7c:  # an attribute is followed by the reply it annotates
            return _frame_end(buf, p)
        return p
    raise ProtocolError('unexpected byte %r at start of a reply' % bytes(buf[pos:pos + 1]))


class ReplyFramer:
    """Feed bytes in, take complete top-level replies out, each as its raw bytes."""

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0  # start of the first reply not yet taken

    def feed(self, data):
        if self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[:self.pos]  # compact now and then, not on every pop (that is O(n^2))
            self.pos = 0
        self.buf += data

    def pop(self):
        """The next complete reply, or None."""
        if self.pos >= len(self.buf):
            return None
        end = _frame_end(self.buf, self.pos)
        if end < 0:
            return None
        raw = bytes(self.buf[self.pos:end])
        self.pos = end
        return raw

    def pending(self):
        return len(self.buf) - self.pos


def _decode_at(buf, pos):
    nl = buf.index(CRLF, pos)
    t = chr(buf[pos])
    head = buf[pos + 1:nl]
    p = nl + 2
    if t in '+-,#(':
        return (t, bytes(head)), p
    if t == ':':
        return (t, int(head)), p
    if t == '_':
        return (t, None), p
    if t in '$!=':
        n = int(head)
        if n < 0:
            return (t, None), p
        return (t, bytes(buf[p:p + n])), p + n + 2
    n = int(head)
    if n < 0:
        return (t, None), p
    items = []
    count = n * 2 if t in '%|' else n
    for _ in range(count):
        v, p = _decode_at(buf, p)
        items.append(v)
    if t in '%|':
        items = [(items[i], items[i + 1]) for i in range(0, len(items), 2)]
    if t == '|':
        inner, p = _decode_at(buf, p)
        return ('|', (items, inner)), p
    return (t, items), p


def decode(raw):
    """A reply as a (type-char, payload) tree: ('+', b'OK'), (':', 5), ('$', b'v' or None),
    ('*', [items] or None), ('%', [(k, v)...]), ('>', [...]) and so on."""
    v, _ = _decode_at(raw, 0)
    return v


def encode(v):
    """Inverse of decode: the canonical bytes of a reply tree."""
    t, x = v
    if t in '+-,#(':
        return t.encode() + x + CRLF
    if t == ':':
        return b':%d\r\n' % x
    if t == '_':
        return b'_\r\n'
    if t in '$!=':
        if x is None:
            return t.encode() + b'-1\r\n'
        return t.encode() + b'%d\r\n' % len(x) + x + CRLF
    if t == '|':
        attrs, inner = x
        return b'|%d\r\n' % len(attrs) + b''.join(encode(k) + encode(w) for k, w in attrs) + \
            encode(inner)
    if x is None:
        return t.encode() + b'-1\r\n'
    if t == '%':
        return b'%%%d\r\n' % len(x) + b''.join(encode(k) + encode(w) for k, w in x)
    return t.encode() + b'%d\r\n' % len(x) + b''.join(encode(i) for i in x)


def _show_bytes(b):
    out = []
    for c in b:
        if c == 0x22 or c == 0x5c:
            out.append('\\' + chr(c))
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        elif c == 10:
            out.append('\\n')
        elif c == 13:
            out.append('\\r')
        else:
            out.append('\\x%02x' % c)
    return '"' + ''.join(out) + '"'


def show_arg(a):
    """An argument as redis-cli would echo it (quoted only when it has to be)."""
    if not isinstance(a, (bytes, bytearray)):
        return '<%s>' % a  # an AbsTime not yet resolved
    if a and not (_INLINE_UNSAFE & set(a)) and all(0x20 < c < 0x7f for c in a):
        return a.decode()
    return _show_bytes(a)


def show(v, indent=0, limit=2000):
    """A reply tree in redis-cli's human format (truncated for long values)."""
    t, x = v
    pad = '   ' * indent
    if t == '+':
        return x.decode('latin-1')
    if t in '-!':
        return '(error) ' + x.decode('latin-1')
    if t == ':':
        return '(integer) %d' % x
    if t == '_' or (t in '$*%~>' and x is None):
        return '(nil)'
    if t in ',(':
        return '(double) ' + x.decode() if t == ',' else '(big number) ' + x.decode()
    if t == '#':
        return '(true)' if x == b't' else '(false)'
    if t in '$=':
        s = _show_bytes(x[:limit])
        return s + ('...(%d bytes)' % len(x) if len(x) > limit else '')
    if t == '|':
        return show(x[1], indent, limit)
    if not x:
        return '(empty array)'
    lines = []
    if t == '%':
        for i, (k, w) in enumerate(x):
            lines.append('%s%d# %s => %s' % (pad if i else '', i + 1, show(k, indent + 1, limit),
                                              show(w, indent + 1, limit)))
    else:
        for i, item in enumerate(x):
            lines.append('%s%d) %s' % (pad if i else '', i + 1, show(item, indent + 1, limit)))
    return '\n'.join(lines)


def show_raw(raw, limit=2000):
    try:
        return show(decode(raw), 0, limit)
    except Exception:  # not RESP: print the bytes themselves
        return 'raw ' + _show_bytes(raw[:limit])
