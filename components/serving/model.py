"""``KfxModel``: the ``kserve.Model`` that serves a kfx SavedModel on raw features.

``load()`` finds the SavedModel through ``components._shared.artifacts.model`` (either layout: the kfx
model artifact's ``saved_model/`` or TF Serving's ``1/``), loads it with plain ``tf.saved_model.load``
(the TF Transform graph is inside, so serving needs no TFT), reads ``model.json``, and warms up: both
signatures must agree on a sample row before the model reports ready. ``predict()`` takes V1 and V2
requests (parsed by :mod:`components.serving.codec`) and runs them through the micro-batcher
(:mod:`components.serving.batching`).

Call path: ``serving_raw`` is called through the private flat call of its concrete function when that
gives the same answer as the public structured call at warm-up (``call_path == "flat"``), else through
the public call (``"structured"``). ``calls`` counts TensorFlow calls per path, also exported on
``/metrics`` as ``kfx_tf_calls_total{model, path}``, so a test can assert the fast path is the one taken.

Runs in the serving environment (kserve + tensorflow-cpu): imports only kserve, tensorflow, numpy,
prometheus_client (a kserve dependency), the standard library and ``components._shared``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kserve
import numpy as np
import tensorflow as tf
from kserve.errors import ModelNotReady
from kserve.protocol.infer_type import InferRequest, InferResponse
from prometheus_client import Counter

from components._shared._compat import tensorflow as tf_compat
from components._shared.artifacts import OUTPUT_KEY, RAW_SIGNATURE, SERVING_SIGNATURE
from components._shared.artifacts.model import MODEL_META, read_model_meta, saved_model_dir
from components.serving import codec
from components.serving.batching import MicroBatcher
from components.serving.codec import EXAMPLES, RAW, Batch, Contract
from components.serving.prediction_log import PredictionLogger

log = logging.getLogger("kfx.serving")

DEFAULT_MAX_BATCH_SIZE = 1024
FLAT, STRUCTURED = "flat", "structured"  # the two ways to call serving_raw (FLAT is the fast one)
TF_CALLS = Counter("kfx_tf_calls", "TensorFlow calls made by kfx's model server", ["model", "path"])
_SAMPLE = {"int": 1, "float": 1.0, "string": "kfx-warm-up"}


def configure_tf_threads(intra_op: int = 0, inter_op: int = 0) -> None:
    """Set TensorFlow's thread pools (0 = TensorFlow's default). Must run before TensorFlow executes anything."""
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as e:  # TF already initialised (e.g. in a test process): keep its pools
        log.warning("could not set TensorFlow threads: %s", e)


class KfxModel(kserve.Model):
    """A kfx SavedModel served on raw features (V1 instances or V2 per-feature tensors)."""

    def __init__(
        self,
        name: str,
        model_dir: str,
        model_version: str = "1",
        max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
        micro_batching: bool = True,
    ):
        super().__init__(name)
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.model_dir = model_dir
        self.model_version = str(model_version)
        self.contract = Contract(max_batch_size=max_batch_size)
        self.batcher = MicroBatcher(self.call, max_batch_size, enabled=micro_batching)
        self.meta: dict[str, Any] = {}
        self.output_width: int | None = None
        self.load_seconds: float | None = None
        self.call_path: str | None = None  # FLAT or STRUCTURED once loaded
        self.prediction_log: PredictionLogger | None = None  # set by log_predictions()
        self.log_time_from_header = False  # set by log_predictions(): simulations only
        self.calls = {FLAT: 0, STRUCTURED: 0, EXAMPLES: 0}
        self._counters = {p: TF_CALLS.labels(model=name, path=p) for p in self.calls}
        self._loaded = None
        self._raw_fn = None
        self._example_fn = None
        self._order: list[str] = []

    # ------------------------------------------------------------------ loading
    def load(self) -> bool:
        """Load the SavedModel, read its raw-feature contract, warm it up; only then mark the model ready."""
        start = time.perf_counter()
        path = saved_model_dir(self.model_dir)  # FileNotFoundError naming both layouts
        self.meta = read_model_meta(self.model_dir)
        if not self.meta:
            log.warning("%s has no %s; serving without model metadata", self.model_dir, MODEL_META)
        log.info("loading %s", path)
        self._loaded = tf.saved_model.load(path)  # keep a reference: signatures need the object alive
        signatures = self._loaded.signatures
        for needed in (RAW_SIGNATURE, SERVING_SIGNATURE):
            if needed not in signatures:
                raise ValueError(f"SavedModel {path} has no '{needed}' signature (has: {sorted(signatures)})")
        self._raw_fn, self._example_fn = signatures[RAW_SIGNATURE], signatures[SERVING_SIGNATURE]
        specs = self._raw_fn.structured_input_signature[1]
        label_keys = set(self.meta.get("raw_label_keys") or []) | {self.meta.get("label_key")}
        if label_keys & set(specs):
            raise ValueError(f"serving_raw takes the label {sorted(label_keys & set(specs))}: re-export without it")
        self.contract.features = {name: codec.kind_of(spec.dtype) for name, spec in sorted(specs.items())}
        self._order = [spec.name for spec in tf.nest.flatten(specs)]  # the concrete function's flat input order
        self._warm_up()
        self.load_seconds = time.perf_counter() - start
        log.info(
            "model %s v%s ready in %.1fs: %d features, optional %s (sent to serving_raw as missing: %s), "
            "output width %s, call path %s",
            self.name,
            self.model_version,
            self.load_seconds,
            len(self.contract.features),
            sorted(self.contract.optional),
            sorted(self.contract.raw_missing),
            self.output_width,
            self.call_path,
        )
        self.ready = True
        return self.ready

    def _warm_up(self) -> None:
        """Run both signatures on sample rows: pick the call path, check they agree, learn what may be omitted."""
        row = {f: _SAMPLE[k] for f, k in self.contract.features.items()}
        cols = codec.columns({f: [v, v] for f, v in row.items()}, self.contract.features)
        self.call_path = STRUCTURED
        structured = self._call_raw(cols)
        if structured.ndim != 2 or structured.shape[0] != 2 or not np.all(np.isfinite(structured)):
            raise ValueError(f"warm-up prediction has shape {structured.shape} or non-finite values: expected [2, k]")
        self.output_width = int(structured.shape[1])
        self.call_path = self._pick_call_path(cols, structured)
        via_examples = self._call_examples(self.contract.serialize([row, row]))
        if not np.allclose(structured, via_examples, atol=1e-5):
            raise ValueError(
                f"serving_raw and serving_default disagree on the warm-up row ({structured[0]} vs {via_examples[0]}):"
                " the SavedModel's signatures are inconsistent"
            )
        self._find_optional(row, cols)

    def _pick_call_path(self, cols: dict[str, np.ndarray], expected: np.ndarray) -> str:
        """FLAT when the private flat call works and agrees with the public call, else STRUCTURED."""
        self.call_path = FLAT
        try:
            flat = self._call_raw(cols)
            if flat.shape == expected.shape and np.allclose(flat, expected, atol=1e-6):
                return FLAT
            log.warning("flat concrete-function call disagrees with the structured call; using the structured call")
        except Exception as e:  # private API changed: keep the public structured call
            log.warning("flat concrete-function call unavailable (%s); using the structured call (slower)", e)
        return STRUCTURED

    def _find_optional(self, row: dict, cols: dict[str, np.ndarray]) -> None:
        """Optional: the tf.Example path accepts a row without the feature (VarLen or defaulted in training).
        serving_raw may express "missing" as "" (strings) or NaN (floats): use it only where it agrees."""
        contract = self.contract
        contract.optional, contract.raw_missing = set(), {}
        for f, kind in contract.features.items():
            try:
                without = self._call_examples(contract.serialize([{k: v for k, v in row.items() if k != f}]))
            except (tf.errors.InvalidArgumentError, ValueError):
                continue
            contract.optional.add(f)
            fill = {"string": "", "float": np.nan}.get(kind)
            if fill is None:
                continue
            filled = {**cols, f: codec.columns({f: [fill, fill]}, contract.features)[f]}
            if np.allclose(self._call_raw(filled)[:1], without, atol=1e-5):
                contract.raw_missing[f] = fill

    # ------------------------------------------------------------------ TensorFlow calls
    def _call_raw(self, cols: dict[str, np.ndarray]) -> np.ndarray:
        self._count(self.call_path)
        if self.call_path == FLAT:
            out = tf_compat.call_flat(self._raw_fn, [tf.constant(cols[f]) for f in self._order])
            out = out[OUTPUT_KEY] if isinstance(out, dict) else tf.nest.flatten(out)[0]
        else:
            out = self._raw_fn(**{f: tf.constant(v) for f, v in cols.items()})[OUTPUT_KEY]
        return out.numpy()

    def _call_examples(self, serialized: list[bytes]) -> np.ndarray:
        self._count(EXAMPLES)
        return self._example_fn(examples=tf.constant(serialized))[OUTPUT_KEY].numpy()

    def _count(self, path: str) -> None:
        self.calls[path] += 1
        self._counters[path].inc()

    def call(self, batch: Batch) -> np.ndarray:
        """Run the model on a parsed batch (in the calling thread)."""
        return self._call_raw(batch.data) if batch.path == RAW else self._call_examples(batch.data)

    def predict_instances(self, instances: list[dict]) -> np.ndarray:
        """Synchronous V1-style prediction in this process (parsing and validation included)."""
        return self.call(self.contract.parse_v1({"instances": instances}))

    # ------------------------------------------------------------------ serving
    async def predict(
        self, payload: dict | InferRequest, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        if not self.ready:
            raise ModelNotReady(self.name)
        v2 = isinstance(payload, InferRequest)
        batch = self.contract.parse_v2(payload) if v2 else self.contract.parse_v1(payload)
        out = await self.batcher.run(batch)
        rid = codec.request_id(payload, headers) if v2 or self.prediction_log else ""
        if self.prediction_log is not None:
            at = codec.log_time(headers) if self.log_time_from_header else None
            self.prediction_log.record(rid, batch.raw, out, at, columns=batch.data if batch.exact else None)
        return codec.encode_v2(out, rid, self.name, self.model_version) if v2 else codec.encode_v1(out)

    def get_input_types(self) -> list[dict]:
        return self.contract.input_types()

    def get_output_types(self) -> list[dict]:
        return [{"name": OUTPUT_KEY, "datatype": "FP32", "shape": [-1, self.output_width or -1]}]

    def metadata(self) -> dict:
        """V2 model metadata with the real inputs and outputs."""
        return {
            "name": self.name,
            "versions": [self.model_version],
            "platform": "tensorflow_savedmodel",
            "inputs": self.get_input_types(),
            "outputs": self.get_output_types(),
        }

    def log_predictions(
        self, uri: str, revision: str | None = None, flush_seconds: float = 10.0, time_from_header: bool = False
    ) -> PredictionLogger:
        """Record every prediction to ``uri`` (see ``components._shared.artifacts.prediction_log``).

        ``time_from_header``: log a request at the time its ``x-kfx-log-time`` header gives (a simulation's clock,
        e.g. ``make demo-drift``); requests without it are logged at the wall-clock time."""
        self.log_time_from_header = time_from_header
        self.prediction_log = PredictionLogger(
            uri, self.name, revision or self.model_version, lambda: self.contract.features, flush_seconds=flush_seconds
        )
        return self.prediction_log

    def stop(self) -> None:
        self.batcher.stop()
        if self.prediction_log is not None:
            self.prediction_log.flush()  # close() follows when the server has exited
        super().stop()

    def close(self) -> None:
        """After the server has exited: write the rest of the prediction log."""
        if self.prediction_log is not None:
            self.prediction_log.close()
