"""Turn KServe payload-logger CloudEvents into prediction-log records.

KServe's logger (``spec.predictor.logger: {mode: all, url: ...}``) POSTs each inference request and each response as
a CloudEvent in binary mode: the body is the payload as sent/returned; headers carry ``ce-id`` (the same for a request
and its response), ``ce-type`` (``org.kubeflow.serving.inference.request`` / ``.response``) and the extensions
``ce-inferenceservicename``, ``ce-namespace``, ``ce-component``, ``ce-endpoint`` (``default`` or ``canary``).
:class:`Pairer` keeps requests until their response arrives (either order), then decodes both into one
:class:`~components._shared.artifacts.prediction_log.Record` per row.

Payloads understood: V1 (``{"instances": [{feature: value}, ...]}`` -> ``{"predictions": [...]}``) and V2 / Open
Inference Protocol (one input tensor per feature -> an ``outputs`` tensor ``[rows, k]``). No kfp import.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from components._shared.artifacts.prediction_log import Record

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


class PayloadError(ValueError):
    """A CloudEvent the sink cannot use (wrong type, missing id, payload not V1/V2 JSON)."""


@dataclass
class Event:
    id: str
    type: str
    body: bytes
    inference_service: str = ""
    namespace: str = ""
    endpoint: str = ""
    component: str = ""

    @classmethod
    def from_headers(cls, headers: Any, body: bytes) -> Event:
        """An event from binary-mode CloudEvent HTTP headers (case-insensitive mapping) and body."""
        get = lambda k: headers.get(k) or headers.get(k.title()) or ""  # noqa: E731
        event = cls(id=get("ce-id"), type=get("ce-type"), body=body, inference_service=get("ce-inferenceservicename"),
                    namespace=get("ce-namespace"), endpoint=get("ce-endpoint"), component=get("ce-component"))  # fmt: skip
        if not event.id:
            raise PayloadError("CloudEvent without ce-id: KServe's logger pairs a request and its response by it")
        if event.type not in (REQUEST_TYPE, RESPONSE_TYPE):
            raise PayloadError(f"ce-type {event.type!r} is not a KServe inference request or response")
        return event


def _rows_v1(payload: dict) -> list[dict[str, Any]]:
    instances = payload["instances"]
    if not all(isinstance(row, dict) for row in instances):
        raise PayloadError("V1 instances must be objects of raw feature values to be logged")
    return instances


def _rows_v2(payload: dict) -> list[dict[str, Any]]:
    columns = {t["name"]: t["data"] for t in payload["inputs"]}
    n = len(next(iter(columns.values()))) if columns else 0
    return [{name: values[i] for name, values in columns.items()} for i in range(n)]


def request_rows(body: bytes) -> list[dict[str, Any]]:
    try:
        payload = json.loads(body)
        if "instances" in payload:
            return _rows_v1(payload)
        if "inputs" in payload:
            return _rows_v2(payload)
    except (json.JSONDecodeError, KeyError, TypeError, StopIteration) as e:
        raise PayloadError(f"request payload is not V1/V2 JSON: {e}") from e
    raise PayloadError("request payload has neither 'instances' (V1) nor 'inputs' (V2)")


def response_predictions(body: bytes) -> list[list[float]]:
    try:
        payload = json.loads(body)
        if "predictions" in payload:
            return [p if isinstance(p, list) else [p] for p in payload["predictions"]]
        if "outputs" in payload:
            out = payload["outputs"][0]
            rows = out["shape"][0]
            k = len(out["data"]) // rows if rows else 0
            return [out["data"][i * k : (i + 1) * k] for i in range(rows)]
    except (json.JSONDecodeError, KeyError, TypeError, IndexError, ZeroDivisionError) as e:
        raise PayloadError(f"response payload is not V1/V2 JSON: {e}") from e
    raise PayloadError("response payload has neither 'predictions' (V1) nor 'outputs' (V2)")


def records(request: Event, response: Event) -> list[Record]:
    """One record per row of a request/response pair (``<ce-id>-<row>`` as request id when there are several)."""
    rows, predictions = request_rows(request.body), response_predictions(response.body)
    if len(rows) != len(predictions):
        raise PayloadError(f"event {request.id}: {len(rows)} request rows but {len(predictions)} predictions")
    revision = f"{request.namespace}/{request.inference_service}:{request.endpoint or 'default'}"
    now = time.time_ns() // 1000
    return [
        Record(
            request_id=request.id if len(rows) == 1 else f"{request.id}-{i}",
            features=row,
            prediction=pred,
            model=request.inference_service,
            revision=revision,
            timestamp_us=now,
        )  # fmt: skip
        for i, (row, pred) in enumerate(zip(rows, predictions, strict=True))
    ]


@dataclass
class Pairer:
    """Requests and responses waiting for their other half, by ce-id; unpaired halves expire after ``ttl_seconds``."""

    ttl_seconds: float = 300.0
    _waiting: dict[tuple[str, str], tuple[float, Event]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    expired: int = 0

    def add(self, event: Event) -> list[Record]:
        """Records for ``event`` when its other half is already here, else [] (it waits)."""
        other = RESPONSE_TYPE if event.type == REQUEST_TYPE else REQUEST_TYPE
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            match = self._waiting.pop((event.id, other), None)
            if match is None:
                self._waiting[(event.id, event.type)] = (now, event)
                return []
        request, response = (event, match[1]) if event.type == REQUEST_TYPE else (match[1], event)
        return records(request, response)

    def _expire(self, now: float) -> None:
        stale = [k for k, (t, _) in self._waiting.items() if now - t > self.ttl_seconds]
        for k in stale:
            del self._waiting[k]
        self.expired += len(stale)

    @property
    def waiting(self) -> int:
        return len(self._waiting)
