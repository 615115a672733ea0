"""Serving benchmark: kfx's model server against a bare echo model on the same KServe stack.

Run in the serving environment (it builds/reuses the test model with the components env)::

    .venv-serving/bin/python benchmarks/serving.py [--duration 20] [--clients 16] [--rate 200]

What it prints (all on 127.0.0.1, one uvicorn worker each):

* **client ceiling**: this script's own asyncio/aiohttp client against a minimal asyncio HTTP
  responder: the most req/s the client can drive on this machine (if the echo gets close to it,
  the client, not KServe, limits the echo figure).
* **echo** (the ceiling): a ``kserve.Model`` that returns a constant, served by ``KfxModelServer``
  (the same KServe/FastAPI/uvicorn stack as the model).
* **model**: ``python -m components.serving`` on the real test model; and the same with
  ``--no-micro-batching`` (one TensorFlow call per request) for comparison.
* closed loop: ``--clients`` concurrent clients, each sending its next request when the last one
  answered, for ``--duration`` seconds; 1-row and 32-row requests; V1 and V2.
* open loop: ``--rate`` 1-row V1 requests per second on a fixed schedule (latency counted from
  the scheduled send time, so a stalled server can't hide its queue).
* **floor**: the in-process cost of one model call (parse + validate + TensorFlow) in this process.

Targets (issue 3): model >= 50% of echo req/s for 1-row requests at 16 clients; p99 < 20 ms at
200 req/s; zero errors. Timings on a shared machine are noisy: run it twice.
"""

from __future__ import annotations

import os
import sys

# benchmarks/ holds other scripts (e.g. statistics.py) that would shadow stdlib modules: import from the root.
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:] = [ROOT] + [p for p in sys.path if os.path.abspath(p or ".") not in (HERE, ROOT)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

MODEL_NAME = "fraud"


# ------------------------------------------------------------------------------------------ servers
def serve_echo(port: int) -> None:
    """The ceiling: a kserve.Model returning a constant, on the same server stack as kfx's model."""
    sys.argv = sys.argv[:1]
    import kserve
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

    from components.serving.server import KfxModelServer

    class Echo(kserve.Model):
        def load(self) -> bool:
            self.ready = True
            return True

        async def predict(self, payload, headers=None):
            if isinstance(payload, InferRequest):
                n = payload.inputs[0].shape[0]
                out = InferOutput(name="outputs", shape=[n, 1], datatype="FP32", data=[0.5] * n)
                return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=[out])
            return {"predictions": [[0.5]] * len(payload["instances"])}

    model = Echo(MODEL_NAME)
    model.load()
    KfxModelServer(host="127.0.0.1", http_port=port).start([model])


def serve_raw(port: int) -> None:
    """A minimal keep-alive HTTP/1.1 responder (asyncio protocol): measures the client's own ceiling."""
    body = b'{"predictions": [[0.5]]}'
    response = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    class Proto(asyncio.Protocol):
        def connection_made(self, transport):
            self.t, self.buf = transport, b""

        def data_received(self, data):
            self.buf += data
            while b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if len(rest) < length:
                    return
                self.buf = rest[length:]
                self.t.write(response)

    async def main():
        server = await asyncio.get_running_loop().create_server(Proto, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cmd: list[str], port: int, ready_path: str, timeout: float = 180) -> subprocess.Popen:
    import tempfile

    import requests

    log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the server's logging
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}{ready_path}", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{' '.join(cmd)} not ready after {timeout}s")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------------------------------ load
def _bodies(rows: list[dict], features: dict[str, str]) -> dict[str, bytes]:
    import json

    v2type = {"int64": "INT64", "float32": "FP32", "string": "BYTES"}

    def v2(rs):
        inputs = [
            {"name": f, "shape": [len(rs)], "datatype": v2type[t], "data": [r[f] for r in rs]}
            for f, t in sorted(features.items())
        ]
        return json.dumps({"inputs": inputs}).encode()

    one, many = rows[:1], (rows * 32)[:32]
    return {
        "v1-1": json.dumps({"instances": one}).encode(),
        "v1-32": json.dumps({"instances": many}).encode(),
        "v2-1": v2(one),
        "v2-32": v2(many),
    }


