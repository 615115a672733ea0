"""Compile the kfx pipelines to versioned YAML: ``pipelines/compiled/<version>/<name>.yaml``."""

from __future__ import annotations

import argparse
import os
import sys

from components._shared.version import __version__

HERE = os.path.dirname(os.path.abspath(__file__))


def compiled_dir(version: str = __version__) -> str:
    return os.path.join(HERE, "compiled", version)


def compile_all(out_dir: str | None = None) -> list[str]:
    """Compile every pipeline; return the written paths."""
    from kfp import compiler

    from pipelines.monitoring import monitoring_pipeline
    from pipelines.train_and_deploy import train_and_deploy
    from pipelines.training import training_pipeline

    out_dir = out_dir or compiled_dir()
    os.makedirs(out_dir, exist_ok=True)
    written = []
    pipelines = (
        ("training", training_pipeline),
        ("train_and_deploy", train_and_deploy),
        ("monitoring", monitoring_pipeline),
    )
    for name, pipeline in pipelines:
        path = os.path.join(out_dir, f"{name}.yaml")
        compiler.Compiler().compile(pipeline, package_path=path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.compile", description=__doc__)
    p.add_argument("--out", default=None, help=f"output folder (default: pipelines/compiled/{__version__}/)")
    ns = p.parse_args(argv)
    for path in compile_all(ns.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
