"""Apache Beam internals kfx relies on (checked against apache-beam 2.72.0)."""

from __future__ import annotations

from types import ModuleType

from components._shared._compat import fence


def pickle_by_value(module: ModuleType) -> None:
    """Ship ``module``'s code inside Beam's pickles, so workers that can't import it by name run it anyway.

    The user's module file is loaded under a generated name that multi-processing DirectRunner, Dataflow, Flink
    and Spark workers don't have. Beam pickles with its vendored cloudpickle
    (``apache_beam.internal.cloudpickle.cloudpickle.register_pickle_by_value``: internal; checked with
    apache-beam 2.72.0). Raises ImportError naming the version when it is gone: without it a distributed run would
    fail later on the workers with ``No module named kfx_user_module_...``.
    """
    with fence(
        "apache_beam.internal.cloudpickle is gone (checked with apache-beam 2.72.0): update "
        "components/_shared/_compat/beam.py so user module files still reach Beam workers"
    ):
        from apache_beam.internal.cloudpickle import cloudpickle
    cloudpickle.register_pickle_by_value(module)


def memoize_dofn_specs() -> None:
    """Compute each DoFn's state/timer specs once instead of at every one of Beam's ~7 asks per DoFn.

    ``apache_beam.transforms.userstate.get_dofn_specs`` (internal; checked with apache-beam 2.72.0) inspects the
    signature of every method of a DoFn each time it is called; building, translating and running a pipeline
    asks again for every DoFn several times (TF Transform's analysis of the taxi table: 6,600 calls for 930
    DoFns; answering once cut the transform step's CPU time from ~12 s to ~10 s). The answer depends only on the DoFn's methods, fixed once
    it is built, so it is kept per DoFn object (by identity, while the object lives) and returned as fresh sets.
    Idempotent; process-wide. Raises ImportError naming the version when the function is gone.
    """
    import weakref

    with fence(
        "apache_beam.transforms.userstate.get_dofn_specs is gone (checked with apache-beam 2.72.0): update "
        "components/_shared/_compat/beam.py (memoize_dofn_specs)"
    ):
        from apache_beam.transforms import userstate

        original = userstate.get_dofn_specs
    if getattr(original, "_kfx_memoized", False):
        return
    cache: dict[int, tuple[weakref.ref, tuple[frozenset, frozenset]]] = {}

    def get_dofn_specs(dofn):
        hit = cache.get(id(dofn))
        if hit is not None and hit[0]() is dofn:
            state, timers = hit[1]
        else:
            state, timers = original(dofn)
            key = id(dofn)
            try:
                ref = weakref.ref(dofn, lambda _: cache.pop(key, None))
            except TypeError:  # not weak-referenceable: not kept
                return state, timers
            cache[id(dofn)] = (ref, (frozenset(state), frozenset(timers)))
        return set(state), set(timers)

    get_dofn_specs._kfx_memoized = True  # type: ignore[attr-defined]
    get_dofn_specs.__wrapped__ = original  # type: ignore[attr-defined]
    userstate.get_dofn_specs = get_dofn_specs


def _method_specs(dofn, method_name: str) -> tuple[frozenset, frozenset]:
    """One method's share of ``userstate.get_dofn_specs`` (its loop body in apache-beam 2.72.0, unchanged)."""
    from apache_beam.runners.common import MethodWrapper
    from apache_beam.transforms.core import _DoFnParam, _StateDoFnParam, _TimerDoFnParam

    method = MethodWrapper(dofn, method_name)
    param_ids = [d.param_id for d in method.defaults if isinstance(d, _DoFnParam)]
    if len(param_ids) != len(set(param_ids)):
        raise ValueError(f"DoFn {dofn!r} has duplicate {method_name} method parameters: {param_ids}.")
    state = frozenset(d.state_spec for d in method.defaults if isinstance(d, _StateDoFnParam))
    timers = frozenset(d.timer_spec for d in method.defaults if isinstance(d, _TimerDoFnParam))
    return state, timers


def memoize_dofn_method_specs() -> None:
    """Inspect each DoFn *class's* methods once, on top of :func:`memoize_dofn_specs` (per DoFn object).

    The FnApiRunner unpickles fresh DoFn objects for every stage it runs (TF Transform's taxi analysis: ~140
    stages), so the per-object memo misses there and ``userstate.validate_stateful_dofn`` (internal; checked with
    apache-beam 2.72.0) makes ``get_dofn_specs`` inspect the signature of every method in ``dir(dofn)`` again
    (~30 per DoFn, ~0.4 CPU-s of the transform step at 15k rows). A method's share of the answer (its
    ``StateParam``/``TimerParam`` defaults) depends only on its function when Beam reads that function's own
    signature; so it is kept per class and method name, checked against the function the object has now. Computed
    per object as before: methods stored on the object itself and methods with an ``_inspect_<method>`` hook
    (``core.get_function_arguments`` then answers with another function's arguments, e.g. the function ``beam.Map``
    wraps); whole DoFns whose class lists or looks up attributes its own way (``__dir__``, ``__getattr__``,
    ``__getattribute__``) or has no ``__dict__``. Same sets, same errors. Idempotent; process-wide. Raises
    ImportError naming the version when the functions are gone.
    """
    import types
    import weakref

    memoize_dofn_specs()
    with fence(
        "apache_beam.runners.common.MethodWrapper or core._DoFnParam/_StateDoFnParam/_TimerDoFnParam are gone "
        "(checked with apache-beam 2.72.0): update components/_shared/_compat/beam.py (memoize_dofn_method_specs)"
    ):
        from apache_beam.runners.common import MethodWrapper  # noqa: F401
        from apache_beam.transforms import userstate
        from apache_beam.transforms.core import _DoFnParam, _StateDoFnParam, _TimerDoFnParam  # noqa: F401
    per_object = userstate.get_dofn_specs
    if getattr(per_object, "_kfx_by_method", False):
        return
    kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # class -> {method name: (function, specs)}

    def get_dofn_specs(dofn):
        cls = type(dofn)
        attrs = getattr(dofn, "__dict__", None)
        if (
            attrs is None
            or cls.__dir__ is not object.__dir__
            or cls.__getattribute__ is not object.__getattribute__
            or getattr(cls, "__getattr__", None) is not None
        ):
            return per_object(dofn)
        try:
            methods = kept.setdefault(cls, {})
        except TypeError:  # not weak-referenceable
            return per_object(dofn)
        state: set = set()
        timers: set = set()
        for name in dir(dofn):
            value = getattr(dofn, name, None)
            if not isinstance(value, types.MethodType):
                continue
            if name in attrs or hasattr(dofn, f"_inspect_{name}"):
                share = _method_specs(dofn, name)
            else:
                hit = methods.get(name)
                if hit is not None and hit[0] is value.__func__:
                    share = hit[1]
                else:
                    share = _method_specs(dofn, name)
                    methods[name] = (value.__func__, share)
            state |= share[0]
            timers |= share[1]
        return state, timers

    get_dofn_specs._kfx_memoized = True  # type: ignore[attr-defined]
    get_dofn_specs._kfx_by_method = True  # type: ignore[attr-defined]
    get_dofn_specs.__wrapped__ = per_object.__wrapped__  # type: ignore[attr-defined]
    userstate.get_dofn_specs = get_dofn_specs


