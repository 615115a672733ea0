"""kfx's KServe model server: raw features in, predictions out, through the exported SavedModel.

``KfxModel`` is a ``kserve.Model``: ``load()`` reads ``<model_dir>/saved_model`` with plain
``tf.saved_model.load`` (the TF Transform graph is inside the model, so serving needs no TFT) and
``<model_dir>/model.json``; ``predict()`` answers V1 (``{"instances": [{feature: value}]}``) and
V2 / Open Inference Protocol requests (one input tensor per raw feature).

``KfxModelServer`` is a ``kserve.ModelServer`` with the few things stock KServe 0.15 lacks:
a configurable bind host (stock binds 0.0.0.0), no gRPC port, readiness that stays 503 until the
model has loaded and passed a warm-up prediction, and V2 REST conformance (real metadata,
versioned paths, 400 rather than 422/500 for malformed bodies).

Speed: one TensorFlow call costs far more than the HTTP round trip, so concurrent requests are
micro-batched: validated rows go onto a queue and one worker thread runs the ``serving_raw``
concrete function on everything that queued while the previous call ran (no artificial wait,
so a lone request pays nothing extra).

This module runs in the serving environment (kserve + tensorflow-cpu): it may import only
kserve, tensorflow, numpy, the standard library and ``components._shared.artifacts``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.metadata
import logging
import math
import os
import time
import uuid
from collections.abc import Sequence
from typing import Any

import kserve
import numpy as np
import orjson
import tensorflow as tf
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import ORJSONResponse, Response
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady, ServerNotReady
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput
from kserve.protocol.rest.server import RESTServer
from starlette.exceptions import HTTPException as StarletteHTTPException

from components._shared.artifacts import MODEL_META, OUTPUT_KEY, RAW_SIGNATURE, SAVED_MODEL_DIR, SERVING_SIGNATURE

log = logging.getLogger("kfx.serving")

DEFAULT_MAX_BATCH_SIZE = 1024
FASTAPI_APP = "kserve.model_server:app"  # the app object stock KServe builds its REST server on

# feature kind -> (numpy dtype, V2 datatype)
_KINDS = {"int": (np.int64, "INT64"), "float": (np.float32, "FP32"), "string": (object, "BYTES")}
_V2_ACCEPTED = {
    "int": {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "float": {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"},
    "string": {"BYTES"},
}
_NO_FILL = object()
_KIND_WORD = {"int": "an integer", "float": "a number", "string": "a string"}


def _kind(dtype: tf.DType) -> str:
    if dtype == tf.string:
        return "string"
    if dtype.is_integer:
        return "int"
    if dtype.is_floating:
        return "float"
    raise ValueError(f"serving_raw input of dtype {dtype.name} is not supported (expected int64, float32 or string)")


def configure_tf_threads(intra_op: int = 0, inter_op: int = 0) -> None:
    """Set TensorFlow's thread pools (0 = TensorFlow's default). Must run before TensorFlow executes anything."""
    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as e:  # TF already initialised (e.g. in a test process): keep its pools
        log.warning("could not set TensorFlow threads: %s", e)


class _Pending:
    """One validated request waiting for the TensorFlow thread."""

    __slots__ = ("batch", "rows", "future")

    def __init__(self, batch: Any, rows: int, future: asyncio.Future):
        self.batch = batch  # raw path: {feature: column}; example path: [serialized tf.Example]
        self.rows = rows
        self.future = future


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
        self.max_batch_size = max_batch_size
        self.micro_batching = micro_batching
        self.meta: dict[str, Any] = {}
        self.features: dict[str, str] = {}  # name -> kind ("int" | "float" | "string")
        self.optional: set[str] = set()  # features the model accepts missing (VarLen / defaulted in training)
        self.raw_missing: dict[str, Any] = {}  # optional features serving_raw takes as missing via this value
        self.output_width: int | None = None
        self.load_seconds: float | None = None
        self._loaded = None
        self._raw_fn = None
        self._example_fn = None
        self._order: list[str] = []
        self._flat_call = False
        self._tf_pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._queues: dict[str, asyncio.Queue] = {}
        self._batchers: dict[str, asyncio.Task] = {}

    # ------------------------------------------------------------------ loading
    def load(self) -> bool:
        """Load the SavedModel, read its raw-feature contract, warm it up; only then mark the model ready."""
        start = time.perf_counter()
        saved_model = os.path.join(self.model_dir, SAVED_MODEL_DIR)
        meta_path = os.path.join(self.model_dir, MODEL_META)
        if not tf.io.gfile.exists(saved_model):
            raise FileNotFoundError(
                f"no SavedModel at {saved_model}: --model-dir must be a kfx model artifact directory"
            )
        if tf.io.gfile.exists(meta_path):
            with tf.io.gfile.GFile(meta_path) as f:
                self.meta = orjson.loads(f.read())
        else:
            log.warning("%s is missing; serving without model metadata", meta_path)
        log.info("loading %s", saved_model)
        self._loaded = tf.saved_model.load(saved_model)  # keep a reference: signatures need the object alive
        signatures = self._loaded.signatures
        for needed in (RAW_SIGNATURE, SERVING_SIGNATURE):
            if needed not in signatures:
                raise ValueError(f"SavedModel {saved_model} has no '{needed}' signature (has: {sorted(signatures)})")
        self._raw_fn = signatures[RAW_SIGNATURE]
        self._example_fn = signatures[SERVING_SIGNATURE]
        specs = self._raw_fn.structured_input_signature[1]
        label_keys = set(self.meta.get("raw_label_keys") or []) | {self.meta.get("label_key")}
        if label_keys & set(specs):
            raise ValueError(f"serving_raw takes the label {sorted(label_keys & set(specs))}: re-export without it")
        self.features = {name: _kind(spec.dtype) for name, spec in sorted(specs.items())}
        # The concrete function's flat argument order (the nest order of its dict input).
        self._order = [spec.name for spec in tf.nest.flatten(specs)]
        self._warm_up()
        self.load_seconds = time.perf_counter() - start
        log.info(
            "model %s v%s ready in %.1fs: %d features, optional %s (sent to serving_raw as missing: %s), output width %s",
            self.name,
            self.model_version,
            self.load_seconds,
            len(self.features),
            sorted(self.optional),
            sorted(self.raw_missing),
            self.output_width,
        )
        self.ready = True
        return self.ready

    def _warm_up(self) -> None:
        """Run both signatures on sample rows: check they agree, learn which features may be omitted."""
        sample = {"int": 1, "float": 1.0, "string": "kfx-warm-up"}
        row = {f: sample[k] for f, k in self.features.items()}
        columns = {f: np.array([v, v], dtype=_KINDS[self.features[f]][0]) for f, v in row.items()}
        structured = self._raw_fn(**{f: tf.constant(v) for f, v in columns.items()})[OUTPUT_KEY].numpy()
        if structured.ndim != 2 or structured.shape[0] != 2 or not np.all(np.isfinite(structured)):
            raise ValueError(f"warm-up prediction has shape {structured.shape} or non-finite values: expected [2, k]")
        self.output_width = int(structured.shape[1])
        try:  # the fast path: the concrete function called with pre-built tensors in its flat order
            self._flat_call = True
            flat_out = self._call_raw(columns)
            self._flat_call = flat_out.shape == structured.shape and np.allclose(flat_out, structured, atol=1e-6)
        except Exception as e:  # private API changed: keep the public structured call
            log.info("flat concrete-function call unavailable (%s); using the structured signature call", e)
            self._flat_call = False
        via_examples = self._call_examples(self._serialize([row, row]))
        if not np.allclose(structured, via_examples, atol=1e-5):
            raise ValueError(
                f"serving_raw and serving_default disagree on the warm-up row ({structured[0]} vs {via_examples[0]}):"
                " the SavedModel's signatures are inconsistent"
            )
        # Optional: the tf.Example path accepts a row without the feature (VarLen or defaulted in training).
        # serving_raw may express "missing" as "" (strings) or NaN (floats): use it only where it agrees.
        self.optional, self.raw_missing = set(), {}
        for f, kind in self.features.items():
            partial = {k: v for k, v in row.items() if k != f}
            try:
                without = self._call_examples(self._serialize([partial]))
            except (tf.errors.InvalidArgumentError, ValueError):
                continue
            self.optional.add(f)
            fill = {"string": "", "float": np.nan}.get(kind)
            if fill is None:
                continue
            filled = dict(columns)
            filled[f] = np.array([fill, fill], dtype=_KINDS[kind][0])
            if np.allclose(self._call_raw(filled)[:1], without, atol=1e-5):
                self.raw_missing[f] = fill

    # ------------------------------------------------------------------ request parsing
    def _serialize(self, rows: Sequence[dict]) -> list[bytes]:
        out = []
        for r in rows:
            feats = {}
            for f, v in r.items():
                if v is None:
                    continue
                kind = self.features[f]
                if kind == "string":
                    feats[f] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
                elif kind == "int":
                    feats[f] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)]))
                else:
                    feats[f] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(v)]))
            out.append(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())
        return out

    def _check_values(self, feature: str, values: list, where: Any) -> None:
        """Type-check one feature's values (None = missing, checked by the caller)."""
        kind = self.features[feature]
        if kind == "string":
            for i, v in enumerate(values):
                if type(v) is not str and v is not None:
                    raise InvalidInput(f"{where(i)}feature '{feature}' must be a string, got {_json_type(v)} {v!r:.40}")
            return
        for i, v in enumerate(values):
            t = type(v)
            if t is int:
                if not -(2**63) <= v < 2**63:
                    raise InvalidInput(f"{where(i)}feature '{feature}' value {v} is out of the int64 range")
                continue
            if v is None or (t is float and (kind == "float" or v.is_integer()) and math.isfinite(v)):
                continue
            raise InvalidInput(
                f"{where(i)}feature '{feature}' must be {_KIND_WORD[kind]}, got {_json_type(v)} {v!r:.40}"
            )

    def _check_batch_size(self, n: int, what: str) -> None:
        if n == 0:
            raise InvalidInput(f"'{what}' is empty: send at least one row")
        if n > self.max_batch_size:
            raise InvalidInput(f"batch of {n} rows exceeds the server's max batch size of {self.max_batch_size}")

    def _to_batch(self, values: dict[str, list], rows: int) -> tuple[str, Any]:
        """Checked column lists -> ("raw", numpy columns) or ("examples", serialized tf.Examples)."""
        needs_examples = False
        for f, col in values.items():
            if any(v is None for v in col):
                fill = self.raw_missing.get(f, _NO_FILL)
                if fill is _NO_FILL:
                    needs_examples = True
                    break
                values[f] = [fill if v is None else v for v in col]
        if needs_examples:  # omitted features serving_raw can't express: the tf.Example path, as in training
            records = [{f: col[i] for f, col in values.items()} for i in range(rows)]
            return "examples", self._serialize(records)
        return "raw", {f: np.array(col, dtype=_KINDS[self.features[f]][0]) for f, col in values.items()}

    def _parse_v1(self, payload: Any) -> tuple[str, Any, int]:
        if isinstance(payload, bytes | str):  # KServe leaves bodies without a JSON content-type undecoded
            try:
                payload = orjson.loads(payload)
            except orjson.JSONDecodeError as e:
                raise InvalidInput(f"malformed JSON body: {e}") from None
        if not isinstance(payload, dict) or "instances" not in payload:
            raise InvalidInput('request body must be a JSON object {"instances": [{feature: value, ...}, ...]}')
        instances = payload["instances"]
        if not isinstance(instances, list):
            raise InvalidInput("'instances' must be a list of {feature: value} objects")
        self._check_batch_size(len(instances), "instances")
        known = self.features
        for i, row in enumerate(instances):
            if not isinstance(row, dict):
                raise InvalidInput(f"instance {i} must be a JSON object {{feature: value}}, got {_json_type(row)}")
            if row.keys() - known.keys():
                unknown = ", ".join(repr(u) for u in sorted(row.keys() - known.keys()))
                raise InvalidInput(f"instance {i}: unknown feature {unknown}; the model takes {sorted(known)}")
        values = {}
        for f in known:
            try:
                col = [row[f] for row in instances]
            except KeyError:
                col = [row.get(f) for row in instances]
            if f not in self.optional and any(v is None for v in col):
                i = next(i for i, v in enumerate(col) if v is None)
                raise InvalidInput(f"instance {i}: missing feature '{f}' (it has no default; send a value)")
            self._check_values(f, col, lambda i: f"instance {i}: ")
            values[f] = col
        return (*self._to_batch(values, len(instances)), len(instances))

    def _parse_v2(self, request: InferRequest) -> tuple[str, Any, int]:
        if request.request_outputs:
            for out in request.request_outputs:
                if out.name != OUTPUT_KEY:
                    raise InvalidInput(f"unknown output '{out.name}': the model has one output, '{OUTPUT_KEY}'")
        if not request.inputs:
            raise InvalidInput("'inputs' is empty: send one input tensor per feature")
        values: dict[str, list] = {}
        rows = None
        for inp in request.inputs:
            name = inp.name
            if name not in self.features:
                raise InvalidInput(f"unknown input '{name}'; the model takes {sorted(self.features)}")
            if name in values:
                raise InvalidInput(f"input '{name}' is given twice")
            kind = self.features[name]
            if inp.datatype not in _V2_ACCEPTED[kind]:
                raise InvalidInput(
                    f"input '{name}' has datatype {inp.datatype}; the model expects {_KINDS[kind][1]} for this feature"
                )
            shape = list(inp.shape or [])
            if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1) or any(d < 0 for d in shape):
                raise InvalidInput(f"input '{name}' has shape {shape}; expected [rows] or [rows, 1]")
            data = inp.data
            if isinstance(data, np.ndarray):
                data = data.tolist()
            if not isinstance(data, list):
                raise InvalidInput(f"input '{name}' has no 'data' list")
            data = _flatten(data)
            if len(data) != shape[0]:
                raise InvalidInput(f"input '{name}' has shape {shape} but {len(data)} values")
            if rows is None:
                rows = shape[0]
                self._check_batch_size(rows, f"inputs[{name}]")
            elif rows != shape[0]:
                raise InvalidInput(f"input '{name}' has {shape[0]} rows; the other inputs have {rows}")
            if any(v is None for v in data):
                raise InvalidInput(f"input '{name}' has a null value; omit an optional input instead")
            self._check_values(name, data, lambda i, name=name: f"input '{name}' row {i}: ")
            values[name] = data
        required = [f for f in self.features if f not in values and f not in self.optional]
        if required:
            raise InvalidInput(f"missing input {', '.join(repr(f) for f in required)} (no default; send a value)")
        for f in self.features:
            values.setdefault(f, [None] * rows)
        return (*self._to_batch(values, rows), rows)

    # ------------------------------------------------------------------ prediction
    def _call_raw(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        if self._flat_call:
            out = self._raw_fn._call_flat([tf.constant(columns[f]) for f in self._order], self._raw_fn.captured_inputs)
            out = out[OUTPUT_KEY] if isinstance(out, dict) else tf.nest.flatten(out)[0]
        else:
            out = self._raw_fn(**{f: tf.constant(v) for f, v in columns.items()})[OUTPUT_KEY]
        return out.numpy()

    def _call_examples(self, serialized: list[bytes]) -> np.ndarray:
        return self._example_fn(examples=tf.constant(serialized))[OUTPUT_KEY].numpy()

    def _call(self, path: str, batch: Any) -> np.ndarray:
        return self._call_raw(batch) if path == "raw" else self._call_examples(batch)

    def predict_instances(self, instances: list[dict]) -> np.ndarray:
        """Synchronous V1-style prediction in this process (parsing and validation included)."""
        path, batch, _ = self._parse_v1({"instances": instances})
        return self._call(path, batch)

    def _pool(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._tf_pool is None:
            self._tf_pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="kfx-tf")
        return self._tf_pool

    async def _infer(self, path: str, batch: Any, rows: int) -> np.ndarray:
        loop = asyncio.get_running_loop()
        if not self.micro_batching:
            return await loop.run_in_executor(self._pool(), self._call, path, batch)
        task = self._batchers.get(path)
        if task is None or task.done():
            self._queues[path] = asyncio.Queue()
            self._batchers[path] = loop.create_task(self._batch_loop(path, self._queues[path]))
        future = loop.create_future()
        self._queues[path].put_nowait(_Pending(batch, rows, future))
        return await future

    async def _batch_loop(self, path: str, queue: asyncio.Queue) -> None:
        """Run everything that queued while the previous TensorFlow call ran as one call."""
        loop = asyncio.get_running_loop()
        while True:
            items = [await queue.get()]
            rows = items[0].rows
            while not queue.empty() and rows + queue._queue[0].rows <= self.max_batch_size:
                items.append(queue.get_nowait())
                rows += items[-1].rows
            if len(items) == 1:
                batch = items[0].batch
            elif path == "raw":
                batch = {f: np.concatenate([it.batch[f] for it in items]) for f in self.features}
            else:
                batch = [b for it in items for b in it.batch]
            try:
                out = await loop.run_in_executor(self._pool(), self._call, path, batch)
            except Exception as e:
                if len(items) == 1:
                    _settle(items[0].future, exc=e)
                    continue
                for it in items:  # one bad request must not fail its neighbours: retry each alone
                    try:
                        _settle(it.future, result=await loop.run_in_executor(self._pool(), self._call, path, it.batch))
                    except Exception as e1:
                        _settle(it.future, exc=e1)
                continue
            start = 0
            for it in items:
                _settle(it.future, result=out[start : start + it.rows])
                start += it.rows

    async def predict(
        self, payload: dict | InferRequest, headers: dict[str, str] | None = None
    ) -> dict | InferResponse:
        if not self.ready:
            raise ModelNotReady(self.name)
        if isinstance(payload, InferRequest):
            path, batch, rows = self._parse_v2(payload)
            out = await self._infer(path, batch, rows)
            output = InferOutput(name=OUTPUT_KEY, shape=list(out.shape), datatype="FP32", data=out.ravel().tolist())
            return InferResponse(
                response_id=payload.id or str(uuid.uuid4()),
                model_name=self.name,
                model_version=self.model_version,
                infer_outputs=[output],
            )
        path, batch, rows = self._parse_v1(payload)
        out = await self._infer(path, batch, rows)
        return {"predictions": out.tolist()}

    # ------------------------------------------------------------------ metadata
    def get_input_types(self) -> list[dict]:
        return [{"name": f, "datatype": _KINDS[k][1], "shape": [-1]} for f, k in self.features.items()]

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

    def stop(self) -> None:
        for task in self._batchers.values():
            task.cancel()
        if self._tf_pool is not None:
            self._tf_pool.shutdown(wait=False, cancel_futures=True)
        super().stop()


def _settle(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def _flatten(data: list) -> list:
    if data and isinstance(data[0], list):
        out: list = []
        for d in data:
            out.extend(_flatten(d) if isinstance(d, list) else [d])
        return out
    return data


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(v), type(v).__name__
    )


# ====================================================================== server
def _error(status: int, message: str) -> ORJSONResponse:
    return ORJSONResponse(status_code=status, content={"error": message})


class _KfxRESTServer(RESTServer):
    """KServe's REST server with a bind host and kfx's V2 conformance routes in front of the stock ones."""

    def __init__(self, *args: Any, host: str = "127.0.0.1", **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.config.host = host  # uvicorn reads it when it binds, in serve()

    def _register_endpoints(self, app: FastAPI) -> None:
        _register_v2_overrides(app, self.dataplane)
        super()._register_endpoints(app)

    def _add_exception_handlers(self, app: FastAPI) -> None:
        super()._add_exception_handlers(app)

        async def validation_error(_: Request, exc: RequestValidationError) -> ORJSONResponse:
            problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
            return _error(400, f"malformed request: {problems}")

        async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
            response = _error(exc.status_code, str(exc.detail))
            response.headers.update(exc.headers or {})  # e.g. Allow on 405 (RFC 9110)
            return response

        async def invalid_input(_: Request, exc: InvalidInput) -> ORJSONResponse:
            message = str(exc)
            if message.startswith("Unrecognized request format"):  # KServe's words for a JSON syntax error
                message = "malformed JSON body: " + message.split(":", 1)[-1].strip()
            log.warning("400 Bad Request: %s", message)  # one line, not KServe's traceback per bad request
            return _error(400, message)

        app.add_exception_handler(InvalidInput, invalid_input)
        app.add_exception_handler(RequestValidationError, validation_error)
        app.add_exception_handler(StarletteHTTPException, http_error)


def _register_v2_overrides(app: FastAPI, dataplane: Any) -> None:
    """V2 routes that stock KServe 0.15 gets wrong; registered before the stock routes so they win."""

    def model(name: str, version: str | None) -> KfxModel:
        m = dataplane.get_model_from_registry(name)  # raises ModelNotFound -> 404
        if version is not None and version != getattr(m, "model_version", None):
            raise ModelNotFound(f"{name} version {version}")
        return m

    async def server_live() -> dict:
        return {"live": True}

    async def server_ready() -> dict:  # stock KServe answers ready even while models are loading
        waiting = [n for n, m in dataplane.model_registry.get_models().items() if not m.ready]
        if waiting:
            raise ServerNotReady(f"model(s) {', '.join(waiting)} not loaded yet")
        return {"ready": True}

    async def server_metadata() -> dict:
        return {"name": "kfx-kserve", "version": importlib.metadata.version("kserve"), "extensions": []}

    async def model_metadata(model_name: str, model_version: str | None = None) -> dict:
        m = model(model_name, model_version)
        if not m.ready:  # metadata needs the loaded signatures
            raise ModelNotReady(model_name)
        return m.metadata() if isinstance(m, KfxModel) else await dataplane.model_metadata(model_name)

    async def model_ready(model_name: str, model_version: str | None = None) -> dict:
        m = model(model_name, model_version)
        if not await dataplane.model_ready(model_name):
            raise ModelNotReady(model_name)
        return {"name": model_name, "ready": m.ready}

    async def infer(request: Request, model_name: str, model_version: str | None = None) -> Response:
        model(model_name, model_version)
        if not await dataplane.model_ready(model_name, True):
            raise ModelNotReady(model_name)
        body = await request.body()
        infer_request = _v2_request(body, model_name)
        headers = dict(request.headers.items())
        response, response_headers = await dataplane.infer(
            model_name=model_name, request=infer_request, headers=headers
        )
        response, _ = dataplane.encode(model_name=model_name, response=response, headers=headers, req_attributes={})
        return ORJSONResponse(content=response)

    routes = [
        ("/v2/health/live", server_live, ["GET"]),
        ("/v2/health/ready", server_ready, ["GET"]),
        ("/v2", server_metadata, ["GET"]),
        ("/v2/", server_metadata, ["GET"]),
        ("/v2/models/{model_name}", model_metadata, ["GET"]),
        ("/v2/models/{model_name}/versions/{model_version}", model_metadata, ["GET"]),
        ("/v2/models/{model_name}/ready", model_ready, ["GET"]),
        ("/v2/models/{model_name}/versions/{model_version}/ready", model_ready, ["GET"]),
        ("/v2/models/{model_name}/infer", infer, ["POST"]),
        ("/v2/models/{model_name}/versions/{model_version}/infer", infer, ["POST"]),
    ]
    for path, endpoint, methods in routes:
        app.add_api_route(path, endpoint, methods=methods, response_model=None, tags=["V2 (kfx)"])


def _v2_request(body: bytes, model_name: str) -> InferRequest:
    """Parse a V2 JSON inference request ourselves: a 400 naming the problem instead of pydantic's 422."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"malformed JSON body: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput('request body must be a JSON object {"inputs": [...]}')
    inputs = doc.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidInput("'inputs' must be a list of {name, shape, datatype, data} objects")
    parsed = []
    for i, inp in enumerate(inputs):
        if not isinstance(inp, dict):
            raise InvalidInput(f"inputs[{i}] must be an object {{name, shape, datatype, data}}")
        for key, typ in (("name", str), ("datatype", str), ("shape", list), ("data", list)):
            if not isinstance(inp.get(key), typ):
                raise InvalidInput(f"inputs[{i}].{key} is missing or not a {typ.__name__.replace('str', 'string')}")
        if not all(type(d) is int for d in inp["shape"]):
            raise InvalidInput(f"inputs[{i}].shape must be a list of integers")
        parsed.append(InferInput(name=inp["name"], shape=inp["shape"], datatype=inp["datatype"], data=inp["data"]))
    outputs = doc.get("outputs")
    requested = None
    if outputs is not None:
        if not isinstance(outputs, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
        ):
            raise InvalidInput("'outputs' must be a list of {name} objects")
        requested = [RequestedOutput(name=o["name"]) for o in outputs]
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string")
    params = doc.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("'parameters' must be an object")
    return InferRequest(
        model_name=model_name, infer_inputs=parsed, request_id=request_id, parameters=params, request_outputs=requested
    )


class KfxModelServer(kserve.ModelServer):
    """``kserve.ModelServer`` bound to a chosen host, REST only, serving while the model loads (503 until ready)."""

    def __init__(self, host: str = "127.0.0.1", http_port: int = 8080, workers: int = 1, **kwargs: Any):
        kwargs.setdefault("enable_grpc", False)
        kwargs.setdefault("enable_latency_logging", False)
        if workers != 1:  # KServe's multi-process server kills workers that take > 5 s to start (TensorFlow does)
            raise ValueError("KfxModelServer runs one worker process; scale with replicas")
        super().__init__(http_port=http_port, workers=workers, **kwargs)
        self.host = host

    def start(self, models: list[kserve.Model]) -> None:  # noqa: D102 - same contract as kserve.ModelServer.start
        for m in models:
            self.register_model(m)  # registered before load: health and predict answer 503 until ready
            m.enable_latency_logging = self.enable_latency_logging
        args = (FASTAPI_APP, self.dataplane, self.model_repository_extension, self.http_port)
        self._rest_server = _KfxRESTServer(
            *args, access_log_format=self.access_log_format, grace_period=self.grace_period, host=self.host
        )
        self.servers.append(self._rest_server.start())
        self.servers.append(self._load_models(models))
        self.setup_event_loop()
        self.register_signal_handler()
        asyncio.run(self._serve())

    async def _load_models(self, models: list[kserve.Model]) -> None:
        loop = asyncio.get_running_loop()
        for m in models:
            if not m.ready:
                await loop.run_in_executor(None, m.load)

    def stop(self, sig: int) -> None:
        super().stop(sig)
        if self._rest_server is not None:
            self._rest_server._server.should_exit = True
