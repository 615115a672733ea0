"""``python -m components.serving --model-dir DIR --model-name NAME``: serve a kfx model with KServe."""

from __future__ import annotations

import argparse
import os
import sys

import components  # noqa: F401  (sets TensorFlow's environment before it loads)
from components._shared.log import get_logger


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m components.serving", description=__doc__)
    p.add_argument(
        "--model-dir",
        required=True,
        help="model directory: a kfx model artifact or a model pushed for TF Serving (both layouts: "
        "components/_shared/artifacts/model.py)",
    )
    p.add_argument(
        "--model-name", required=True, help="name in the URL: /v1/models/<name>:predict, /v2/models/<name>/infer"
    )
    p.add_argument(
        "--model-version", default="1", help="version reported in V2 metadata and accepted in versioned paths"
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (use 0.0.0.0 in a pod)")
    p.add_argument("--http-port", type=int, default=8080)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes; only 1 is supported (see README)")
    p.add_argument("--max-batch-size", type=int, default=1024, help="largest request (rows) accepted; larger gets 400")
    p.add_argument("--no-micro-batching", action="store_true", help="one TensorFlow call per request")
    # One thread each measured best: per-request TF work is tiny (a micro-batch of a few rows) and extra TF
    # threads compete with the event loop for the cores (1-row V1: 42% -> 54% of the echo ceiling, 2 cores).
    p.add_argument("--tf-intra-op-threads", type=int, default=1, help="TensorFlow intra-op threads (0 = TF default)")
    p.add_argument("--tf-inter-op-threads", type=int, default=1, help="TensorFlow inter-op threads (0 = TF default)")
    p.add_argument(
        "--prediction-log",
        metavar="URI",
        help="record every prediction (request id, time, raw features, prediction, model, revision) as tf.Example "
        "TFRecords partitioned by hour under URI (a local directory or any tf.io.gfile URI); off when not given",
    )
    p.add_argument(
        "--prediction-log-flush-seconds", type=float, default=10.0, help="how often the prediction log is written"
    )
    p.add_argument(
        "--log-time-from-header",
        action="store_true",
        help="simulations only: log each request at the time its x-kfx-log-time header gives (UTC microseconds), "
        "so a simulated day lands in its own log partition (make demo-drift); never in production",
    )
    p.add_argument(
        "--model-revision",
        default=os.environ.get("K_REVISION"),
        help="revision recorded in the prediction log (default: $K_REVISION, set by Knative; else the model version)",
    )
    args = p.parse_args(argv)
    if args.max_batch_size < 1:
        p.error("--max-batch-size must be >= 1")
    if args.workers != 1:
        p.error(
            "--workers must be 1: KServe's multi-process server (0.15-0.21) kills a worker that doesn't answer its ping"
            " within 5 s, and loading TensorFlow and the model takes longer; scale with more replicas instead"
        )
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # kserve.model_server parses sys.argv with its own flags when imported: give it nothing to misread.
    sys.argv = sys.argv[:1]
    log = get_logger("serving")
    from components._shared.artifacts.model import saved_model_dir
    from components.serving.model import KfxModel, configure_tf_threads
    from components.serving.server import KfxModelServer

    configure_tf_threads(args.tf_intra_op_threads, args.tf_inter_op_threads)
    try:  # fail before the server starts: the one reader of model layouts names both layouts it looked for
        saved_model_dir(args.model_dir)
    except FileNotFoundError as e:
        sys.exit(f"python -m components.serving: error: {e}")
    if args.prediction_log:
        from components.serving.prediction_log import check_log_uri

        try:
            check_log_uri(args.prediction_log)
        except ValueError as e:
            sys.exit(f"python -m components.serving: error: {e}")
    model = KfxModel(
        args.model_name,
        args.model_dir,
        model_version=args.model_version,
        max_batch_size=args.max_batch_size,
        micro_batching=not args.no_micro_batching,
    )
    if args.prediction_log:
        model.log_predictions(
            args.prediction_log, args.model_revision, args.prediction_log_flush_seconds, args.log_time_from_header
        )
        log.info("logging predictions to %s", args.prediction_log)
    log.info("serving %s as '%s' on http://%s:%d", args.model_dir, args.model_name, args.host, args.http_port)
    KfxModelServer(host=args.host, http_port=args.http_port, workers=args.workers).start([model])


if __name__ == "__main__":
    main()
