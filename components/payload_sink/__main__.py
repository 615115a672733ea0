"""python -m components.payload_sink --log-uri URI [--host 0.0.0.0] [--port 8080]"""

from __future__ import annotations

import argparse
import signal
import threading

from components.payload_sink.server import PayloadSink


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m components.payload_sink", description=__doc__)
    p.add_argument("--log-uri", required=True, help="prediction log root (local path or tf.io.gfile URI, e.g. s3://)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (the manifest passes 0.0.0.0)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--flush-seconds", type=float, default=10.0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(argv)
    from components._shared.artifacts import register_filesystem

    register_filesystem(ns.log_uri)  # s3:// comes from tensorflow-io (the runtime image), configured by S3_*/AWS_*
    sink = PayloadSink(ns.log_uri, ns.host, ns.port, ns.flush_seconds).start()
    print(f"kfx payload sink on {sink.url} -> {ns.log_uri}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sink.close()  # writes every buffered record: a clean shutdown loses nothing
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
