"""Serving benchmark: kfx's model server against a bare echo model on the same KServe stack.

Run in the serving environment (it builds/reuses the test model with the components env)::

    .venv-serving/bin/python benchmarks/serving.py [--duration 10] [--repeats 3] [--clients 16] [--rate 200]

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

All servers run side by side and every run is repeated ``--repeats`` times (>= 3), interleaved across
servers, so each model run is compared with the echo run made next to it; the summary prints median
[min-max] of the repetitions, the ratios to the echo measured in the same run, and each server's peak
RSS. Before measuring, the compared servers (micro-batching on/off, V1/V2) must give the same
predictions, equal to the training evaluation path's.

Targets (issues 3 and 6): model >= 50% of echo req/s for 1-row V1 requests at 16 clients; p99 < 20 ms
at 200 req/s; zero errors. Timings on a shared machine are noisy: compare the ratios.
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
import resource  # noqa: E402
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
        for _ in range(WARM_UP):  # warm connections and the server
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


def _floor(model_dir: str, rows: list[dict], repeats: int, calls: int = 300) -> dict[str, list[float]]:
    """Milliseconds per in-process call: parse + validate + TensorFlow (serving_raw), 1 and 32 rows; per repeat."""
    sys.argv = sys.argv[:1]
    import components  # noqa: F401
    from components.serving.model import KfxModel

    m = KfxModel(MODEL_NAME, model_dir)
    m.load()
    out: dict[str, list[float]] = {}
    for label, batch in (("1", rows[:1]), ("32", (rows * 32)[:32])):
        parsed = m.contract.parse_v1({"instances": batch})
        for _ in range(30):
            m.predict_instances(batch)
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(calls):
                m.predict_instances(batch)
            out.setdefault(f"predict {label} row(s)", []).append((time.perf_counter() - t) / calls * 1e3)
            t = time.perf_counter()
            for _ in range(calls):
                m.call(parsed)
            out.setdefault(f"TF call only {label} row(s)", []).append((time.perf_counter() - t) / calls * 1e3)
    out["call path"] = m.call_path  # type: ignore[assignment]
    return out


def _log_cost(model_dir: str, rows: list[dict], repeats: int, rounds: int = 150) -> dict[str, list[float]]:
    """Process CPU microseconds per request (parse + TensorFlow + logging, 16 concurrent requests per round),
    prediction logging off vs on, alternated; CPU time is far less disturbed by a busy machine than req/s."""
    import tempfile

    from components.serving.model import KfxModel

    m = KfxModel(MODEL_NAME, model_dir)
    m.load()

    async def burst(per: int) -> None:
        for _ in range(rounds):
            await asyncio.gather(*(m.predict({"instances": (rows * per)[:per]}, {}) for _ in range(16)))

    def cpu(per: int) -> float:
        t = time.process_time()
        asyncio.run(burst(per))
        return (time.process_time() - t) / rounds / 16 * 1e6

    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="kfx-prediction-log-") as log_dir:
        logger = m.log_predictions(log_dir, flush_seconds=2)
        for per in (1, 32):
            for _ in range(repeats):
                m.prediction_log = None
                off = cpu(per)
                m.prediction_log = logger
                on = cpu(per)
                out.setdefault(f"{per} row(s) off", []).append(off)
                out.setdefault(f"{per} row(s) on", []).append(on)
                out.setdefault(f"{per} row(s) on/off %", []).append(on / off * 100)
        logger.close()
    return out


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system, all threads); NaN where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MB; NaN where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _med(values: list[float]) -> str:
    """Median [min-max] of the repetitions."""
    return f"{statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}]"


def _med_f(values: list[float], fmt: str = ".1f") -> str:
    return f"{statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}]"


def _check_same_results(port_of: dict[str, int], bodies: dict[str, bytes], expected: list | None) -> None:
    """The compared servers (micro-batching on/off, V1/V2) answer the same predictions; equal to training's."""
    import numpy as np
    import requests

    answers = {}
    for target, port in port_of.items():
        if not target.startswith("model"):
            continue
        for kind in ("v1-32", "v2-32"):
            r = requests.post(f"http://127.0.0.1:{port}{_path(kind)}", data=bodies[kind], timeout=30)
            r.raise_for_status()
            doc = r.json()
            out = doc["predictions"] if kind.startswith("v1") else doc["outputs"][0]["data"]
            answers[(target, kind)] = np.ravel(np.array(out, dtype=float))
    first = next(iter(answers.values()))
    for key, out in answers.items():
        if not np.allclose(out, first, atol=1e-5):
            raise SystemExit(f"compared paths disagree: {key} gives {out[:4]}..., expected {first[:4]}...")
    if expected is not None and not np.allclose(first, np.ravel(expected), atol=1e-5):
        raise SystemExit("the server's predictions differ from the training evaluation path's")
    print(f"results: {len(answers)} server/protocol combinations give identical predictions", end="")
    print(" (equal to the training evaluation path)" if expected is not None else "")


