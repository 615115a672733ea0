"""What the pipelines and the CLI derive from ``components._shared.params.TrainingParams``.

- ``with_training_params``: a ``@dsl.pipeline`` function whose signature (names, KFP types, defaults) and
  docstring ``Args:`` (the KFP UI's input descriptions) are generated from the dataclass. KFP 2.13 reads a
  pipeline's interface with ``inspect.signature`` and calls it positionally with one channel per input, so
  an explicit ``__signature__`` is all it needs (tests/unit/test_params.py compiles it and compares the IR).
- ``add_flags`` / ``values_from``: the ``python -m pipelines.run`` flags, with help text and defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Any

from components._shared.params import FIELDS, TrainingParams, default_of

_HINTS = typing.get_type_hints(TrainingParams)


def kfp_annotation(name: str) -> Any:
    """The annotation KFP gets for parameter ``name`` (``typing.List``/``typing.Dict`` as KFP documents them)."""
    hint = _HINTS[name]
    origin = typing.get_origin(hint)
    if origin is list:
        return typing.List[typing.get_args(hint)]  # noqa: UP006  (the KFP convention)
    if origin is dict:
        return typing.Dict[typing.get_args(hint)]  # noqa: UP006
    return hint


def _parameter(f: dataclasses.Field, defaults: dict[str, Any]) -> inspect.Parameter:
    default = defaults[f.name] if f.name in defaults else default_of(f)
    return inspect.Parameter(
        f.name,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=inspect.Parameter.empty if default is dataclasses.MISSING else default,
        annotation=kfp_annotation(f.name),
    )


def _docstring(doc: str, fields: list[dataclasses.Field]) -> str:
    lines = [f"    {f.name}: {f.metadata['help']}" for f in fields]
    doc = inspect.cleandoc(doc or "")
    return doc + ("\n" if "Args:" in doc else "\n\nArgs:\n") + "\n".join(lines) + "\n"


def with_training_params(
    body: Callable[..., Any] | None = None,
    *,
    exclude: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> Any:
    """Decorator (put it under ``@dsl.pipeline``): ``body(params, **own)`` becomes a function whose signature
    is ``body``'s own parameters plus every training parameter not in ``exclude`` (with ``defaults``
    overriding the dataclass defaults). ``params`` is the dict of training parameter values."""
    if body is None:
        return functools.partial(with_training_params, exclude=exclude, defaults=defaults)
    defaults = dict(defaults or {})
    unknown = (set(exclude) | set(defaults)) - {f.name for f in FIELDS}
    if unknown:
        raise ValueError(f"not training parameters: {sorted(unknown)}")
    fields = [f for f in FIELDS if f.name not in exclude]
    own = list(inspect.signature(body).parameters.values())[1:]  # the first one receives `params`
    clash = {p.name for p in own} & {f.name for f in fields}
    if clash:
        raise ValueError(f"{body.__name__} declares training parameters itself: {sorted(clash)}")
    generated = [_parameter(f, defaults) for f in fields]
    everything = [*generated, *own]
    # Python wants parameters without a default first; KFP does not care about the order
    ordered = [p for p in everything if p.default is inspect.Parameter.empty]
    ordered += [p for p in everything if p.default is not inspect.Parameter.empty]
    signature = inspect.Signature(ordered, return_annotation=None)
    training = {f.name for f in fields}

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        params = {k: v for k, v in bound.arguments.items() if k in training}
        return body(params, **{k: v for k, v in bound.arguments.items() if k not in training})

    functools.update_wrapper(pipeline, body)
    del pipeline.__wrapped__  # inspect.signature must see __signature__, not body's
    pipeline.__signature__ = signature
    pipeline.__annotations__ = {p.name: p.annotation for p in ordered} | {"return": None}
    pipeline.__doc__ = _docstring(body.__doc__ or "", fields)
    return pipeline


# ---- the CLI -------------------------------------------------------------------------------------------


def flag_of(f: dataclasses.Field) -> str:
    """The CLI flag of a training parameter."""
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per training parameter, with its help text and default."""
    group = parser.add_argument_group("pipeline parameters")
    for f in FIELDS:
        hint, meta = _HINTS[f.name], f.metadata
        default = meta["cli_default"] if meta["cli_default"] is not dataclasses.MISSING else default_of(f)
        kwargs: dict[str, Any] = {"dest": f.name, "help": meta["help"]}
        origin = typing.get_origin(hint)
        if hint is bool:
            kwargs.update(action=argparse.BooleanOptionalAction, default=default)
            kwargs["help"] += f" (default: {'on' if default else 'off'})"
        elif origin is list:
            kwargs.update(action="append", default=None, metavar="VALUE")
        elif origin is dict:
            kwargs.update(action="append", default=None, metavar="KEY=VALUE")
        else:
            kwargs.update(type=hint, default=default, metavar=f.name.upper() if not meta["choices"] else None)
            if meta["choices"]:
                kwargs["choices"] = meta["choices"]
            if default not in ("", None) and not meta["cli_note"]:
                kwargs["help"] += f" (default: {default})"
        if meta["cli_note"]:
            kwargs["help"] += f" ({meta['cli_note']})"
        group.add_argument(flag_of(f), **kwargs)


