"""The chat model, the search-then-answer loop and the citation checks."""