def _load_rows(model_dir: str | None) -> tuple[str, dict[str, str], list[dict], list | None]:
    import json

    if model_dir:
        expected_path = os.path.join(os.path.dirname(os.path.abspath(model_dir)), "expected.json")
        doc = json.load(open(expected_path)) if os.path.exists(expected_path) else {"instances": []}
    else:
        from tests.testdata.build_serving_model import ensure_built

        doc = ensure_built()
        model_dir = doc["model_dir"]
    from components._shared.artifacts.model import read_model_meta

    features = read_model_meta(model_dir)["features"]
    idx = [i for i, r in enumerate(doc["instances"]) if len(r) == len(features)]  # complete rows
    rows = [doc["instances"][i] for i in idx]
    expected = None
    if rows and "predictions" in doc:  # what the training env predicts for the 32-row body (rows cycled)
        preds = [doc["predictions"][i] for i in idx]
        expected = (preds * 32)[:32]
    if not rows:  # a model without the test's parity rows: one synthetic row of the right types
        rows = [{f: {"int64": 1, "float32": 1.0}.get(t, "x") for f, t in features.items()}]
    return model_dir, features, rows, expected


def main() -> None:
    p = argparse.ArgumentParser(description="kfx serving benchmark (closed loop vs echo; open-loop rate test)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per closed-loop run (1-120)")
    p.add_argument("--repeats", type=int, default=3, help="repetitions of every run (>= 3); median [min-max] printed")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--rate", type=float, default=200.0, help="open-loop requests/s")
    p.add_argument("--rate-duration", type=float, default=10.0)
    p.add_argument("--model-dir", help="a kfx model artifact (default: the cached test model, built if needed)")
    p.add_argument("--skip-no-batching", action="store_true", help="don't measure the --no-micro-batching server")
    p.add_argument(
        "--logging-only",
        action="store_true",
        help="only prediction logging on vs off: the model server with and without --prediction-log, 1 and 32 rows",
    )
    p.add_argument("--serve-echo", type=int, help=argparse.SUPPRESS)
    p.add_argument("--serve-raw", type=int, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.serve_echo:
        return serve_echo(a.serve_echo)
    if a.serve_raw:
        return serve_raw(a.serve_raw)
    a.duration = min(max(a.duration, 1.0), 120.0)
    a.rate_duration = min(max(a.rate_duration, 1.0), 120.0)
    a.repeats = max(a.repeats, 3)
    model_dir, features, rows, expected = _load_rows(a.model_dir)
    bodies = _bodies(rows, features)
    print(f"model {model_dir}; {a.clients} clients x {a.duration:.0f}s closed loop; open loop {a.rate:.0f} req/s")
    print(f"{a.repeats} repetitions, interleaved across servers; figures are median [min-max]")
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (on a shared machine figures are noisy)"
    )
    floor = {} if a.logging_only else _floor(model_dir, rows, a.repeats)
    log_cost = _log_cost(model_dir, rows, a.repeats)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kfx-prediction-log-") as log_dir:
        procs, port_of = _start_servers(model_dir, a.skip_no_batching, log_dir, a.logging_only)
        try:
            _check_same_results(port_of, bodies, expected)
            runs, rates = _measure(a, port_of, bodies, {t: p.pid for t, p in procs.items()})
            rss = {t: _peak_rss_mb(procs[t].pid) for t in procs}
        finally:
            for proc in procs.values():
                _stop(proc)  # SIGTERM: a clean shutdown, the prediction log is flushed
        if not a.logging_only:
            _report(a, runs, rates, floor, rss)
        _report_log(log_dir, runs, log_cost, rss)


