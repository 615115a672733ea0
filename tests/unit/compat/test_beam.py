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
