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