def _report_log(log_dir: str, runs: dict, log_cost: dict[str, list[float]], rss: dict[str, float]) -> None:
    """Logging on vs off (per repetition, each logging-on run next to its logging-off run), every answered row
    logged, and the two servers' peak RSS."""
    from datetime import UTC, datetime, timedelta

    from components._shared.artifacts import prediction_log as plog

    kinds = [k for (t, k) in runs if t == "model, logging"]
    print("\nprediction logging on / off (same run, per repetition):")
    for kind in kinds:
        on, off = runs[("model, logging", kind)], runs[("model", kind)]
        ratio = [r["rps"] / o["rps"] * 100 for r, o in zip(on, off, strict=True)]
        verdict = "PASS" if statistics.median(ratio) >= 85 else "FAIL"
        print(
            f"  {kind:<6} on {_med([r['rps'] for r in on])} req/s, off {_med([r['rps'] for r in off])} req/s: "
            f"{_med_f(ratio, '.0f')} % of logging off (target >= 85%: {verdict})"
        )
        cpu = [r["cpu_ms"] / o["cpu_ms"] * 100 for r, o in zip(on, off, strict=True)]
        print(
            f"         server CPU ms per request: on {_med_f([r['cpu_ms'] for r in on], '.3f')}, off "
            f"{_med_f([r['cpu_ms'] for r in off], '.3f')}: {_med_f(cpu, '.0f')} % of logging off"
        )
    answered = 2 * 32 + sum(
        (r["n"] + WARM_UP) * ROWS[k] for (t, k), rs in runs.items() if t == "model, logging" for r in rs
    )
    now = datetime.now(UTC)
    files = plog.window_files(log_dir, now - timedelta(hours=3), now + timedelta(hours=1))
    logged = sum(1 for _ in plog.read_records(files))
    print(f"  rows answered {answered}, rows logged {logged} ({'PASS' if logged == answered else 'FAIL'})")
    print(f"  peak RSS (MB): logging off {rss['model']:.0f}, logging on {rss['model, logging']:.0f}")
    print("  in process, CPU microseconds per request (16 concurrent, no HTTP), logging off / on:")
    for key, values in log_cost.items():
        print(f"    {key:<20}{_med_f(values, '.0f'):>20}")


TARGETS = {  # target -> request kinds measured on it
    "client ceiling (raw)": ["v1-1"],
    "echo (ceiling)": ["v1-1", "v1-32", "v2-1", "v2-32"],
    "model": ["v1-1", "v1-32", "v2-1", "v2-32"],
    "model, no batching": ["v1-1", "v2-1"],
    "model, logging": ["v1-1", "v1-32"],  # --prediction-log to a temp dir (compared with "model")
}
LOGGING_ONLY = {"model": ["v1-1", "v1-32"], "model, logging": ["v1-1", "v1-32"]}
ROWS = {"v1-1": 1, "v1-32": 32, "v2-1": 1, "v2-32": 32}
WARM_UP = 3  # requests each closed loop sends before measuring


def _start_servers(
    model_dir: str, skip_no_batching: bool, log_dir: str, logging_only: bool = False
) -> tuple[dict[str, subprocess.Popen], dict[str, int]]:
    """All compared servers, alive together, so repetitions interleave and share the machine's noise."""
    py = sys.executable
    serve = [py, "-m", "components.serving", "--model-dir", model_dir, "--model-name", MODEL_NAME, "--http-port"]
    commands = {
        "client ceiling (raw)": lambda port: ([py, __file__, "--serve-raw", str(port)], "/"),
        "echo (ceiling)": lambda port: ([py, __file__, "--serve-echo", str(port)], "/v2/health/ready"),
        "model": lambda port: ([*serve, str(port)], "/v2/health/ready"),
        "model, no batching": lambda port: ([*serve, str(port), "--no-micro-batching"], "/v2/health/ready"),
        "model, logging": lambda port: ([*serve, str(port), "--prediction-log", log_dir], "/v2/health/ready"),
    }
    if skip_no_batching:
        del commands["model, no batching"]
    if logging_only:
        commands = {t: c for t, c in commands.items() if t in LOGGING_ONLY}
    procs, port_of = {}, {}
    try:
        for target, command in commands.items():
            port = _free_port()
            cmd, ready = command(port)
            procs[target], port_of[target] = _start(cmd, port, ready), port
    except BaseException:
        for proc in procs.values():
            _stop(proc)
        raise
    return procs, port_of


