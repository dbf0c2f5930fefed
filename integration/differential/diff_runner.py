#!/usr/bin/env python3
"""Differential tester for frontcache: the same generated program through frontcache and
directly against an identical redis-server, every reply compared byte for byte (after the
normalisations listed in README.md). Exits 1 on any mismatch, 2 on a tool error.

  diff_runner.py --seed 7 --commands 50000            single-client, one seed
  diff_runner.py --seeds-file seeds.txt               every seed of the corpus
  diff_runner.py --self-check --seed 7                two plain redis-servers (checks the tool)
  diff_runner.py --replay repro.json                  replay a saved (shrunk) program
  diff_runner.py --multi --duration 60 [--faults]     multi-client property checks
  diff_runner.py --multi --cluster --faults           the same against a cluster, with failovers
"""

import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import generator  # noqa: E402
import procs  # noqa: E402
import program as program_mod  # noqa: E402
import report  # noqa: E402
import runner  # noqa: E402
import shrink  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--frontcache', help='frontcache binary (default: $FRONTCACHE_BIN, '
                   'then build-ci/frontcache)')
    p.add_argument('--self-check', action='store_true',
                   help='system under test is a second plain redis-server: must find nothing')
    p.add_argument('--seed', type=int, action='append', help='program seed (repeatable)')
    p.add_argument('--seeds-file', help='file of seeds, one per line ("seed [commands]")')
    p.add_argument('--commands', type=int, default=20000, help='commands per seed')
    p.add_argument('--replay', help='replay a saved program (JSON) instead of generating one')
    p.add_argument('--corpus', help='replay every saved program (.json) and transcript (.txt) '
                   'in this folder')
    p.add_argument('--script', help='run a hand-written transcript ("c0> SET k v" lines)')
    p.add_argument('--conns', type=int, default=3, help='connections per program (1-4)')
    p.add_argument('--resp3', action='store_true', help='also generate HELLO 3 sessions')
    p.add_argument('--exclude', default='', help='comma-separated command families to leave out')
    p.add_argument('--forms', default='mb,inline,quoted,lf',
                   help='request forms to use (mb,inline,quoted,lf)')
    p.add_argument('--max-mismatches', type=int, default=20,
                   help='stop a seed after this many mismatches')
    p.add_argument('--no-reset', action='store_true',
                   help='after a mismatch, go on without resetting servers and proxy (shows '
                   'what follows; later comparisons may be misaligned)')
    p.add_argument('--no-shrink', action='store_true', help='do not shrink failures')
    p.add_argument('--rerun-once', action='store_true',
                   help='a program that mismatches is run again; mismatches the rerun does not '
                        'show are reported as FLAKY and do not fail (CI)')
    p.add_argument('--shrink-seconds', type=float, default=120,
                   help='time budget per shrunk failure')
    p.add_argument('--shrink-total-seconds', type=float, default=None,
                   help='time budget for all shrinking of this invocation')
    p.add_argument('--shrink-classes', type=int, default=3,
                   help='distinct failing families shrunk per seed')
    p.add_argument('--shrink-only', default='',
                   help='comma-separated families: shrink only mismatches of these')
    p.add_argument('--repro-dir', default=None, help='where shrunk programs are saved')
    p.add_argument('--workers', type=int, default=2, help='frontcache worker threads')
    p.add_argument('--cache-ttl', default='10s', help='rule TTL of the generated config')
    p.add_argument('--negative-ttl', default='1s',
                   help='rule negative TTL (0s: nils are not cached, so reads of absent keys are '
                        'fills, most of them without PTTL)')
    p.add_argument('--tracking', default='bcast', choices=['bcast', 'default'],
                   help='invalidation.tracking of the generated config (default: CLIENT TRACKING '
                        'on the shared connections; not in cluster mode)')
    p.add_argument('--extra-yaml', default=os.environ.get('DIFFTEST_EXTRA_YAML', ''),
                   help='appended to the generated frontcache config')
    p.add_argument('--reply-timeout', type=float, default=10.0,
                   help='seconds to wait for the proxy before calling a reply missing')
    p.add_argument('--ref-timeout', type=float, default=30.0,
                   help='seconds to wait for the reference before calling it a tool error')
    p.add_argument('--duration', type=float, default=None,
                   help='stop generating new seeds (single) or run this long (multi), seconds')
    p.add_argument('--multi', action='store_true', help='multi-client property mode')
    p.add_argument('--clients', type=int, default=6, help='multi: clients')
    p.add_argument('--faults', action='store_true', help='multi: inject faults')
    p.add_argument('--no-fail-monotonic', action='store_true',
                   help='multi: report monotonic-read violations without failing (if the proxy '
                   'only promises bounded staleness across clients)')
    p.add_argument('--max-staleness-ms', type=float, default=None,
                   help='multi: fail when a read is staler than this')
    p.add_argument('--fault-interval', type=float, default=3.0, help='multi: seconds between '
                   'faults')
    p.add_argument('--cluster', action='store_true',
                   help='multi: a local Redis Cluster (3 masters, 3 replicas) behind proxies in '
                   'cluster mode; --faults then means failovers (kill -9 of a master, CLUSTER '
                   'FAILOVER)')
    p.add_argument('--recovery-limit', type=float, default=60.0,
                   help='multi --cluster: fail when a failover is not served again this many '
                   'seconds after the kill')
    p.add_argument('--check-data', action='store_true',
                   help='debugging: compare both servers\' data after every step')
    p.add_argument('--trace', type=int, default=None,
                   help='debugging: print every command of this connection (-1: all)')
    p.add_argument('--summary-json', help='write the figures as JSON here')
    return p.parse_args(argv)