def _path(kind: str) -> str:
    return f"/v1/models/{MODEL_NAME}:predict" if kind.startswith("v1") else f"/v2/models/{MODEL_NAME}/infer"


async def _closed_loop(url: str, body: bytes, clients: int, duration: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    headers = {"content-type": "application/json"}
    conn = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=conn) as session:
        for _ in range(3):  # warm connections and the server
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()
        stop = time.perf_counter() + duration

        async def client():
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    ok = False
                latencies.append(time.perf_counter() - t)
                errors += not ok

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - start
    return _summary(latencies, errors, elapsed)


async def _open_loop(url: str, body: bytes, rate: float, duration: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    headers = {"content-type": "application/json"}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as session:
        for _ in range(3):
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()

        async def one(scheduled: float):
            nonlocal errors
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    errors += r.status != 200
            except (TimeoutError, aiohttp.ClientError):
                errors += 1
            latencies.append(time.perf_counter() - scheduled)  # from the scheduled time: no coordinated omission

        start = time.perf_counter() + 0.05
        n = int(rate * duration)
        await asyncio.gather(*(one(start + i / rate) for i in range(n)))
        elapsed = time.perf_counter() - start
    return _summary(latencies, errors, elapsed)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict:
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [lat[0]] * 99
    return {"n": len(lat), "rps": len(lat) / elapsed, "p50": q[49] * 1e3, "p99": q[98] * 1e3, "errors": errors}


def _floor(model_dir: str, rows: list[dict], repeats: int = 300) -> dict[str, float]:
    """Microseconds per in-process call: parse + validate + TensorFlow (serving_raw), 1 and 32 rows."""
    sys.argv = sys.argv[:1]
    import components  # noqa: F401
    from components.serving.model import KfxModel

    m = KfxModel(MODEL_NAME, model_dir)
    m.load()
    out = {}
    for label, batch in (("1", rows[:1]), ("32", (rows * 32)[:32])):
        parsed = m.contract.parse_v1({"instances": batch})
        for _ in range(30):
            m.predict_instances(batch)
        t = time.perf_counter()
        for _ in range(repeats):
            m.predict_instances(batch)
        out[f"predict {label} row(s)"] = (time.perf_counter() - t) / repeats * 1e3
        t = time.perf_counter()
        for _ in range(repeats):
            m.call(parsed)
        out[f"TF call only {label} row(s)"] = (time.perf_counter() - t) / repeats * 1e3
    return out


def main() -> None:
    p = argparse.ArgumentParser(description="kfx serving benchmark (closed loop vs echo; open-loop rate test)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds per closed-loop run (1-120)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    p.add_argument("--rate-duration", type=float, default=10.0)
    p.add_argument("--model-dir", help="a kfx model artifact (default: the cached test model, built if needed)")
    p.add_argument("--skip-no-batching", action="store_true", help="don't measure the --no-micro-batching server")
    p.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    p.add_argument("--serve-raw", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_echo:
        return serve_echo(a.serve_echo)
    if a.serve_raw:
        return serve_raw(a.serve_raw)
    a.duration = min(max(a.duration, 1.0), 120.0)
    a.rate_duration = min(max(a.rate_duration, 1.0), 120.0)

    import json

    if a.model_dir:
        model_dir = a.model_dir
        expected_path = os.path.join(os.path.dirname(os.path.abspath(model_dir)), "expected.json")
        instances = json.load(open(expected_path))["instances"] if os.path.exists(expected_path) else []
    else:
        from tests.testdata.build_serving_model import ensure_built

        expected = ensure_built()
        model_dir, instances = expected["model_dir"], expected["instances"]
    with open(os.path.join(model_dir, "model.json")) as f:
        features = json.load(f)["features"]
    rows = [r for r in instances if len(r) == len(features)]  # complete rows
    if not rows:  # a model without the test's parity rows: one synthetic row of the right types
        rows = [{f: {"int64": 1, "float32": 1.0}.get(t, "x") for f, t in features.items()}]
    bodies = _bodies(rows, features)
    print(f"model {model_dir}; {a.clients} clients x {a.duration:.0f}s closed loop; open loop {a.rate:.0f} req/s")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (shared machine: figures are noisy)")

    floor = _floor(model_dir, rows)
    results: list[tuple[str, str, dict]] = []
    py = sys.executable

    def run(target: str, cmd: list[str], port: int, ready: str, kinds: list[str]) -> None:
        proc = _start(cmd, port, ready)
        try:
            for kind in kinds:
                url = f"http://127.0.0.1:{port}{_path(kind)}"
                res = asyncio.run(_closed_loop(url, bodies[kind], a.clients, a.duration))
                results.append((target, kind, res))
                _print_row(target, kind, res)
        finally:
            _stop(proc)

    print(f"\n{'target':<22}{'request':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    port = _free_port()
    run("client ceiling (raw)", [py, __file__, "--serve-raw", str(port)], port, "/", ["v1-1"])
    port = _free_port()
    run("echo (ceiling)", [py, __file__, "--serve-echo", str(port)], port, "/v2/health/ready", list(bodies))
    serve = [py, "-m", "components.serving", "--model-dir", model_dir, "--model-name", MODEL_NAME, "--http-port"]
    port = _free_port()
    proc = _start([*serve, str(port)], port, "/v2/health/ready")
    try:
        for kind in bodies:
            res = asyncio.run(
                _closed_loop(f"http://127.0.0.1:{port}{_path(kind)}", bodies[kind], a.clients, a.duration)
            )
            results.append(("model", kind, res))
            _print_row("model", kind, res)
        rate = asyncio.run(
            _open_loop(f"http://127.0.0.1:{port}{_path('v1-1')}", bodies["v1-1"], a.rate, a.rate_duration)
        )
    finally:
        _stop(proc)
    if not a.skip_no_batching:
        port = _free_port()
        run(
            "model, no batching", [*serve, str(port), "--no-micro-batching"], port, "/v2/health/ready", ["v1-1", "v2-1"]
        )

    print(f"\nopen loop, {a.rate:.0f} req/s for {a.rate_duration:.0f}s, 1-row V1 on the model:")
    print(
        f"  achieved {rate['rps']:.0f} req/s, p50 {rate['p50']:.1f} ms, p99 {rate['p99']:.1f} ms, errors {rate['errors']}"
    )
    print("\nfloor (in-process, this process, ms per call):")
    for k, v in floor.items():
        print(f"  {k:<26}{v:8.2f}")
    echo = {kind: r["rps"] for t, kind, r in results if t == "echo (ceiling)"}
    ceiling = next(r["rps"] for t, _, r in results if t.startswith("client ceiling"))
    print("\nratios:")
    print(f"  echo 1-row V1 / client ceiling: {echo['v1-1'] / ceiling:.0%}")
    for target, kind, r in results:
        if target.startswith("model"):
            print(f"  {target:<20} {kind:<6} {r['rps'] / echo[kind]:6.0%} of echo")
    errors = sum(r["errors"] for _, _, r in results) + rate["errors"]
    one_row = next(r["rps"] for t, k, r in results if t == "model" and k == "v1-1") / echo["v1-1"]
    print("\ntargets:")
    print(f"  1-row V1 >= 50% of echo: {one_row:.0%} {'PASS' if one_row >= 0.5 else 'FAIL'}")
    print(f"  p99 < 20 ms at {a.rate:.0f} req/s: {rate['p99']:.1f} ms {'PASS' if rate['p99'] < 20 else 'FAIL'}")
    print(f"  zero errors: {errors} {'PASS' if errors == 0 else 'FAIL'}")


def _print_row(target: str, kind: str, r: dict) -> None:
    print(f"{target:<22}{kind:<10}{r['rps']:9.0f}{r['p50']:9.1f}{r['p99']:9.1f}{r['errors']:8d}", flush=True)


if __name__ == "__main__":
    main()
