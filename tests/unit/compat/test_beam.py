"""_compat.beam: a module registered by value is pickled with its code, not by its (unimportable) name."""

from __future__ import annotations

import sys
import types

import pytest

from components._shared._compat.beam import pickle_by_value

pytestmark = pytest.mark.unit


def test_registered_module_is_pickled_by_value():
    from apache_beam.internal import pickler

    module = types.ModuleType("kfx_user_module_compat_test")
    exec("def preprocessing_fn(x):\n    return x * 2\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        pickle_by_value(module)
        blob = pickler.dumps(module.preprocessing_fn)
    finally:
        del sys.modules[module.__name__]
    # a worker without the module: loading must not need to import it by name
    fn = pickler.loads(blob)
    assert fn(21) == 42


class _CountingDoFn:
    """A stateful DoFn that counts how often Beam lists its methods (what get_dofn_specs does first)."""

    listed = 0

    @classmethod
    def make(cls):
        import apache_beam as beam
        from apache_beam.transforms.userstate import BagStateSpec

        class Stateful(beam.DoFn):
            BAG = BagStateSpec("seen", beam.coders.VarIntCoder())

            def __dir__(self):
                cls.listed += 1
                return super().__dir__()

            def process(self, element, bag=beam.DoFn.StateParam(BAG)):  # noqa: B008 (Beam's own idiom)
                key, value = element
                bag.add(value)
                yield key, sorted(bag.read())

        return Stateful()


def test_dofn_specs_are_memoized_on_the_path_beam_takes():
    from apache_beam.runners.common import DoFnSignature
    from apache_beam.transforms import userstate

    from components._shared._compat.beam import memoize_dofn_specs

    memoize_dofn_specs()
    memoize_dofn_specs()  # idempotent
    assert getattr(userstate.get_dofn_specs, "_kfx_memoized", False)
    dofn = _CountingDoFn.make()
    expected = userstate.get_dofn_specs.__wrapped__(dofn)
    listed = _CountingDoFn.listed
    # what Beam asks when it builds and runs a ParDo: signatures and stateful checks, several times
    for _ in range(3):
        DoFnSignature(dofn)
        assert userstate.is_stateful_dofn(dofn)
        userstate.validate_stateful_dofn(dofn)
    assert _CountingDoFn.listed == listed + 1, "Beam no longer asks through userstate.get_dofn_specs"
    state, timers = userstate.get_dofn_specs(dofn)
    assert (state, timers) == expected and len(state) == 1 and not timers
    state.clear()  # callers get their own sets: the kept answer is untouched
    assert userstate.get_dofn_specs(dofn) == expected


def test_stateful_dofn_still_runs_with_memoized_specs():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from components._shared._compat.beam import memoize_dofn_specs

    memoize_dofn_specs()
    with beam.Pipeline() as p:
        out = p | beam.Create([("a", 1), ("a", 2), ("b", 5)]) | beam.ParDo(_CountingDoFn.make())
        last = out | beam.CombinePerKey(lambda lists: max(lists, key=len, default=[]))
        assert_that(last, equal_to([("a", [1, 2]), ("b", [5])]))
