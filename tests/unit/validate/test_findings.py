"""components/validate/findings.py: what to do about each kind of finding, and the one-line form."""

from __future__ import annotations

import pytest

from components.validate.findings import Finding, advice

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("SCHEMA_MISSING_COLUMN", "presence.min_fraction"),
        ("SCHEMA_NEW_COLUMN", "add it to the curated schema"),
        ("ENUM_TYPE_UNEXPECTED_STRING_VALUES", "domain"),
        ("COMPARATOR_CONTROL_DATA_MISSING", "serving data lacks"),
        ("COMPARATOR_L_INFTY_HIGH", "distribution moved"),
        ("COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "distribution moved"),
        ("PSI_HIGH", "population shifted"),
        ("UNEXPECTED_DATA_TYPE", "type changed"),
        ("FEATURE_TYPE_LOW_FRACTION_PRESENT", "some rows lack"),
        ("SOMETHING_NEW", "check the data at its source"),
    ],
)
def test_every_kind_gets_advice(kind, words):
    assert words in advice(kind)


def test_line_names_where_the_finding_comes_from():
    f = Finding("fare", "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH", "skew", "JSD is high.", value=0.3, threshold=0.1)
    assert f.line() == (
        "feature `fare`: COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH — JSD is high. "
        "(value 0.3 > threshold 0.1; train split vs serving statistics (skew))"
    )
