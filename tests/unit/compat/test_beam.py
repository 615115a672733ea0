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


def _parses(monkeypatch) -> list[int]:
    """Count PipelineOptions parses (each builds an argparse parser and parses the flags)."""
    from apache_beam.options.pipeline_options import PipelineOptions

    count = [0]
    original = PipelineOptions.__init__

    def counting(self, *args, **kwargs):
        count[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(PipelineOptions, "__init__", counting)
    return count


def test_option_views_are_built_once_on_the_path_beam_takes(monkeypatch):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import DebugOptions, PipelineOptions, StandardOptions, TypeOptions

    from components._shared._compat.beam import memoize_option_views

    memoize_option_views()
    memoize_option_views()  # idempotent
    assert getattr(PipelineOptions.view_as, "_kfx_memoized", False)
    options = PipelineOptions(["--runner=DirectRunner", "--experiments=a"])
    view = options.view_as(StandardOptions)
    assert options.view_as(StandardOptions) is view and view.runner == "DirectRunner"
    # writes through a view are seen by every view (one shared dict), as with fresh views
    view.runner = "FnApiRunner"
    assert options.view_as(StandardOptions).runner == "FnApiRunner"
    assert PipelineOptions.view_as.__wrapped__(options, StandardOptions).runner == "FnApiRunner"
    debug = options.view_as(DebugOptions)
    debug.experiments = [*debug.experiments, "b"]
    assert options.view_as(DebugOptions).experiments == ["a", "b"] and options.get_all_options()["experiments"] == [
        "a",
        "b",
    ]
    other = PipelineOptions([])
    assert other.view_as(StandardOptions) is not view and other.view_as(StandardOptions).runner is None
    assert "_kfx" not in str(vars(options))  # kept beside the options: nothing extra is pickled with them

    # Beam asks for TypeOptions views at every transform it applies: asked through view_as, parsed once
    p = beam.Pipeline(options=PipelineOptions([]))
    parses = _parses(monkeypatch)
    pcoll = p | beam.Create([1, 2, 3])
    for i in range(40):
        pcoll = pcoll | f"Add{i}" >> beam.Map(lambda x: x + 1)
    assert parses[0] <= 5, f"{parses[0]} option parses for 41 transforms: Beam no longer asks through view_as"
    assert p.options.view_as(TypeOptions) is p.options.view_as(TypeOptions)


def test_local_fn_api_runner_is_what_direct_runner_hands_batch_pipelines_to():
    import inspect

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.direct.direct_runner import DirectRunner
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.testing.util import assert_that, equal_to

    from components._shared._compat.beam import local_fn_api_runner

    # DirectRunner (apache-beam 2.72.0): batch pipelines run on FnApiRunner with the options as provision info
    source = inspect.getsource(DirectRunner.run_pipeline)
    assert "fn_runner.FnApiRunner(provision_info=provision_info)" in source, "DirectRunner's hand-off changed"
    assert "encode_pipeline_options(all_options)" in source

    runner = local_fn_api_runner()
    assert type(runner) is fn_runner.FnApiRunner  # TF Transform picks its TF config by the runner's exact type
    options = PipelineOptions(["--direct_num_workers=1", "--job_name=kfx-compat"])
    with beam.Pipeline(runner=runner, options=options) as p:
        counts = p | beam.Create(["a", "b", "a"]) | beam.combiners.Count.PerElement()
        assert_that(counts, equal_to([("a", 2), ("b", 1)]))
    provided = runner._provision_info.provision_info.pipeline_options
    assert provided["beam:option:job_name:v1"] == "kfx-compat"
    assert provided["beam:option:direct_num_workers:v1"] == "1"


def test_the_local_fn_api_runner_flag_builds_that_runner_from_options_alone():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.testing.util import assert_that, equal_to

    from components._shared._compat.beam import LOCAL_FN_API_RUNNER_FLAG

    # what TFMA's run_model_analysis does: beam.Pipeline(options=...) with no runner object
    p = beam.Pipeline(options=PipelineOptions([LOCAL_FN_API_RUNNER_FLAG, "--job_name=kfx-flag"]))
    assert type(p.runner) is fn_runner.FnApiRunner, "create_runner no longer calls a dotted runner name"
    with p:
        assert_that(p | beam.Create([1, 2, 3]) | beam.CombineGlobally(sum), equal_to([6]))
    assert p.runner._provision_info.provision_info.pipeline_options["beam:option:job_name:v1"] == "kfx-flag"


def _stateful_dofn():
    import apache_beam as beam
    from apache_beam.transforms.timeutil import TimeDomain
    from apache_beam.transforms.userstate import BagStateSpec, TimerSpec, on_timer

    class Stateful(beam.DoFn):
        BAG = BagStateSpec("seen", beam.coders.VarIntCoder())
        TIMER = TimerSpec("flush", TimeDomain.WATERMARK)

        def process(self, element, bag=beam.DoFn.StateParam(BAG), timer=beam.DoFn.TimerParam(TIMER)):  # noqa: B008
            yield element

        @on_timer(TIMER)
        def flush(self, bag=beam.DoFn.StateParam(BAG)):  # noqa: B008
            yield from bag.read()

    return Stateful()


class _Plain:
    def __new__(cls):
        import apache_beam as beam

        class Plain(beam.DoFn):
            def setup(self):
                self.n = 0

            def process(self, element, ts=beam.DoFn.TimestampParam):  # noqa: B008
                yield element, ts

            def teardown(self):
                self.n = -1

        return Plain()


def test_dofn_method_specs_are_kept_per_class_with_the_same_answers(monkeypatch):
    import apache_beam as beam
    from apache_beam.internal import pickler
    from apache_beam.transforms import core, userstate

    from components._shared._compat.beam import memoize_dofn_method_specs

    memoize_dofn_method_specs()
    memoize_dofn_method_specs()  # idempotent
    assert getattr(userstate.get_dofn_specs, "_kfx_by_method", False)
    original = userstate.get_dofn_specs.__wrapped__
    bag = userstate.BagStateSpec("m", beam.coders.VarIntCoder())
    dofns = [
        _stateful_dofn(),
        _CountingDoFn.make(),  # its own __dir__: asked per object
        core.CallableWrapperDoFn(lambda x: [x]),  # Map's wrapper: process answers with the wrapped function's args
        core.CallableWrapperDoFn(lambda x, s=beam.DoFn.StateParam(bag): [x]),  # noqa: B008
        _Plain(),  # an ordinary DoFn class: setup, process, teardown
    ]
    for dofn in dofns:
        for copy in (dofn, pickler.loads(pickler.dumps(dofn)), pickler.loads(pickler.dumps(dofn))):
            assert userstate.get_dofn_specs(copy) == original(copy), type(dofn)

    # a fresh object of a class seen before: no method's signature is read again (the path the runner takes)
    asked = []
    get_arguments = core.get_function_arguments
    monkeypatch.setattr(
        core, "get_function_arguments", lambda obj, name: asked.append(name) or get_arguments(obj, name)
    )
    fresh = pickler.loads(pickler.dumps(dofns[0]))
    userstate.validate_stateful_dofn(fresh)
    state, timers = userstate.get_dofn_specs(fresh)
    assert asked == [], f"signatures read again for {asked}: Beam no longer asks through userstate.get_dofn_specs"
    assert {s.name for s in state} == {"seen"} and [t.name for t in timers] == ["ts-flush"]
    wrapped = pickler.loads(pickler.dumps(dofns[3]))
    assert userstate.get_dofn_specs(wrapped) == original(wrapped)


def test_duplicate_dofn_params_are_still_an_error():
    import apache_beam as beam

    from components._shared._compat.beam import memoize_dofn_method_specs

    memoize_dofn_method_specs()

    class Twice(beam.DoFn):
        def process(self, x, a=beam.DoFn.TimestampParam, b=beam.DoFn.TimestampParam):  # noqa: B008
            yield x

    from apache_beam.transforms import userstate

    for _ in range(2):
        with pytest.raises(ValueError, match="duplicate process method parameters"):
            userstate.get_dofn_specs(Twice())
