"""The `search_knowledge_base` tool: the schema the chat model is shown, and a LangChain tool that runs it."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field, create_model

if TYPE_CHECKING:
    from .search import Searcher

TOOL_NAME = "search_knowledge_base"
DESCRIPTION = "Search the company's help-center articles. Returns numbered passages to cite as [n]."


def search_args(top_k: int) -> type[BaseModel]:
    """The tool's arguments: the query, and `k` passages from 1 to `top_k` (the search's setting)."""
    return create_model(
        "SearchArgs",
        query=(str, Field(description="What to look up in the help center, in the customer's words.")),
        k=(int, Field(default=top_k, ge=1, le=top_k, description="How many passages to return.")),
    )


def make_search_tool(searcher: Searcher) -> StructuredTool:
    """A LangChain tool over `searcher` (for agents built on LangChain): its result is the numbered passages
    text, and the Passage objects ride along as artifact. `k` is capped at the searcher's `top_k`."""
    from .passages import format_passages

    top_k = searcher.cfg.top_k

    def search_knowledge_base(query: str, k: int = top_k):
        passages = searcher.search(query, min(max(k, 1), top_k))
        return format_passages(passages), passages

    return as_tool(top_k, search_knowledge_base)


def as_tool(top_k: int, function=None) -> StructuredTool:
    """The search tool's name, description and arguments (what the model sees), running `function`.

    Without a function it only describes the tool: enough for its schema, which training renders.
    """
    return StructuredTool(func=function, name=TOOL_NAME, description=DESCRIPTION, args_schema=search_args(top_k),
                          response_format="content_and_artifact")


def tool_schema(tool: StructuredTool) -> dict:
    """The OpenAI-style function schema the chat template shows the model."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)


@lru_cache(maxsize=8)
def _schema(top_k: int) -> str:
    import json

    return json.dumps(tool_schema(as_tool(top_k)))


def search_tool_schema(top_k: int) -> dict:
    """The search tool's schema for a search returning up to `top_k` passages (no index or search stack needed)."""
    import json

    return json.loads(_schema(top_k))
