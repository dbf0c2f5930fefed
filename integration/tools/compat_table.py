#!/usr/bin/env python3
"""Writes docs/compatibility.md: how frontcache handles every command of a real redis-server's
`COMMAND` list (run against Redis 7.0). Routes come from src/command/command_table.cpp; commands
not listed there are forwarded unchanged over the shared upstream connections.

usage: integration/tools/compat_table.py [redis-port] > docs/compatibility.md
(with no port, starts a throwaway redis-server on a free port)"""
import os, re, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NOTES = {
    "Local": "answered by the proxy (session state lives in the proxy)",
    "Stateful": "pinned: runs on a dedicated upstream connection while the state lasts",
    "Never": "refused by design",
    "Forward": "forwarded over the shared pipelined connections",
    "Script": "forwarded; declared keys invalidated",
}
SPECIAL = {
    "shutdown": "refused by design: it would stop the Redis every client shares",
    "sync": "refused by design: replicas must connect to Redis directly",
    "psync": "refused by design: replicas must connect to Redis directly",
    "xread": "forwarded; with BLOCK, pinned for the call",
    "xreadgroup": "forwarded; with BLOCK, pinned for the call",
    "config|get": "forwarded; `CONFIG GET save`, `appendonly`, `databases` need no permission (redis-benchmark asks for them)",
    "client|unblock": "answered by the proxy: unblocks the named client's dedicated connection upstream (by its id there, on its node in cluster mode) and relays Redis's reply",
    "acl|whoami": "answered by the proxy: the client's user, not the proxy's upstream account",
    "client": "answered by the proxy from the client's state: ID/INFO/LIST/KILL (all workers)/SETNAME/GETNAME/REPLY/NO-EVICT/HELP, TRACKING/TRACKINGINFO/GETREDIR/CACHING (client-side caching served by the proxy, [resp3.md](resp3.md)); PAUSE/UNPAUSE forwarded for users granted @admin; UNBLOCK of a client (by the proxy's id) unblocks its dedicated connection upstream (standalone mode; in cluster mode an error)",
    "select": "answered by the proxy; the database travels with each forwarded request",
    "auth": "answered by the proxy against `auth.*`; upstream credentials stay in `upstream.*`",
    "hello": "answered by the proxy; `HELLO 3` switches the session to RESP3 ([resp3.md](resp3.md))",
    "info": "forwarded; a `# frontcache` section is appended when Redis's default or every section is asked for (no argument, `default`, `all`, `everything`) or `frontcache` is named, and `# frontcache_commandstats` after Redis's `# Commandstats`; `INFO frontcache` and `INFO frontcache_commandstats` alone are answered by the proxy",
    "reset": "answered by the proxy; also run upstream when pinned, which unpins",
    "readonly": "forwarded (cluster mode is the upstream's business)",
    "readwrite": "forwarded",
    "monitor": "pinned: its own upstream connection until RESET/QUIT; shows only what reaches"
               " Redis (reads answered from L1 never do)",
    "quit": "answered by the proxy",
}

def routes():
    text = open(os.path.join(ROOT, "src/command/command_table.cpp")).read()
    table = dict(re.findall(r'OpEntry\{"([a-z\-_|]+)", Route::(\w+)', text))
    for container, sub, route in re.findall(
            r'SubEntry\{"([a-z\-_]+)", "([a-z\-_]+)", -?\d+, Route::(\w+)', text):
        table[container + "|" + sub] = route
    return table

def admin_commands(port):
    """Names Redis puts in @admin (what the default permissions "+@all -@admin" leave out)."""
    out = subprocess.run(["redis-cli", "-p", str(port), "ACL", "CAT", "admin"],
                         capture_output=True, text=True, check=True).stdout
    return set(l.strip().lower() for l in out.splitlines() if l.strip())

def command_list(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "COMMAND", "LIST"], capture_output=True,
                         text=True, check=True).stdout
    return sorted(set(l.strip().lower() for l in out.splitlines() if l.strip()))

