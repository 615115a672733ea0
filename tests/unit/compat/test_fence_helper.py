"""``_compat.fence``: a private API that moved or went away becomes an ImportError saying what to update."""

import pytest

from components._shared._compat import fence


def test_a_missing_private_name_becomes_an_import_error_with_the_message():
    with pytest.raises(ImportError, match="gone \\(checked with x 1.0\\): update y") as e:
        with fence("thing is gone (checked with x 1.0): update y"):
            from json import _no_such_private_name  # noqa: F401
    assert isinstance(e.value.__cause__, ImportError)
    with pytest.raises(ImportError, match="attr is gone") as e:
        with fence("attr is gone"):
            object()._no_such_attribute  # noqa: B018
    assert isinstance(e.value.__cause__, AttributeError)


def test_the_block_runs_and_binds_names_when_nothing_is_missing():
    with fence("never shown"):
        from json import dumps
    assert dumps([1]) == "[1]"
