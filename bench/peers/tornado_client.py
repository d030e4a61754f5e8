"""Client benchmark peer: N keep-alive GETs at concurrency C with Tornado's
simple_httpclient. Prints "requests wall_s cpu_s req_per_cpu_s", the same
line bench/client_tornuv and bench/client_curl print; CPU is the process's
own user + system time (resource.getrusage), after a warm-up of 100
requests that is not counted. simple_httpclient opens one connection per
request (it has no keep-alive), so that cost is part of its figure.

    python3 tornado_client.py URL N C
"""
import asyncio
import resource
import sys
import time

from tornado.httpclient import AsyncHTTPClient, HTTPClientError


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def main(url, total, conc):
    AsyncHTTPClient.configure(
        "tornado.simple_httpclient.SimpleAsyncHTTPClient", max_clients=conc
    )
    client = AsyncHTTPClient()
    state = {"started": 0, "ok": 0, "failed": 0}

    async def worker():
        while state["started"] < total:
            state["started"] += 1
            try:
                res = await client.fetch(url, raise_error=False)
                if res.code == 200:
                    state["ok"] += 1
                else:
                    state["failed"] += 1
            except (HTTPClientError, OSError):
                state["failed"] += 1

    for _ in range(100):  # warm-up, not counted (same as the Node peer)
        await client.fetch(url, raise_error=False)
    c0, t0 = cpu_s(), time.monotonic()
    await asyncio.gather(*(worker() for _ in range(min(conc, total))))
    wall, cpu = time.monotonic() - t0, cpu_s() - c0
    ok = state["ok"]
    print("%d %.3f %.3f %.0f" % (ok, wall, cpu, ok / cpu if cpu > 0 else 0))
    if state["failed"]:
        print("tornado_client: %d failed" % state["failed"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print("usage: tornado_client.py URL N C", file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