def main():
    proc = None
    if len(sys.argv) > 1:
        port = int(sys.argv[1])
    else:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        tmp = tempfile.mkdtemp()
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--dir", tmp],
                                stdout=subprocess.DEVNULL)
        time.sleep(0.5)
    try:
        names = command_list(port)
        admin = admin_commands(port)
        version = subprocess.run(["redis-cli", "-p", str(port), "INFO", "server"],
                                 capture_output=True, text=True).stdout
        version = re.search(r"redis_version:(\S+)", version).group(1)
    finally:
        if proc: proc.terminate()
    table = routes()
    rows, counts = [], {}
    for n in names:
        route = table.get(n, table.get(n.split("|")[0], "Forward"))
        if n == "client" or n == "acl":
            route = table.get(n, "Forward")
        handling = {"Forward": "forwarded", "Script": "forwarded", "Local": "local",
                    "Stateful": "pinned", "Never": "refused"}[route]
        counts[handling] = counts.get(handling, 0) + 1
        default = "NOPERM (@admin)" if n in admin else "allowed"
        if n == "config|get":
            default = "NOPERM (@admin), but save/appendonly/databases allowed"
        if route == "Never":
            default = "refused"
        if any(m.startswith(n + "|") for m in names):
            default = "per subcommand"
        rows.append(f"| `{n}` | {handling} | {default} | {SPECIAL.get(n, NOTES[route])} |")
    handled = sum(counts.values())
    print("# Redis command compatibility\n")
    print(f"Generated by `integration/tools/compat_table.py` from `COMMAND LIST` of redis-server {version}"
          " (regenerate after changing `src/command/command_table.cpp`; the integration test"
          " `Compatibility.EveryCommandIsDocumented` checks that every command of the upstream's"
          " `COMMAND` is listed here).\n")
    print(f"**{handled} of {len(names)} commands ({100.0 * handled / len(names):.0f}%) are handled"
          " correctly**: forwarded, pinned, answered locally, or refused by design for the reason"
          " given. Totals:\n")
    for k in ["forwarded", "pinned", "local", "refused"]:
        print(f"- {k}: {counts.get(k, 0)}")
    print("\nRefused by design: `shutdown` (would stop the shared Redis), `sync`/`psync`"
          " (replication goes to Redis directly).\n")
    print("Every other command runs only if the user's permissions allow it ([security.md]"
          "(security.md#command-permissions)). The column *default permissions* says what the"
          " default set, `+@all -@admin` (`admin_commands: deny`), does: Redis's `@admin` commands"
          f" ({sum(1 for n in names if n in admin)} here) get `-NOPERM` unless granted.\n")
    print("RESP3 (`HELLO 3`) is supported end to end, and `CLIENT TRACKING` (client-side"
          " caching) is served by the proxy from its own invalidations, with proxy client ids for"
          " `REDIRECT` ([resp3.md](resp3.md)).\n")
    print('**Cluster mode** (`upstream.mode: cluster`, [cluster.md](cluster.md)): clients see '
          "one Redis without cluster support, and these answers differ from one Redis's: "
          '`SELECT n` with n ≠ 0 gets `-ERR SELECT is not allowed in cluster mode` (as a '
          'cluster node answers); keys of several slots get `-CROSSSLOT`, except in `MGET`, '
          '`DEL`, `UNLINK`, `EXISTS`, `TOUCH` and `MSET`, which are split per slot (`MSET` then'
          ' is not atomic); `CLUSTER`, `READONLY`, `READWRITE` and `ASKING` get `-ERR This '
          'instance has cluster support disabled`; `INFO`, `RANDOMKEY`, `TIME`, `LASTSAVE` '
          "describe one master; `PUBLISH`'s reply counts only the subscribers on the master it "
          "ran on (every subscriber still gets the message); `MONITOR` shows one master's "
          'traffic. The client-level integration tests run again through frontcache in front of'
          ' a local 3-master cluster (`integration.cluster_target.*`) except the two whose '
          'typed session includes `select 3` '
          '(`RedisCli.InteractiveModeMatchesRedisForEveryFamily`, '
          '`CompatClients.RedisCliEveryFamilyMatchesRedis`) and '
          '`Ioredis.Ioredis6Resp3MatchesRedis` (its script runs `ZUNION` and other multi-key '
          'commands on keys of several slots: `CROSSSLOT`); '
          "`CompatClients.IoredisTypicalUsageMatchesRedis` compares everything but `PUBLISH`'s "
          'counts.'
          '\n')
    print("| command | handling | default permissions | notes |\n| --- | --- | --- | --- |")
    print("\n".join(rows))
    print("\n**MONITOR** through the proxy is Redis's MONITOR on a dedicated upstream connection:"
          " it shows the traffic that reaches Redis (misses, writes, forwarded commands, and the"
          " proxy's own fills and fence PINGs), not the reads frontcache answers from"
          " L1, which never leave the proxy. To see every command a client sent, including L1"
          " hits, look at the proxy's per-command counters (`INFO frontcache_commandstats`,"
          " `frontcache_command_*` in `/metrics`;"
          " [operations.md](operations.md#per-command-statistics)), or capture client traffic in"
          " front of the proxy.")
    print("\nRedis's own test suite, run through the proxy, and what still differs there:"
          " [redis-test-suite.md](redis-test-suite.md).")
    print("\n**A script running past `busy-reply-threshold`** (Redis answers `-BUSY` to all but"
          " a few commands): commands Redis still runs then (`SCRIPT KILL`, `FUNCTION KILL`,"
          " `FUNCTION STATS`) are sent without a `SELECT` on the shared connection with the fewest"
          " requests in flight, so they reach Redis whatever the client's database; a client"
          " of another database than its shared connection's gets Redis's `-BUSY` refusal as"
          " Redis would give it (the proxy's `SELECT` is refused the same way, and the"
          " connection goes on). What differs: `PING` is answered by the proxy (`+PONG`, where"
          " Redis says `-BUSY`); requests queued on the same shared connection behind the"
          " long script's own `EVAL`/`FCALL` wait for it instead of getting `-BUSY`, and fail"
          " with `-ERR upstream timeout` after `upstream.command_timeout`. A command that needs"
          " a dedicated connection (blocking commands, `SUBSCRIBE`) from a client of a database"
          " other than 0 gets Redis's `-BUSY` too (the dedicated connection's `SELECT` is refused"
          " and so is the command behind it; the client stays connected), except the commands"
          " Redis runs while busy (`MULTI`, `WATCH`): behind the refused `SELECT` they would run"
          " in database 0, so that client gets `-ERR frontcache: dedicated connection refused"
          " SELECT n` and the connection closes.")

if __name__ == "__main__":
    main()
