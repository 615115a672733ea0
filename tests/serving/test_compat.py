"""The serving environment's private-API shims (``components/_shared/_compat``): each still works on the
pinned versions (kserve 0.21.0, tensorflow-cpu 2.21.0, CPython 3.11), and its fallback is what it says."""

from __future__ import annotations

import asyncio
import inspect

import kserve
import numpy as np
import pytest
import tensorflow as tf

from components._shared._compat import asyncio as asyncio_compat
from components._shared._compat import kserve as kserve_compat
from components._shared._compat import tensorflow as tf_compat

pytestmark = pytest.mark.serving


# ---------------------------------------------------------------------------- asyncio
def test_peek_sees_the_next_item_without_taking_it():
    queue: asyncio.Queue = asyncio.Queue()
    assert asyncio_compat.peek_is_fast(queue), "asyncio.Queue._queue is gone: micro-batches would close early"
    assert asyncio_compat.peek_nowait(queue) is None
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert asyncio_compat.peek_nowait(queue) == "a"
    assert queue.qsize() == 2 and queue.get_nowait() == "a"
    assert asyncio_compat.peek_nowait(queue) == "b"


def test_peek_falls_back_to_nothing_when_the_internal_deque_is_gone():
    class NoDeque:
        pass

    assert asyncio_compat.peek_nowait(NoDeque()) is None
    assert not asyncio_compat.peek_is_fast(NoDeque())


# ---------------------------------------------------------------------------- tensorflow
def _concrete():
    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.float32, name="a"), tf.TensorSpec([None], tf.int64, name="b")]
    )
    def f(a, b):
        return {"outputs": a * 2.0 + tf.cast(b, tf.float32)}

    return f.get_concrete_function()


def test_call_flat_equals_the_structured_call():
    fn = _concrete()
    assert tf_compat.has_call_flat(fn), f"ConcreteFunction._call_flat is gone ({tf.__version__})"
    a, b = tf.constant([1.0, 2.0]), tf.constant([3, 4], dtype=tf.int64)
    flat = tf_compat.call_flat(fn, [a, b])
    flat = flat["outputs"] if isinstance(flat, dict) else tf.nest.flatten(flat)[0]
    np.testing.assert_allclose(flat.numpy(), fn(a=a, b=b)["outputs"].numpy())


def test_call_flat_names_the_problem_when_the_private_call_is_gone():
    with pytest.raises(RuntimeError, match="_call_flat is gone"):
        tf_compat.call_flat(object(), [])


# ---------------------------------------------------------------------------- kserve
def test_model_server_start_still_has_the_single_worker_branch_kfx_copies():
    source = inspect.getsource(kserve.ModelServer.start)
    for part in ("RESTServer(", "self.servers.append", "setup_event_loop", "register_signal_handler"):
        assert part in source, f"kserve.ModelServer.start changed ({part} missing): re-check _compat/kserve.py"
    for name in kserve_compat.MODEL_SERVER_PARTS:
        assert hasattr(kserve.ModelServer(enable_grpc=False), name), name


def test_rest_server_binds_the_given_host_and_puts_kfx_routes_and_handlers_first():
    seen = []

    def routes(app, dataplane):
        async def ready() -> dict:
            return {"kfx": True}

        app.add_api_route("/v2/health/ready", ready, methods=["GET"])
        seen.append(("routes", dataplane))

    def handlers(app):
        seen.append(("handlers", app.exception_handlers.get(kserve.errors.InvalidInput)))
        app.add_exception_handler(kserve.errors.InvalidInput, lambda *_: None)

    server = kserve.ModelServer(enable_grpc=False, http_port=0)
    rest = kserve_compat.make_rest_server(server, "127.0.0.9", routes, handlers)
    assert rest.config.host == "127.0.0.9"
    rest.create_application()  # what RESTServer.start() does before serving
    assert [s[0] for s in seen] == ["routes", "handlers"] and seen[0][1] is server.dataplane
    assert seen[1][1] is not None, "the stock InvalidInput handler should be in place before kfx's replaces it"
    from kserve.model_server import app

    ready = [r for r in app.router.routes if getattr(r, "path", None) == "/v2/health/ready"]
    assert ready and ready[0].endpoint.__name__ == "ready", "kfx's route must come before the stock one"


def test_stop_rest_server_asks_uvicorn_to_exit():
    server = kserve.ModelServer(enable_grpc=False, http_port=0)
    rest = kserve_compat.make_rest_server(server, "127.0.0.1", lambda app, dp: None, lambda app: None)
    assert not rest._server.should_exit
    kserve_compat.stop_rest_server(rest)
    assert rest._server.should_exit
    kserve_compat.stop_rest_server(None)

    class Broken:
        pass

    with pytest.raises(RuntimeError, match="checked against kserve"):
        kserve_compat.stop_rest_server(Broken())
