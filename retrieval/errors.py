"""The errors a user can cause, each with a message that says what to do.

`UserError` is the one family: every entry point (the CLIs, the web app, the API) catches it
once and shows its message. Each package adds its own subclasses (`AssistantError`,
`TrainingError`, ...); this module sits at the bottom of the dependency order so all of
them can share it.
"""


class UserError(Exception):
    """A problem the user can fix: a setting, a file, a message, a model or a server."""


class ConfigError(UserError):
    """An unknown setting, or settings that do not fit together."""


class ModelNotFoundError(UserError):
    """A model (chat, embedding or reranker) or an adapter could not be found locally."""


class RetrievalError(UserError):
    """Base class for retrieval errors shown to users."""


class EmptyKnowledgeBaseError(RetrievalError):
    """The knowledge-base folder has no readable documents."""


class IndexUnavailableError(RetrievalError):
    """The Chroma index (embedded or server) could not be opened."""