def memoize_option_views() -> None:
    """Build each ``PipelineOptions.view_as(cls)`` view once per options object instead of at every ask.

    ``apache_beam.options.pipeline_options.PipelineOptions.view_as`` (checked with apache-beam 2.72.0) builds a new
    argparse parser for ``cls`` and parses the flags again at every call; applying a transform asks twice (type
    options), so TF Transform's ~1,060 transforms on the taxi table cost ~2,300 parses (~0.55 CPU-s of the
    transform step at 15k rows). A view holds nothing of its own: its values live in the options object's
    ``_all_options`` dict, which every view shares and which ``view_as`` fills once per option. So the first view
    of ``cls`` over the same flags is kept (beside the options object, never inside it: options are pickled) and
    returned again: reads and writes through it are the same as through a fresh one. Idempotent; process-wide.
    Raises ImportError naming the version when ``view_as`` or its state has gone.
    """
    import weakref

    with fence(
        "PipelineOptions.view_as / _all_options / _flags are gone (checked with apache-beam 2.72.0): update "
        "components/_shared/_compat/beam.py (memoize_option_views)"
    ):
        from apache_beam.options.pipeline_options import PipelineOptions

        original = PipelineOptions.view_as
        probe = PipelineOptions([])
        probe._all_options  # noqa: B018  (views share this dict)
        probe._flags  # noqa: B018
    if getattr(original, "_kfx_memoized", False):
        return
    views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def view_as(self, cls):
        flags = self._flags
        key = (cls, tuple(flags) if isinstance(flags, (list, tuple)) else flags)
        try:
            kept = views.setdefault(self, {})
        except TypeError:  # not weak-referenceable / hashable: a fresh view
            return original(self, cls)
        view = kept.get(key)
        if view is None or view._all_options is not self._all_options:
            view = kept[key] = original(self, cls)
        return view

    view_as._kfx_memoized = True  # type: ignore[attr-defined]
    view_as.__wrapped__ = original  # type: ignore[attr-defined]
    view_as.__doc__ = original.__doc__
    PipelineOptions.view_as = view_as


def local_fn_api_runner():
    """The runner Beam's DirectRunner hands a batch pipeline to, without DirectRunner's PrismRunner attempt.

    ``apache_beam.runners.direct.direct_runner.DirectRunner.run_pipeline`` (checked with apache-beam 2.72.0) first
    tries PrismRunner (it serializes the whole pipeline, looks for or downloads a Prism binary, and on this machine
    falls back: ~0.5 CPU-s for TF Transform's taxi analysis; with network access it would run on Prism instead)
    and then runs batch pipelines on ``FnApiRunner`` with the pipeline options as provision info. This returns that
    ``FnApiRunner`` (the public runner class) whose ``run_pipeline`` sets the same provision info from the options
    at run time, as DirectRunner does. Raises ImportError naming the version when the classes have gone.
    """
    with fence(
        "FnApiRunner / ExtendedProvisionInfo / JobServiceHandle.encode_pipeline_options are gone (checked with "
        "apache-beam 2.72.0): update components/_shared/_compat/beam.py (local_fn_api_runner)"
    ):
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle

        runner = fn_runner.FnApiRunner()
        runner._provision_info  # noqa: B018  (set below, as DirectRunner's constructor argument)
    run_pipeline = runner.run_pipeline

    def run_with_options(pipeline, options):
        encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
        runner._provision_info = fn_runner.ExtendedProvisionInfo(
            beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
        )
        return run_pipeline(pipeline, options)

    runner.run_pipeline = run_with_options
    return runner


#: A ``--runner`` flag naming :func:`local_fn_api_runner`, for code that builds its own Pipeline from options only
#: (TFMA's ``run_model_analysis``): ``apache_beam.runners.runner.create_runner`` (internal; checked with apache-beam
#: 2.72.0) imports a dotted runner name's module and calls the attribute it names.
LOCAL_FN_API_RUNNER_FLAG = "--runner=components._shared._compat.beam.local_fn_api_runner"
