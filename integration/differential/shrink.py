"""Shrinking a failing program to a minimal reproducer (delta debugging): cut after the failing
step, drop steps, drop commands, flatten pipelines, simplify request forms, each time replaying
the candidate on fresh servers and a fresh proxy and keeping it when the same family still
mismatches. The result is saved as JSON and printed as a redis-cli-like transcript."""

import os
import sys
import tempfile
import time

from program import Cmd, Program, Step
import report
import resp
import runner


class Shrinker:
    def __init__(self, world, opts, family, budget_s):
        self.world = world
        self.opts = opts
        self.family = family
        self.deadline = time.monotonic() + budget_s
        self.attempts = 0

    def out_of_time(self):
        return time.monotonic() > self.deadline

    def fails(self, prog):
        """Does prog still show a mismatch of the same family?"""
        self.attempts += 1
        self.world.clean()
        res = runner.Runner(self.world, self.opts).run(prog, max_mismatches=1,
                                                        stop_at_first=True)
        return not res.model_errors and any(m.family == self.family for m in res.mismatches)

    # -- reduction passes --------------------------------------------------------------------
    def ddmin(self, items, rebuild):
        """Classic delta debugging over a list: remove chunks while the failure stays."""
        n = 2
        while len(items) >= 2 and not self.out_of_time():
            chunk = max(1, len(items) // n)
            removed_any = False
            i = 0
            while i < len(items) and not self.out_of_time():
                candidate = items[:i] + items[i + chunk:]
                if candidate and self.fails(rebuild(candidate)):
                    items = candidate
                    removed_any = True
                    n = max(n - 1, 2)
                else:
                    i += chunk
            if not removed_any:
                if chunk == 1:
                    break
                n = min(n * 2, len(items))
        return items

    def shrink(self, prog):
        setup, steps = prog.steps[:1], prog.steps[1:]

        def with_steps(ss):
            return Program(setup + ss, prog.nconns, prog.seed, prog.resp3)

        steps = self.ddmin(steps, with_steps)
        # Commands, across steps: flatten to (step index, command) pairs.
        flat = [(si, c) for si, s in enumerate(steps) for c in s.cmds]

        def from_flat(pairs):
            out = []
            for si, s in enumerate(steps):
                cmds = [c for sj, c in pairs if sj == si]
                if cmds:
                    out.append(Step(s.conn, cmds, s.split))
            return with_steps(out)

        flat = self.ddmin(flat, from_flat)
        current = from_flat(flat)
        # The setup step (FUNCTION LOAD, SCRIPT LOAD) is often not needed.
        if not self.out_of_time() and self.fails(Program(current.steps[1:], prog.nconns,
                                                         prog.seed, prog.resp3)):
            current = Program(current.steps[1:], prog.nconns, prog.seed, prog.resp3)
        current = self.simplify(current)
        return current

    def simplify(self, prog):
        """Flatten pipelines, use multibulk, write whole, one connection, where it still
        fails."""
        tries = [
            lambda p: Program([Step(s.conn, [c], 0) for s in p.steps for c in s.cmds],
                              p.nconns, p.seed, p.resp3),
            lambda p: Program([Step(s.conn, s.cmds, 0) for s in p.steps], p.nconns, p.seed,
                              p.resp3),
            lambda p: Program([Step(s.conn, [_with_form(c, 'mb') for c in s.cmds], s.split)
                               for s in p.steps], p.nconns, p.seed, p.resp3),
            lambda p: Program([Step(0, s.cmds, s.split) for s in p.steps], p.nconns, p.seed,
                              p.resp3),
        ]
        for t in tries:
            if self.out_of_time():
                break
            cand = t(prog)
            if self.fails(cand):
                prog = cand
        return prog


def _with_form(cmd, form):
    c = Cmd.from_json(cmd.to_json())
    c.form = form
    return c


def shrink_failures(world, opts, prog, res):
    """Shrink the first mismatch of up to opts.shrink_classes families; print and save each."""
    done = set()
    only = set(opts.shrink_only.split(',')) if opts.shrink_only else None
    for m in res.mismatches:
        if m.family in done or len(done) >= opts.shrink_classes:
            continue
        if only is not None and m.family not in only:
            continue
        done.add(m.family)
        # Replays start where the run last started afresh (after a reset the servers had no
        # scripts or functions loaded, so the setup step is only kept from the very start).
        prefix = Program(prog.steps[m.epoch:m.step + 1], prog.nconns, prog.seed, prog.resp3)
        if m.epoch:
            prefix.steps.insert(0, Step(0, [Cmd([b'PING'])], 0))  # shrink() keeps steps[0]
        shrink_opts = _fast_opts(opts)
        budget = min(opts.shrink_seconds, opts.shrink_left)
        if budget <= 5:
            print('\n-- %s: shrinking budget used up; no reproducer' % m.family)
            continue
        sh = Shrinker(world, shrink_opts, m.family, budget)
        start = time.monotonic()
        try:
            _shrink_one(world, opts, shrink_opts, sh, prefix, m, start)
        finally:
            opts.shrink_left -= time.monotonic() - start


def _shrink_one(world, opts, shrink_opts, sh, prefix, m, start):
    if not any(sh.fails(prefix) for _ in range(3)):  # timing-dependent ones get 3 tries
        print('\n-- %s: not reproduced by replaying the program up to step %d (timing?); '
              'no reproducer' % (m.family, m.step))
        return
    small = sh.shrink(prefix)
    path = save(opts, small, m.family)
    print_reproducer(world, shrink_opts, small, m.family, path, sh.attempts,
                     time.monotonic() - start)


def _fast_opts(opts):
    """While shrinking, a missing reply is called missing sooner."""
    import copy
    o = copy.copy(opts)
    o.reply_timeout = min(opts.reply_timeout, 3.0)
    o.trace = None
    o.check_data = False
    return o


def save(opts, prog, family):
    d = opts.repro_dir or os.path.join(tempfile.gettempdir(), 'difftest-repros')
    os.makedirs(d, exist_ok=True)
    safe = ''.join(ch if ch.isalnum() else '_' for ch in family)
    path = os.path.join(d, 'seed%s-%s.json' % (prog.seed, safe))
    prog.save(path)
    return path


def transcript(world, opts, prog):
    """Replay prog once more, recording, and render it like a redis-cli session."""
    world.clean()
    r = runner.Runner(world, opts, record=True)
    res = r.run(prog, max_mismatches=1, stop_at_first=True)
    lines = []
    by_step = {}
    for rec in res.records:
        by_step.setdefault(rec.step, []).append(rec)
    for si, step in enumerate(prog.steps):
        recs = by_step.get(si, [])
        forms = sorted(set(c.form for c in step.cmds))
        head = '# conn %d: %s, %s%s' % (
            step.conn, 'pipeline of %d' % len(step.cmds) if len(step.cmds) > 1 else 'single',
            '/'.join(forms), ', written in pieces' if step.split else '')
        lines.append(head)
        for rec in recs:
            if rec.cmd is None:
                lines.append('   (messages) ' + report.indent(report.show_items(
                    [x for x, _ in rec.r_items]), 14))
                continue
            lines.append('c%d> %s' % (step.conn, report.show_args(rec.args, 200)))
            r_text = report.show_items([x for x, _ in rec.r_items])
            if rec.verdict == 'mismatch':
                lines.append('   redis: ' + report.indent(r_text, 10))
                lines.append('   proxy: ' + report.indent(report.show_items(
                    [x for x, _ in rec.p_items]), 10) + '    <-- MISMATCH')
            else:
                lines.append('   ' + report.indent(r_text, 3) +
                             ('' if rec.verdict == 'ok' else '   [%s]' % rec.verdict))
    for m in res.mismatches:
        if m.index < 0 or m.note:
            lines.append('MISMATCH %s: redis %s / proxy %s' % (
                m.kind(), report.show_items(m.r_items), report.show_items(m.p_items)))
    return '\n'.join(lines), bool(res.mismatches)


def print_reproducer(world, opts, prog, family, path, attempts, seconds):
    text, failed = transcript(world, opts, prog)
    here = os.path.dirname(os.path.abspath(__file__))
    rerun = '%s %s %s --replay %s' % (
        os.path.basename(sys.executable), os.path.join(here, 'diff_runner.py'),
        '--self-check' if opts.self_check else '--frontcache %s --workers %d' % (
            os.path.abspath(opts.frontcache), opts.workers), path)
    print('\n==== minimal reproducer: %s (seed %s, %d commands, %d attempts, %.0f s)%s ====' % (
        family, prog.seed, prog.command_count(), attempts, seconds,
        '' if failed else ' [did not fail on the final replay: timing-dependent]'))
    print(text)
    print('rerun: ' + rerun)
    return text
