"""The only place kfx touches private or internal APIs of the libraries it runs on.

One module per library (``tensorflow.py``, ``tfdv.py``, ``beam.py``, ``keras.py``, ``kserve.py``,
``asyncio.py``, ``tensorflow_transform.py``). Each function here:

* states the library version it was checked against,
* is small, and either falls back to the public API or raises an error that says what broke,
* has a test in ``tests/unit/compat/`` (or ``tests/serving/`` for the serving environment) that fails loudly
  when it stops working *or* when the fast path stops being the path taken.

No other kfx module may import a private name of these libraries (``tests/unit/compat/test_fence.py``).
"""
