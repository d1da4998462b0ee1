"""The `search_knowledge_base` LangChain tool that the chat model calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from .search import Searcher

TOOL_NAME = "search_knowledge_base"


class SearchArgs(BaseModel):
    query: str = Field(description="What to look up in the help center, in the customer's words.")
    k: int = Field(default=5, ge=1, le=10, description="How many passages to return.")


def make_search_tool(searcher: Searcher) -> StructuredTool:
    """A tool whose result is the numbered passages text; the Passage objects ride along as artifact."""
    from .search import format_passages  # here, so the schema alone needs no index or embedding stack

    def search_knowledge_base(query: str, k: int = 5):
        passages = searcher.search(query, k)
        return format_passages(passages), passages

    return as_tool(search_knowledge_base)


def as_tool(function=None) -> StructuredTool:
    """The search tool's name, description and arguments (what the model sees), running `function`.

    Without a function it only describes the tool: enough for its schema, which training renders.
    """
    return StructuredTool(
        func=function,
        name=TOOL_NAME,
        description="Search the company's help-center articles. Returns numbered passages to cite as [n].",
        args_schema=SearchArgs,
        response_format="content_and_artifact",
    )


def tool_schema(tool: StructuredTool) -> dict:
    """The OpenAI-style function schema the chat template shows the model."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(tool)


def search_tool_schema() -> dict:
    """The search tool's schema without an index or search stack (training renders prompts with it)."""
    return tool_schema(as_tool())
