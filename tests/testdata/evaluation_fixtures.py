"""Evaluation summaries from real evaluate runs, committed so report tests render real content in seconds.

``python -m tests.testdata.evaluation_fixtures`` regenerates ``tests/testdata/evaluation/{binary,multiclass,
regression}.json`` (the ``evaluation.json`` of the evaluation artifact) with the real chain: synthetic fraud data ->
ingest -> TFDV -> TFT -> Keras -> TFMA. binary: the fraud model against itself as baseline, sliced by channel;
multiclass (channel_id) and regression (log_amount): the multitask module. Rerun it when the summary format changes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import components  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "evaluation")
MULTITASK_MODULE = os.path.join(HERE, "engineer_d_multitask_module.py")
KINDS = ("binary", "multiclass", "regression")


def path(kind: str) -> str:
    return os.path.join(OUT, f"{kind}.json")


def load(kind: str) -> dict:
    with open(path(kind)) as f:
        return json.load(f)


def main() -> None:
    from components._shared.artifacts.evaluation import read_summary
    from components.evaluate.logic import evaluate_model
    from components.train.logic import run_training
    from tests.testdata.chain import build_chain

    work = tempfile.mkdtemp(prefix="kfx_eval_fixtures_")
    os.makedirs(OUT, exist_ok=True)
    try:
        fraud = build_chain(os.path.join(work, "fraud"), n_rows=3000, epochs=3)
        runs = {
            "binary": (fraud, fraud["model"], {"slice_features": ["channel"], "baseline_model_dir": fraud["model"]})
        }
        multi = build_chain(os.path.join(work, "multi"), n_rows=2500, module_file=MULTITASK_MODULE, train=False)
        for kind, label, extra in (("multiclass", "channel_id", {"num_classes": 3}), ("regression", "log_amount", {})):
            model = os.path.join(work, kind)
            run_training(multi["transformed_examples"], multi["transform_graph"], MULTITASK_MODULE, model,
                         label_key=label, task=kind, epochs=5, **extra)  # fmt: skip
            runs[kind] = (multi, model, {"slice_features": ["device_type"]})
        for kind, (chain, model, kwargs) in runs.items():
            out = os.path.join(work, f"out_{kind}")
            evaluate_model(model, chain["examples"], f"{out}/evaluation", f"{out}/blessing", **kwargs)
            summary = read_summary(f"{out}/evaluation")
            for key in ("baseline",):  # a temp path means nothing in the repository
                if summary.get(key):
                    summary[key] = "/tmp/baseline_model"
            with open(path(kind), "w") as f:
                json.dump(summary, f, indent=1, sort_keys=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
