"""Errors a user can cause when training, each with a message that says what to do (all are `UserError`s)."""

from retrieval.errors import UserError


class TrainingError(UserError):
    """Base class for training errors shown to users."""


class DataValidationError(TrainingError):
    """A data file has bad lines; the message lists every one of them."""


class EmptyMaskError(TrainingError):
    """A sample has no assistant tokens to learn from."""


class ResumeError(TrainingError):
    """`--resume` found nothing to resume."""
