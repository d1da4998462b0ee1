"""Errors a user can cause in retrieval, each with a message that says what to do."""


class RetrievalError(Exception):
    """Base class for retrieval errors shown to users."""


class EmptyKnowledgeBaseError(RetrievalError):
    """The knowledge-base folder has no readable documents."""


class ModelNotFoundError(RetrievalError):
    """An embedding model could not be found locally."""


class IndexUnavailableError(RetrievalError):
    """The Chroma index (embedded or server) could not be opened."""
