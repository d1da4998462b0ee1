"""Errors a user can cause in the assistant, each with a message that says what to do (all are `UserError`s)."""

from retrieval.errors import ConfigError, ModelNotFoundError, UserError

__all__ = ["AssistantError", "BackendUnavailableError", "ConfigError", "InvalidMessageError", "ModelNotFoundError",
           "UserError"]


class AssistantError(UserError):
    """Base class for assistant errors shown to users."""


class InvalidMessageError(AssistantError):
    """A conversation that the assistant refuses to process (empty, too long, bad role)."""


class BackendUnavailableError(AssistantError):
    """The model server (openai backend) could not be reached or failed."""
