"""Requests in, responses out: V1 and V2 (Open Inference Protocol) parsing, validation and encoding.

Everything here is about the wire format and the model's raw-feature contract; nothing calls TensorFlow
except to serialize tf.Examples. Every problem with a request raises ``kserve.errors.InvalidInput``
(KServe answers it with 400) with a message saying what is wrong and what to send instead.

A parsed request is a :class:`Batch`: ``path`` "raw" (numpy columns for ``serving_raw``) or "examples"
(serialized tf.Examples for ``serving_default``, used when a row omits a feature ``serving_raw`` can't
take as missing), its ``data`` and its number of ``rows``.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson
import tensorflow as tf
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

from components._shared.artifacts import OUTPUT_KEY

RAW, EXAMPLES = "raw", "examples"

# feature kind -> (numpy dtype, V2 datatype)
KINDS = {"int": (np.int64, "INT64"), "float": (np.float32, "FP32"), "string": (object, "BYTES")}
_INTS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
V2_ACCEPTED = {"int": _INTS, "float": {"FP16", "FP32", "FP64"} | _INTS, "string": {"BYTES"}}
_KIND_WORD = {"int": "an integer", "float": "a number", "string": "a string"}
_NO_FILL = object()


class Batch(NamedTuple):
    path: str  # RAW or EXAMPLES
    data: Any  # RAW: {feature: numpy column}; EXAMPLES: [serialized tf.Example]
    rows: int
    raw: dict[str, list] | None = None  # {feature: checked values as sent, None = omitted} (for the prediction log)
    exact: bool = False  # RAW data holds the values as sent (no missing value filled): the log may take it as is


def kind_of(dtype: tf.DType) -> str:
    """The feature kind ("int", "float", "string") of a ``serving_raw`` input dtype."""
    if dtype == tf.string:
        return "string"
    if dtype.is_integer:
        return "int"
    if dtype.is_floating:
        return "float"
    raise ValueError(f"serving_raw input of dtype {dtype.name} is not supported (expected int64, float32 or string)")


def columns(values: dict[str, list], features: dict[str, str]) -> dict[str, np.ndarray]:
    """Checked column lists -> numpy columns of each feature's dtype."""
    return {f: np.array(col, dtype=KINDS[features[f]][0]) for f, col in values.items()}


@dataclass
class Contract:
    """What the loaded model takes: its raw features, which may be omitted, and the largest request."""

    features: dict[str, str] = field(default_factory=dict)  # name -> kind ("int" | "float" | "string")
    optional: set[str] = field(default_factory=set)  # features the model accepts missing (VarLen / defaulted)
    raw_missing: dict[str, Any] = field(default_factory=dict)  # optional features serving_raw takes as this value
    max_batch_size: int = 1024

    # ------------------------------------------------------------------ V1
    def parse_v1(self, payload: Any) -> Batch:
        """``{"instances": [{feature: value}, ...]}`` (or its undecoded JSON bytes) -> a checked batch."""
        instances = _v1_instances(payload)
        self._check_batch_size(len(instances), "instances")
        known = self.features
        for i, row in enumerate(instances):
            if not isinstance(row, dict):
                raise InvalidInput(f"instance {i} must be a JSON object {{feature: value}}, got {json_type(row)}")
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
        return self._to_batch(values, len(instances))

    # ------------------------------------------------------------------ V2
    def parse_v2(self, request: InferRequest) -> Batch:
        """A V2 ``InferRequest`` (one input tensor per feature) -> a checked batch."""
        for out in request.request_outputs or []:
            if out.name != OUTPUT_KEY:
                raise InvalidInput(f"unknown output '{out.name}': the model has one output, '{OUTPUT_KEY}'")
        if not request.inputs:
            raise InvalidInput("'inputs' is empty: send one input tensor per feature")
        values: dict[str, list] = {}
        rows = None
        for inp in request.inputs:
            if inp.name in values:
                raise InvalidInput(f"input '{inp.name}' is given twice")
            data = self._v2_column(inp)
            if rows is None:
                rows = len(data)
                self._check_batch_size(rows, f"inputs[{inp.name}]")
            elif rows != len(data):
                raise InvalidInput(f"input '{inp.name}' has {len(data)} rows; the other inputs have {rows}")
            values[inp.name] = data
        required = [f for f in self.features if f not in values and f not in self.optional]
        if required:
            raise InvalidInput(f"missing input {', '.join(repr(f) for f in required)} (no default; send a value)")
        for f in self.features:
            values.setdefault(f, [None] * rows)
        return self._to_batch(values, rows)

    def _v2_column(self, inp: InferInput) -> list:
        """One V2 input tensor -> its checked values as a flat list."""
        name = inp.name
        if name not in self.features:
            raise InvalidInput(f"unknown input '{name}'; the model takes {sorted(self.features)}")
        kind = self.features[name]
        if inp.datatype not in V2_ACCEPTED[kind]:
            raise InvalidInput(
                f"input '{name}' has datatype {inp.datatype}; the model expects {KINDS[kind][1]} for this feature"
            )
        shape = list(inp.shape or [])
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1) or any(d < 0 for d in shape):
            raise InvalidInput(f"input '{name}' has shape {shape}; expected [rows] or [rows, 1]")
        data = inp.data.tolist() if isinstance(inp.data, np.ndarray) else inp.data
        if not isinstance(data, list):
            raise InvalidInput(f"input '{name}' has no 'data' list")
        data = _flatten(data)
        if len(data) != shape[0]:
            raise InvalidInput(f"input '{name}' has shape {shape} but {len(data)} values")
        if any(v is None for v in data):
            raise InvalidInput(f"input '{name}' has a null value; omit an optional input instead")
        self._check_values(name, data, lambda i: f"input '{name}' row {i}: ")
        return data

    # ------------------------------------------------------------------ shared checks
    def _check_batch_size(self, n: int, what: str) -> None:
        if n == 0:
            raise InvalidInput(f"'{what}' is empty: send at least one row")
        if n > self.max_batch_size:
            raise InvalidInput(f"batch of {n} rows exceeds the server's max batch size of {self.max_batch_size}")

    def _check_values(self, feature: str, values: list, where: Callable[[int], str]) -> None:
        """Type-check one feature's values (None = missing, checked by the caller)."""
        kind = self.features[feature]
        if kind == "string":
            for i, v in enumerate(values):
                if type(v) is not str and v is not None:
                    raise InvalidInput(f"{where(i)}feature '{feature}' must be a string, got {json_type(v)} {v!r:.40}")
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
                f"{where(i)}feature '{feature}' must be {_KIND_WORD[kind]}, got {json_type(v)} {v!r:.40}"
            )

    def _to_batch(self, values: dict[str, list], rows: int) -> Batch:
        """Checked column lists -> a RAW batch, or an EXAMPLES batch when a row omits a feature serving_raw
        can't express as missing (as in training's evaluation, the tf.Example path then fills its default)."""
        sent = dict(values)  # the lists as sent: filling below replaces lists, never edits them
        exact = True
        for f, col in values.items():
            if any(v is None for v in col):
                exact = False
                fill = self.raw_missing.get(f, _NO_FILL)
                if fill is _NO_FILL:
                    records = [{name: vals[i] for name, vals in values.items()} for i in range(rows)]
                    return Batch(EXAMPLES, self.serialize(records), rows, sent)
                values[f] = [fill if v is None else v for v in col]
        return Batch(RAW, columns(values, self.features), rows, sent, exact)

    def serialize(self, rows: Sequence[dict]) -> list[bytes]:
        """Rows of raw values (None = omitted) -> serialized tf.Examples, as the training data was written."""
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

    # ------------------------------------------------------------------ metadata
    def input_types(self) -> list[dict]:
        return [{"name": f, "datatype": KINDS[k][1], "shape": [-1]} for f, k in self.features.items()]


