"""Errors the engine raises for bad input: each message names the problem and the fix."""


class EchoError(ValueError):
    """Base class: a user-facing error with a message that says what to do."""


class CheckpointError(EchoError):
    """A file is not a loadable causal Wan2.1 DiT (wrong format, truncated, wrong shapes)."""


class InputShapeError(EchoError):
    """A latent, conditioning or resolution does not fit the model."""