def _measure(
    a: argparse.Namespace, port_of: dict[str, int], bodies: dict[str, bytes], pid_of: dict[str, int]
) -> tuple[dict, list]:
    """{(target, kind): [result per repetition]}, and the open-loop results per repetition. Each result also has
    the server's CPU milliseconds per request (all its threads, the prediction log's writer included)."""
    runs: dict[tuple[str, str], list[dict]] = {}
    rates = []
    print(f"\n{'repeat':<8}{'target':<22}{'request':<10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    targets = LOGGING_ONLY if a.logging_only else TARGETS
    for rep in range(a.repeats):
        # by request kind, then target: a logging-on run follows its logging-off run (alternating; the order
        # flips every repetition so neither side always runs first)
        order = list(port_of) if rep % 2 == 0 else list(reversed(port_of))
        for kind in ROWS:
            for target in order:
                if kind not in targets.get(target, []):
                    continue
                url = f"http://127.0.0.1:{port_of[target]}{_path(kind)}"
                cpu = _cpu_seconds(pid_of[target])
                res = asyncio.run(_closed_loop(url, bodies[kind], a.clients, a.duration))
                res["cpu_ms"] = (_cpu_seconds(pid_of[target]) - cpu) / (res["n"] + WARM_UP) * 1e3
                runs.setdefault((target, kind), []).append(res)
                print(f"{rep + 1:<8}", end="")
                _print_row(target, kind, res)
        if a.logging_only:
            continue
        url = f"http://127.0.0.1:{port_of['model']}{_path('v1-1')}"
        rates.append(asyncio.run(_open_loop(url, bodies["v1-1"], a.rate, a.rate_duration)))
        r = rates[-1]
        print(
            f"{rep + 1:<8}open loop {a.rate:.0f} req/s: p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, {r['errors']} errors"
        )
    return runs, rates


def _report(a: argparse.Namespace, runs: dict, rates: list, floor: dict, rss: dict[str, float]) -> None:
    print(f"\nsummary, median [min-max] of {a.repeats} repetitions:")
    print(f"{'target':<22}{'request':<10}{'req/s':>20}{'p50 ms':>20}{'p99 ms':>20}{'errors':>8}{'vs echo':>22}")
    ratio: dict[tuple[str, str], list[float]] = {}
    for (target, kind), rs in runs.items():
        echo = runs.get(("echo (ceiling)", kind))
        if target.startswith("model") and echo:  # per repetition: each model run against the echo run next to it
            ratio[(target, kind)] = [r["rps"] / e["rps"] * 100 for r, e in zip(rs, echo, strict=True)]
        vs = _med_f(ratio[(target, kind)], ".0f") + " %" if (target, kind) in ratio else ""
        print(
            f"{target:<22}{kind:<10}{_med([r['rps'] for r in rs]):>20}{_med_f([r['p50'] for r in rs]):>20}"
            f"{_med_f([r['p99'] for r in rs]):>20}{sum(r['errors'] for r in rs):>8}{vs:>22}"
        )
    raw = runs[("client ceiling (raw)", "v1-1")]
    echo = runs[("echo (ceiling)", "v1-1")]
    client = [e["rps"] / r["rps"] * 100 for e, r in zip(echo, raw, strict=True)]
    print(f"echo 1-row V1 / client ceiling: {_med_f(client, '.0f')} %")
    print(f"\nopen loop, {a.rate:.0f} req/s for {a.rate_duration:.0f}s, 1-row V1 on the model:")
    print(
        f"  achieved {_med([r['rps'] for r in rates])} req/s, p50 {_med_f([r['p50'] for r in rates])} ms, "
        f"p99 {_med_f([r['p99'] for r in rates])} ms, errors {sum(r['errors'] for r in rates)}"
    )
    print(f"\nfloor (in-process, this process, ms per call; serving_raw call path: {floor.pop('call path')}):")
    for k, v in floor.items():
        print(f"  {k:<26}{_med_f(v, '.2f'):>22}")
    print("\npeak RSS (MB): " + ", ".join(f"{t} {v:.0f}" for t, v in rss.items()))
    print(f"  this client process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    errors = sum(r["errors"] for rs in runs.values() for r in rs) + sum(r["errors"] for r in rates)
    one_row = statistics.median(ratio[("model", "v1-1")])
    p99 = statistics.median(r["p99"] for r in rates)
    print("\ntargets (medians):")
    print(f"  1-row V1 >= 50% of echo: {one_row:.0f}% {'PASS' if one_row >= 50 else 'FAIL'}")
    print(f"  p99 < 20 ms at {a.rate:.0f} req/s: {p99:.1f} ms {'PASS' if p99 < 20 else 'FAIL'}")
    print(f"  zero errors: {errors} {'PASS' if errors == 0 else 'FAIL'}")


def _print_row(target: str, kind: str, r: dict) -> None:
    print(f"{target:<22}{kind:<10}{r['rps']:9.0f}{r['p50']:9.1f}{r['p99']:9.1f}{r['errors']:8d}", flush=True)


if __name__ == "__main__":
    main()
