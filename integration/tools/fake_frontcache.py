#!/usr/bin/env python3
"""A byte-for-byte TCP pass-through that starts like frontcache (`--config FILE`), for checking
the integration harness's proxy mode before the real proxy exists:

    FRONTCACHE_TARGET=proxy FRONTCACHE_BIN=integration/tools/fake_frontcache.py ctest -L integration

Each client connection gets its own upstream connection, so everything a Redis user checks
passes except what is frontcache's own (INFO section, -NOPROTO, surviving an upstream kill).
"""
import asyncio
import signal
import sys


def read_config(path):
    listen = upstream = None
    section = None
    with open(path) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(':')
            value = value.strip()
            if indent == 0:
                section = key
                if key == 'listen':
                    listen = value
            elif section == 'upstream' and key == 'address':
                upstream = value
    return listen, upstream


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    if len(sys.argv) != 3 or sys.argv[1] != '--config':
        print('usage: fake_frontcache.py --config FILE', file=sys.stderr)
        sys.exit(2)
    listen, upstream = read_config(sys.argv[2])
    lhost, lport = listen.rsplit(':', 1)
    uhost, uport = upstream.rsplit(':', 1)

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(uhost, int(uport))
        except OSError as e:
            cwriter.write(b'-ERR upstream unavailable: ' + str(e).encode() + b'\r\n')
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, uwriter), pipe(ureader, cwriter))

    server = await asyncio.start_server(handle, lhost, int(lport), backlog=1024)
    print(f'fake frontcache listening on {listen}, upstream {upstream}', file=sys.stderr, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()
    print('fake frontcache: SIGTERM, exiting', file=sys.stderr, flush=True)


if __name__ == '__main__':
    asyncio.run(main())
