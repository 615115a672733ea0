"""The canonical TFX Chicago-taxi pipeline on kfx's taxi features and model; run in the TFX env by tfx_peer.py.

    .venv-tfx/bin/python benchmarks/_tfx_pipeline.py '<json: data_dir, work, rows, epochs, start>'

CsvExampleGen (80/20 hash split) -> StatisticsGen -> SchemaGen -> ExampleValidator -> Transform -> Trainer ->
(latest blessed model resolver) -> Evaluator (AUC etc., overall and by payment_type) -> Pusher, LocalDagRunner.
Prints one line ``BENCH_RESULT {json}``: seconds to import TFX, per component, total, AUC, rows.
"""

import json
import logging
import math
import os
import re
import sys
import time

# kfx's model is tf.keras 2 (tf-keras), as in kfx; TFX's components run in this process
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ARGS = json.loads(sys.argv[1])
T0 = ARGS.get("start") or time.time()
import_start = time.time()

import tensorflow_model_analysis as tfma  # noqa: E402
from tfx import v1 as tfx  # noqa: E402

imported = time.time()
EVENTS: list[tuple[str, str, float]] = []


class _ComponentClock(logging.Handler):
    PATTERN = re.compile(r"Component (\w+) is (running|finished)")

    def emit(self, record):
        m = self.PATTERN.search(record.getMessage())
        if m:
            EVENTS.append((m.group(1), m.group(2), time.time()))


def eval_config():
    metrics = ["ExampleCount", "AUC", "AUCPrecisionRecall", "Precision", "Recall", "BinaryCrossEntropy", "MeanLabel"]
    metrics += ["MeanPrediction", "Calibration"]
    configs = [tfma.MetricConfig(class_name=m) for m in metrics]
    configs.append(
        tfma.MetricConfig(
            class_name="BinaryAccuracy",
            threshold=tfma.MetricThreshold(
                value_threshold=tfma.GenericValueThreshold(lower_bound={"value": 0.6}),
                change_threshold=tfma.GenericChangeThreshold(
                    direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -1e-10}
                ),
            ),
        )
    )
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="serving_default",
                label_key="big_tipper",
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[tfma.SlicingSpec(), tfma.SlicingSpec(feature_keys=["payment_type"])],
        metrics_specs=[tfma.MetricsSpec(metrics=configs)],
    )


def build(work: str, data_dir: str, module_file: str, rows: int, epochs: int):
    output = tfx.proto.Output(
        split_config=tfx.proto.SplitConfig(
            splits=[
                tfx.proto.SplitConfig.Split(name="train", hash_buckets=4),
                tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1),
            ]
        )
    )
    example_gen = tfx.components.CsvExampleGen(input_base=data_dir, output_config=output)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False)
    validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"], module_file=module_file
    )
    steps_per_epoch = math.ceil(rows * 0.8 / 256)
    trainer = tfx.components.Trainer(
        module_file=module_file,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(num_steps=steps_per_epoch * epochs),
        eval_args=tfx.proto.EvalArgs(num_steps=math.ceil(rows * 0.2 / 256)),
    )
    resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=resolver.outputs["model"],
        eval_config=eval_config(),
    )
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=os.path.join(work, "serving"))
        ),
    )
    components = [example_gen, statistics_gen, schema_gen, validator, transform, trainer, resolver, evaluator, pusher]
    return tfx.dsl.Pipeline(
        pipeline_name="taxi_tfx_peer",
        pipeline_root=os.path.join(work, "root"),
        components=components,
        enable_cache=False,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(work, "metadata.sqlite")
        ),
    ), evaluator


def auc_of(evaluator_uri: str) -> tuple[float, int]:
    result = tfma.load_eval_result(evaluator_uri)
    for slice_key, metrics in result.slicing_metrics:
        if slice_key == ():
            values = metrics[""][""]
            auc = values["auc"]["doubleValue"]
            count = values.get("example_count", {}).get("doubleValue", 0)
            return float(auc), int(count)
    raise RuntimeError(f"no overall slice in {evaluator_uri}")


def main() -> int:
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)  # LocalDagRunner reports each component's start/end at INFO
    logging.getLogger().addHandler(_ComponentClock())
    logging.getLogger().setLevel(logging.INFO)
    work = ARGS["work"]
    os.makedirs(work, exist_ok=True)
    pipeline, evaluator = build(work, ARGS["data_dir"], ARGS["module_file"], ARGS["rows"], ARGS["epochs"])
    start = time.time()
    tfx.orchestration.LocalDagRunner().run(pipeline)
    end = time.time()
    steps, running = {}, {}
    for name, what, when in EVENTS:
        if what == "running":
            running[name] = when
        elif name in running:
            steps[name] = round(when - running[name], 2)
    import glob

    eval_dirs = sorted(glob.glob(os.path.join(work, "root", "Evaluator", "evaluation", "*")))
    auc, count = auc_of(eval_dirs[-1])
    blessed = bool(glob.glob(os.path.join(work, "root", "Evaluator", "blessing", "*", "BLESSED")))
    pushed = bool(glob.glob(os.path.join(work, "serving", "*", "saved_model.pb")))
    result = {
        "interpreter_start_to_import": round(import_start - T0, 2),
        "import_seconds": round(imported - import_start, 2),
        "run_seconds": round(end - start, 2),
        "total_seconds": round(end - T0, 2),
        "steps": steps,
        "auc": auc,
        "eval_example_count": count,
        "blessed": blessed,
        "pushed": pushed,
    }
    print("BENCH_RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
