"""``make serve``: serve the last blessed model of ``make run`` with kfx's KServe predictor, on 127.0.0.1.

Runs in the serving environment (kserve + tensorflow-cpu; no kfp or TFT): it reads
``<root>/last_blessed.json`` written by ``pipelines.run``, prints a ready-to-paste curl command built from
a real eval row of that run, and hands over to ``python -m components.serving``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def example_instance(examples_dir: str, drop: list[str]) -> dict:
    """One real eval row of the run, as a V1 instance (raw features, label columns dropped)."""
    from components._shared.artifacts.examples import read_rows

    row = read_rows(examples_dir, "eval", 1, drop=drop)[0]
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.serve", description=__doc__.split("\n")[0])
    p.add_argument("--root", default="runs", help="root of `make run` (default: runs/)")
    p.add_argument("--model-name", default="kfx")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--http-port", type=int, default=8080)
    ns = p.parse_args(argv)
    from pipelines.rundir import LAST_BLESSED

    info_path = os.path.join(ns.root, LAST_BLESSED)
    if not os.path.exists(info_path):
        print(f"no blessed model under {ns.root}/ yet: run `make run` first", file=sys.stderr)
        return 2
    with open(info_path) as f:
        info = json.load(f)
    model_dir = info["model_dir"]
    from components._shared.artifacts.model import read_model_meta

    meta = read_model_meta(model_dir)
    instance = example_instance(info["artifacts"]["ingest/examples"], list(meta.get("raw_label_keys", [])))
    host = "127.0.0.1" if ns.host in ("0.0.0.0", "") else ns.host
    body = json.dumps({"instances": [instance]})
    print(f"\nserving {model_dir}\nas '{ns.model_name}' on http://{host}:{ns.http_port} once ready; try:\n")
    print(f"  curl -s http://{host}:{ns.http_port}/v1/models/{ns.model_name}:predict -d '{body}'\n", flush=True)
    from components.serving.__main__ import main as serve

    serve(
        ["--model-dir", model_dir, "--model-name", ns.model_name, "--host", ns.host, "--http-port", str(ns.http_port)]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
