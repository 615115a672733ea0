"""Apache Beam internals kfx relies on (checked against apache-beam 2.72.0)."""

from __future__ import annotations

from types import ModuleType


def pickle_by_value(module: ModuleType) -> None:
    """Ship ``module``'s code inside Beam's pickles, so workers that can't import it by name run it anyway.

    The user's module file is loaded under a generated name that multi-processing DirectRunner, Dataflow, Flink
    and Spark workers don't have. Beam pickles with its vendored cloudpickle
    (``apache_beam.internal.cloudpickle.cloudpickle.register_pickle_by_value``: internal; checked with
    apache-beam 2.72.0). Raises ImportError naming the version when it is gone: without it a distributed run would
    fail later on the workers with ``No module named kfx_user_module_...``.
    """
    try:
        from apache_beam.internal.cloudpickle import cloudpickle
    except ImportError as e:
        raise ImportError(
            "apache_beam.internal.cloudpickle is gone (checked with apache-beam 2.72.0): update "
            "components/_shared/_compat/beam.py so user module files still reach Beam workers"
        ) from e
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

    try:
        from apache_beam.transforms import userstate

        original = userstate.get_dofn_specs
    except (ImportError, AttributeError) as e:
        raise ImportError(
            "apache_beam.transforms.userstate.get_dofn_specs is gone (checked with apache-beam 2.72.0): update "
            "components/_shared/_compat/beam.py (memoize_dofn_specs)"
        ) from e
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
