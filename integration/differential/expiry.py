"""Expiry deadlines as time windows per key name: a request touching a key while one of its
windows is open is not compared (the two servers may legitimately disagree)."""

import collections

EXPIRY_MARGIN_MS = 5


class Windows:
    """Per key name (any database), the time windows (ms) in which its expiry deadline may fall
    on either server. A command that touches the key while a window is open is not compared."""

    def __init__(self):
        self.w = collections.defaultdict(list)

    def add(self, key, lo, hi):
        self.w[key].append((lo - EXPIRY_MARGIN_MS, hi + EXPIRY_MARGIN_MS))

    def races(self, keys, all_keys, lo, hi):
        names = self.w.keys() if all_keys else keys
        for k in names:
            for a, b in self.w.get(k, ()):
                if a <= hi and lo <= b:
                    return True
        return False

    def copy(self, src, dst):
        if src in self.w:
            self.w[dst].extend(self.w[src])

    def clear(self, keys):
        for k in keys:
            self.w.pop(k, None)

    def prune(self, now):
        for k in list(self.w):
            kept = [(a, b) for a, b in self.w[k] if b > now - 5000]
            if kept:
                self.w[k] = kept
            else:
                del self.w[k]