def _v1_instances(payload: Any) -> list:
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
    return instances


# ====================================================================== V2 request bodies and responses
_V2_INPUT_FIELDS = (("name", str), ("datatype", str), ("shape", list), ("data", list))


def parse_v2_body(body: bytes, model_name: str) -> InferRequest:
    """A V2 JSON inference request body -> ``InferRequest``; a 400 naming the problem instead of pydantic's 422."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"malformed JSON body: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput('request body must be a JSON object {"inputs": [...]}')
    inputs = doc.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidInput("'inputs' must be a list of {name, shape, datatype, data} objects")
    parsed = [_v2_input(i, inp) for i, inp in enumerate(inputs)]
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


def _v2_input(i: int, inp: Any) -> InferInput:
    if not isinstance(inp, dict):
        raise InvalidInput(f"inputs[{i}] must be an object {{name, shape, datatype, data}}")
    for key, typ in _V2_INPUT_FIELDS:
        if not isinstance(inp.get(key), typ):
            raise InvalidInput(f"inputs[{i}].{key} is missing or not a {typ.__name__.replace('str', 'string')}")
    if not all(type(d) is int for d in inp["shape"]):
        raise InvalidInput(f"inputs[{i}].shape must be a list of integers")
    return InferInput(name=inp["name"], shape=inp["shape"], datatype=inp["datatype"], data=inp["data"])


_ID_PREFIX = uuid.uuid4().hex[:16]  # unique per process: generated ids need no syscall per request
_ID_COUNTER = itertools.count(1)


def request_id(payload: Any, headers: dict[str, str] | None) -> str:
    """The request's id: V2 ``id``, else the ``x-request-id`` header (KServe/Knative/Istio set it), else a new
    id unique across processes (a per-process random prefix and a counter)."""
    rid = payload.id if isinstance(payload, InferRequest) else None
    return rid or (headers or {}).get("x-request-id") or f"{_ID_PREFIX}-{next(_ID_COUNTER)}"


#: header carrying the time to log a request under (UTC microseconds since the epoch), honoured only by a server
#: started with ``--log-time-from-header`` (simulations such as ``make demo-drift``; never in production)
LOG_TIME_HEADER = "x-kfx-log-time"


def log_time(headers: dict[str, str] | None) -> int | None:
    """The ``x-kfx-log-time`` header as UTC microseconds, None when absent; InvalidInput (400) when not an integer."""
    value = (headers or {}).get(LOG_TIME_HEADER)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(
            f"{LOG_TIME_HEADER} must be UTC microseconds since the epoch (an integer), got {value!r}"
        ) from None


def encode_v2(out: np.ndarray, response_id: str, model_name: str, model_version: str) -> InferResponse:
    output = InferOutput(name=OUTPUT_KEY, shape=list(out.shape), datatype="FP32", data=out.ravel().tolist())
    return InferResponse(
        response_id=response_id,
        model_name=model_name,
        model_version=model_version,
        infer_outputs=[output],
    )


def encode_v1(out: np.ndarray) -> dict:
    return {"predictions": out.tolist()}


def _flatten(data: list) -> list:
    if data and isinstance(data[0], list):
        out: list = []
        for d in data:
            out.extend(_flatten(d) if isinstance(d, list) else [d])
        return out
    return data


def json_type(v: Any) -> str:
    """The JSON type name of a decoded value, for error messages."""
    if v is None:
        return "null"
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(v), type(v).__name__
    )
