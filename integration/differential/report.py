"""Figures of a differential run: commands compared per family, skips and their reasons,
mismatches, and the transcript format used for reproducers."""

import collections
import json

import resp


class Totals:
    def __init__(self):
        self.compared = collections.Counter()
        self.skipped = collections.Counter()
        self.skipped_family = collections.Counter()
        self.mismatches = 0
        self.mismatch_kinds = collections.Counter()
        self.model_errors = 0
        self.seeds = 0
        self.seconds = 0.0
        self.monitor_lines = 0
        self.proxy_crashes = 0
        self.sanitizer = 0
        self.failing_seeds = []
        self.flaky = 0  # programs that mismatched once and not in their rerun (--rerun-once)

    def add(self, res):
        self.seeds += 1
        self.compared.update(res.compared)
        self.skipped.update(res.skipped)
        self.skipped_family.update(res.skipped_family)
        self.mismatches += len(res.mismatches)
        for m in res.mismatches:
            self.mismatch_kinds[m.family] += 1
        self.model_errors += len(res.model_errors)
        self.seconds += res.seconds
        self.monitor_lines += res.monitor_lines
        self.proxy_crashes += res.proxy_crashes

    def print_summary(self, opts):
        total = sum(self.compared.values())
        print('\n==== differential summary (%s) ====' % (
            'self-check' if opts.self_check else 'frontcache %s' % opts.frontcache))
        print('programs: %d   time: %.1f s   commands compared: %d (%.0f/s)' % (
            self.seeds, self.seconds, total, total / self.seconds if self.seconds else 0))
        print('compared per family:')
        line = []
        for fam, n in sorted(self.compared.items()):
            line.append('%s=%d' % (fam, n))
        for i in range(0, len(line), 8):
            print('  ' + '  '.join(line[i:i + 8]))
        print('skips and resyncs:')
        for reason, n in sorted(self.skipped.items()):
            print('  %-60s %d' % (reason, n))
        if self.skipped_family:
            print('  skipped per family: ' + '  '.join(
                '%s=%d' % kv for kv in self.skipped_family.most_common(12)) +
                ('  ...' if len(self.skipped_family) > 12 else ''))
        print('MONITOR lines dropped (not compared): %d' % self.monitor_lines)
        print('mismatches: %d%s' % (self.mismatches, '  ' + ', '.join(
            '%s=%d' % kv for kv in self.mismatch_kinds.most_common()) if self.mismatches else ''))
        if self.flaky:
            print('FLAKY programs (mismatched, then clean in the rerun; not failed): %d'
                  % self.flaky)
        if self.proxy_crashes:
            print('proxy crashes: %d' % self.proxy_crashes)
        if self.model_errors:
            print('TOOL ERRORS (model did not predict the reference): %d' % self.model_errors)

    def save(self, path):
        with open(path, 'w') as f:
            json.dump({'compared': sum(self.compared.values()),
                       'compared_per_family': dict(self.compared),
                       'skipped': dict(self.skipped), 'mismatches': self.mismatches,
                       'mismatch_kinds': dict(self.mismatch_kinds),
                       'model_errors': self.model_errors, 'seconds': self.seconds,
                       'programs': self.seeds, 'proxy_crashes': self.proxy_crashes,
                       'sanitizer_reports': self.sanitizer}, f, indent=1)


def print_result(label, res):
    print('-- %s: %d compared, %d skipped, %d mismatches, %.1f s' % (
        label, res.total_compared(), sum(res.skipped_family.values()),
        len(res.mismatches), res.seconds), flush=True)
    for e in res.model_errors:
        print('   TOOL ERROR: ' + e)
    seen = set()
    for m in res.mismatches:
        if m.kind() in seen:
            continue
        seen.add(m.kind())
        print('   MISMATCH step %d cmd %d %s: %s' % (m.step, m.index, m.kind(), show_args(m.args)))
        print('      redis: ' + indent(show_items(m.r_items), 13))
        print('      proxy: ' + indent(show_items(m.p_items), 13))


def show_args(args, limit=120):
    s = ' '.join(resp.show_arg(a) for a in args)
    return s if len(s) <= limit else s[:limit] + '...'


def show_items(items):
    if not items:
        return '(no reply)'
    return '\n'.join(resp.show_raw(r, 300) for r in items)


def indent(text, n):
    return text.replace('\n', '\n' + ' ' * n)
