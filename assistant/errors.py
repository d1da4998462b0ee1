"""Errors a user can cause in the assistant, each with a message that says what to do."""


class AssistantError(Exception):
    """Base class for assistant errors shown to users."""


class ModelNotFoundError(AssistantError):
    """The chat model or adapter could not be found locally."""


class InvalidMessageError(AssistantError):
    """A conversation that the assistant refuses to process (empty, too long, bad role)."""


class BackendUnavailableError(AssistantError):
    """The model server (openai backend) could not be reached or failed."""
