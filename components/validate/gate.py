"""The validation gate's rule and message (light: no TensorFlow, so the gate step starts in a moment).

validate always succeeds and publishes its evidence; its ``passed``/``message`` outputs go to a separate gate step
that stops the run with :class:`DataValidationError` (a failed task publishes no outputs on a cluster).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from components._shared.log import get_logger

log = get_logger("gate")

#: How to continue anyway, in the words of each interface that sets it.
CONTINUE_ANYWAY = "--no-fail-on-anomalies (CLI) / fail_on_anomalies=False (pipeline parameter)"
#: Findings named one by one in the message (the rest are counted; all are in the report).
MESSAGE_FINDINGS = 8


class DataValidationError(RuntimeError):
    """The data failed validation and the gate stops the run; ``.result`` holds validate's result when known."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class _Finding(Protocol):
    def line(self) -> str: ...


def gate_message(findings: Sequence[_Finding]) -> str:
    """One paragraph naming each finding and where it comes from, and what to do; "" when there is none."""
    if not findings:
        return ""
    n = len(findings)
    named = "; ".join(f.line() for f in findings[:MESSAGE_FINDINGS])
    more = f"; and {n - MESSAGE_FINDINGS} more" if n > MESSAGE_FINDINGS else ""
    return (
        f"Data validation found {n} anomal{'y' if n == 1 else 'ies'}: {named}{more}. "
        "The run stops at the gate; the validate step published the anomalies, its HTML report and metrics. "
        "Fix the data (or update the curated schema / thresholds if the change is expected), or continue anyway "
        f"with {CONTINUE_ANYWAY}."
    )


def check_gate(passed: bool, message: str, fail_on_anomalies: bool = True) -> None:
    """Raise :class:`DataValidationError` with ``message`` when validation did not pass and ``fail_on_anomalies``;
    otherwise return (logging the message as a warning when the data did not pass)."""
    if passed:
        log.info("data validation passed")
        return
    text = message or "data validation did not pass (no message given; see the validate step's report)"
    if fail_on_anomalies:
        raise DataValidationError(text)
    log.warning("continuing despite anomalies (fail_on_anomalies=False): %s", text)
