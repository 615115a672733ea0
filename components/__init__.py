"""kfx components: plain-Python logic modules plus thin KFP v2 wrappers.

TF Transform and TFMA 0.47 need Keras 2, so the legacy-Keras switch is set here,
before anything in the package can import TensorFlow.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
