"""The deploy errors, apart so every deploy module can raise them (``logic`` re-exports :class:`DeployError`)."""


class DeployError(RuntimeError):
    """The deployment failed; the message says why and what state the InferenceService was left in."""


class RolloutFailed(Exception):
    """A rollout step failed (not ready, timed out, smoke request failed); the caller rolls back and explains."""
