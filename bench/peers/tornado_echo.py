"""Native Tornado peer for the echo benchmarks: a TCPServer whose
handle_stream reads lines with IOStream.read_until(b"\\n") and writes each
back (as examples/echo_stream.c does on tornuv).

    python3 tornado_echo.py [--port N] [--address A] [--uvloop]

--uvloop installs uvloop's asyncio event loop policy before Tornado starts.
"""
import argparse
import asyncio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=9202)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    from tornado.iostream import StreamClosedError
    from tornado.tcpserver import TCPServer

    class Echo(TCPServer):
        async def handle_stream(self, stream, address):
            stream.set_nodelay(True)
            try:
                while True:
                    line = await stream.read_until(b"\n", max_bytes=65536)
                    await stream.write(line)
            except StreamClosedError:
                pass

    async def serve():
        server = Echo()
        server.listen(args.port, args.address)
        print(f"tornado_echo: listening on {args.address}:{args.port}"
              f"{' (uvloop)' if args.uvloop else ''}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
