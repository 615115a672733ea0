"""Which Apache Beam runner a step's ``beam_pipeline_args`` name, and whether it is local: one answer for every step."""

from __future__ import annotations

from collections.abc import Sequence

#: Runners that execute in this process (or its subprocesses) on this machine. PrismRunner is Beam's local
#: portable runner and FnApiRunner the in-process runner DirectRunner hands batch pipelines to: local, so the
#: in-memory/in-process fast paths apply to them too.
LOCAL_RUNNERS = frozenset(
    {
        "",
        "direct",
        "directrunner",
        "bundlebaseddirectrunner",
        "switchingdirectrunner",
        "prism",
        "prismrunner",
        "fnapi",
        "fnapirunner",
    }
)


def runner_of(beam_pipeline_args: Sequence[str] | None) -> str:
    """The runner named by ``--runner=X`` / ``--runner X`` (lower-cased), or "" when none is named."""
    args = list(beam_pipeline_args or ())
    for i, arg in enumerate(args):
        if arg.startswith("--runner="):
            return arg.split("=", 1)[1].strip().lower()
        if arg == "--runner" and i + 1 < len(args):
            return args[i + 1].strip().lower()
    return ""


def is_local(beam_pipeline_args: Sequence[str] | None) -> bool:
    """True when the named runner runs on this machine (no runner named = Beam's DirectRunner)."""
    return runner_of(beam_pipeline_args) in LOCAL_RUNNERS


def is_distributed(beam_pipeline_args: Sequence[str] | None) -> bool:
    """True for Dataflow, Flink, Spark, a portable job server or any other runner not known to be local."""
    return not is_local(beam_pipeline_args)