def _parse_kv(items: list[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} must look like metric=value, got {item!r}")
        try:
            out[key.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{flag} {item!r}: {value!r} is not a number") from None
    return out


def values_from(ns: argparse.Namespace) -> dict[str, Any]:
    """Training parameter values from parsed flags (lists and ``KEY=VALUE`` dicts unpacked)."""
    values: dict[str, Any] = {}
    for f in FIELDS:
        raw, origin = getattr(ns, f.name), typing.get_origin(_HINTS[f.name])
        if origin is list:
            values[f.name] = list(raw or default_of(f))
        elif origin is dict:
            values[f.name] = _parse_kv(raw, flag_of(f)) if raw else default_of(f)
        else:
            values[f.name] = raw
    return values


def cli_words(message: str) -> str:
    """``message`` with pipeline-parameter advice (``fail_on_anomalies=False``) in CLI words
    (``--no-fail-on-anomalies``): components speak the pipeline's interface, the CLI translates."""
    import re

    # advice already given for both interfaces ("--x (CLI) / x=1 (pipeline parameter)"): keep the CLI's
    message = re.sub(r"(\S+) \(CLI\) / \S+ \(pipeline parameter\)", r"\1", message)
    for f in FIELDS:
        flag = flag_of(f)
        if _HINTS[f.name] is bool:
            message = re.sub(rf"\b{f.name}\s*=\s*False\b", f"--no-{flag[2:]}", message)
            message = re.sub(rf"\b{f.name}\s*=\s*True\b", flag, message)
        else:
            message = re.sub(rf"(?<![\w-]){f.name}\s*=\s*(?=\S)", f"{flag} ", message)
            message = re.sub(rf"`{f.name}`", f"`{flag}`", message)
    return message


# ---- the README table ------------------------------------------------------------------------------------

README_BEGIN, README_END = "<!-- params:begin (python -m pipelines.params) -->", "<!-- params:end -->"


def markdown_table() -> str:
    """The README's table of training parameters (a test checks the README holds exactly this)."""
    rows = ["| parameter | CLI flag | type | default | steps | what |", "|---|---|---|---|---|---|"]
    for f in FIELDS:
        hint = _HINTS[f.name]
        kind = getattr(hint, "__name__", None) if typing.get_origin(hint) is None else str(hint)
        default = default_of(f)
        shown = "required" if default is dataclasses.MISSING else f"`{default!r}`"
        steps = ", ".join(f.metadata["to"])
        rows.append(f"| `{f.name}` | `{flag_of(f)}` | `{kind}` | {shown} | {steps} | {f.metadata['help']} |")
    return "\n".join([README_BEGIN, *rows, README_END])


if __name__ == "__main__":
    print(markdown_table())
