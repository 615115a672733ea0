"""One runner detection for every Beam step: the same args get the same answer in statistics and transform."""

import pytest

from components._shared.runner import is_distributed, is_local, runner_of

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "local"),
    [
        ([], True),
        (None, True),
        (["--direct_running_mode=multi_processing", "--direct_num_workers=0"], True),
        (["--runner=DirectRunner"], True),
        (["--runner", "PrismRunner"], True),
        (["--runner=FnApiRunner"], True),
        (["--runner=DataflowRunner", "--project=p"], False),
        (["--runner", "FlinkRunner"], False),
        (["--runner=SparkRunner"], False),
        (["--runner=PortableRunner", "--job_endpoint=localhost:8099"], False),
    ],
)
def test_one_answer(args, local):
    assert is_local(args) is local
    assert is_distributed(args) is (not local)


def test_runner_named_either_way():
    assert runner_of(["--runner=FlinkRunner"]) == runner_of(["--runner", "FlinkRunner"]) == "flinkrunner"
    assert runner_of(["--temp_location=/tmp"]) == ""


def test_statistics_and_transform_share_it():
    from components.statistics import logic as statistics_logic
    from components.transform import logic as transform_logic

    assert statistics_logic.is_local is is_local
    assert transform_logic.is_distributed is is_distributed