def seeds_from(opts):
    seeds = []
    if opts.seeds_file:
        with open(opts.seeds_file) as f:
            for line in f:
                line = line.split('#', 1)[0].split()
                if line:
                    seeds.append((int(line[0]), int(line[1]) if len(line) > 1 else opts.commands))
    for s in opts.seed or []:
        seeds.append((s, opts.commands))
    if not seeds and not opts.replay and not opts.script and not opts.corpus:
        seeds.append((random.SystemRandom().randrange(1, 2**31), opts.commands))
    return seeds


def corpus_files(folder):
    if not folder:
        return []
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
            if f.endswith('.json') or f.endswith('.txt')]


def run_single(opts):
    world = runner.World(opts)
    totals = report.Totals()
    status = 0
    try:
        jobs = []
        if opts.replay:
            jobs.append((None, program_mod.Program.load(opts.replay)))
        if opts.script:
            jobs.append((None, program_mod.load_script(opts.script)))
        for path in corpus_files(opts.corpus):
            load = program_mod.load_script if path.endswith('.txt') else program_mod.Program.load
            prog = load(path)
            prog.label = os.path.relpath(path)
            jobs.append((None, prog))
        for seed, n in seeds_from(opts):
            jobs.append((seed, None if opts.duration else generator.generate(
                seed, n, opts.conns, opts.resp3, opts.exclude, opts.forms)))
        deadline = time.monotonic() + opts.duration if opts.duration else None
        extra_seeds = opts.duration is not None and not opts.seeds_file and not opts.seed
        while jobs:
            seed, prog = jobs.pop(0)
            if prog is None:
                prog = generator.generate(seed, opts.commands, opts.conns, opts.resp3,
                                          opts.exclude, opts.forms)
            status = max(status, run_program(world, opts, prog, totals, deadline))
            if deadline and time.monotonic() > deadline:
                break
            if extra_seeds and not jobs:
                jobs.append((random.SystemRandom().randrange(1, 2**31), None))
        sanitizer = procs.sanitizer_reports(world.proxy_logs())
        if sanitizer:
            print('\nSANITIZER REPORTS in the proxy log:\n  ' + '\n  '.join(sanitizer[:20]))
            status = max(status, 1)
        totals.sanitizer = len(sanitizer)
    finally:
        world.close()
    totals.print_summary(opts)
    if opts.summary_json:
        totals.save(opts.summary_json)
    return status


def run_program(world, opts, prog, totals, deadline):
    label = getattr(prog, 'label', None) or ('seed %s' % prog.seed if prog.seed is not None
                                              else 'replay %s' % (opts.replay or opts.script))
    print('== %s: %d commands in %d steps, %s' % (
        label, prog.command_count(), len(prog.steps),
        'self-check (redis vs redis)' if opts.self_check else 'proxy %s' % opts.frontcache),
        flush=True)
    world.clean()
    res = runner.Runner(world, opts).run(prog, opts.max_mismatches, deadline=deadline)
    totals.add(res)
    report.print_result(label, res)
    if res.model_errors:
        return 2
    if not res.mismatches:
        return 0
    if opts.rerun_once and not res.proxy_crashes:
        # A mismatch that a second run of the same program does not show is reported loudly,
        # not failed: on a loaded CI machine it is most likely a timing race (the soak chases
        # those); a deterministic bug fails both runs.
        print('-- %s: rerunning the program once' % label, flush=True)
        world.clean()
        again = runner.Runner(world, opts).run(prog, opts.max_mismatches, deadline=deadline)
        report.print_result(label + ' (rerun)', again)
        if not again.mismatches and not again.model_errors:
            print('FLAKY: %s: %d mismatch(es) in the first run (%s), none in the rerun; '
                  'not failed, chase it with scripts/soak.sh' % (
                      label, len(res.mismatches),
                      ', '.join(sorted({m.family for m in res.mismatches}))), flush=True)
            totals.flaky += 1
            return 0
    # Saved programs are small already; seeds get shrunk within the run's shrinking budget.
    if not opts.no_shrink and prog.seed is not None and not getattr(prog, 'label', None):
        shrink.shrink_failures(world, opts, prog, res)
    return 1


def main(argv=None):
    opts = parse_args(argv if argv is not None else sys.argv[1:])
    opts.exclude = [x for x in opts.exclude.split(',') if x]
    opts.forms = tuple(x for x in opts.forms.split(',') if x)
    opts.shrink_left = opts.shrink_total_seconds or float('inf')  # seconds, spent by shrink.py
    if not opts.self_check:
        opts.frontcache = procs.find_frontcache(opts.frontcache)
        if not opts.frontcache or not os.path.exists(opts.frontcache):
            print('frontcache binary not found: pass --frontcache or set FRONTCACHE_BIN')
            return 2
    if opts.multi:
        import multi
        return multi.main(opts)
    return run_single(opts)


if __name__ == '__main__':
    sys.exit(main())
