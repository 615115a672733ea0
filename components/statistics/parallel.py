"""The statistics step's work over several processes (``components/statistics/logic.py`` decides what runs where):
the features dealt into groups, one per CPU; each group's statistics put back together as one process computes
them; jobs run in this process and forked ones beside it."""

from __future__ import annotations

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2


class ParallelError(RuntimeError):
    """A job failed (in this process or a forked one); the message names the job."""


def feature_groups(schema: schema_pb2.Schema, n: int) -> list[list[str]]:
    """The schema's features dealt into ``n`` groups (fewer when there are fewer features) with a like share of
    each type (a string feature costs TFDV more than a number), each group in the schema's order."""
    features = sorted(schema.feature, key=lambda f: (f.type, f.name))
    dealt = [{f.name for f in features[i::n]} for i in range(min(n, len(features)))]
    return [[f.name for f in schema.feature if f.name in group] for group in dealt]


def assemble(
    parts: list[statistics_pb2.DatasetFeatureStatisticsList], names: list[str]
) -> statistics_pb2.DatasetFeatureStatisticsList:
    """One split's statistics from its feature groups': the first group's dataset fields, every group's features
    in the columns' order ``names`` (the order TFDV's generators give them over all columns at once)."""
    order = {name: i for i, name in enumerate(names)}
    features = [f for p in parts for f in p.datasets[0].features]
    features.sort(key=lambda f: order.get(f.path.step[0] if f.path.step else f.name, len(order)))
    out = statistics_pb2.DatasetFeatureStatisticsList()
    out.CopyFrom(parts[0])
    del out.datasets[0].features[:]
    out.datasets[0].features.extend(features)
    return out


def run_parallel(jobs: list[tuple], labels: list[str]) -> list:
    """``fn(*args)`` of each job: the first in this process, the others each in a forked process beside it;
    results in the jobs' order. A failure anywhere is a ParallelError naming its job's label."""
    children = [_fork(fn, args, label) for (fn, args), label in zip(jobs[1:], labels[1:], strict=True)]
    try:
        fn, args = jobs[0]
        try:
            first = fn(*args)
        except Exception as e:
            raise ParallelError(f"statistics of {labels[0]} failed: {type(e).__name__}: {e}") from e
        return [first] + [_join(label, *child) for label, child in zip(labels[1:], children, strict=True)]
    finally:
        for process, _ in children:
            if process.is_alive():
                process.terminate()


def _fork(fn, args: tuple, label: str) -> tuple:
    """Start ``fn(*args)`` in a forked process (fork: nothing is imported again or pickled but the result)."""
    import multiprocessing
    import pickle

    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)

    def run() -> None:
        try:
            child.send(("ok", pickle.dumps(fn(*args))))
        except BaseException as e:  # noqa: BLE001  (reported to the parent, which raises)
            child.send(("error", f"{type(e).__name__}: {e}"))

    process = context.Process(target=run, name="kfx-statistics", daemon=True)
    process.start()
    child.close()
    return process, parent


def _join(label: str, process, conn):
    import pickle

    try:
        status, payload = conn.recv()
    except EOFError:
        status, payload = "error", "the process ended without a result"
    process.join()
    if status != "ok":
        if process.exitcode is not None and process.exitcode < 0:  # killed by a signal: SIGKILL is the OOM killer's
            payload += (
                f" (killed by signal {-process.exitcode}: most likely out of memory; give the statistics step more "
                "memory, or fewer CPUs: each CPU it may use computes a group of features in its own process)"
            )
        raise ParallelError(f"statistics of {label} failed in its worker process (exit {process.exitcode}): {payload}")
    return pickle.loads(payload)
