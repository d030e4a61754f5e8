"""Native Tornado peer for the hello benchmarks: web.Application with one
RequestHandler answering GET /hello with "Hello, world".

    python3 tornado_hello.py [--port N] [--address A] [--uvloop]

--uvloop installs uvloop's asyncio event loop policy before Tornado creates
its IOLoop, so the same Tornado code runs on libuv instead of asyncio's
selector loop. Access logging stays off (Tornado logs nothing unless
logging is configured).
"""
import argparse
import asyncio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=9201)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.write("Hello, world")

    async def serve():
        app = tornado.web.Application([(r"/hello", Hello)])
        app.listen(args.port, args.address)
        print(f"tornado_hello: listening on {args.address}:{args.port}"
              f"{' (uvloop)' if args.uvloop else ''}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
