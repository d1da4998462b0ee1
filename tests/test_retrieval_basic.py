"""Search over the demo knowledge base with the real bundled embedding model."""

from retrieval.config import RetrievalConfig
from retrieval.search import Searcher, format_passages
from retrieval.tool import make_search_tool, search_tool_schema, tool_schema


def test_search_finds_the_right_document(searcher):
    passages = searcher.search("how can I see where my parcel is", k=5)
    assert passages, "no passage cleared the relevance floor"
    assert passages[0].source == "shipping/tracking-your-parcel.md", [p.source for p in passages]
    assert [p.number for p in passages] == list(range(1, len(passages) + 1))
    assert all(p.title and p.section and p.chunk_id and p.score >= searcher.cfg.min_score for p in passages)


def test_answer_deep_in_a_document_is_found_with_its_section(searcher):
    passages = searcher.search("is the dome ok to take on a plane in my hand luggage?", k=3)
    found = [(p.source, p.section) for p in passages]
    assert ("products/dome-battery-and-charging.md", "Air travel") in found, found


def test_keyword_half_finds_exact_terms(retrieval_cfg):
    """A rare exact term (a codec name) that the embedding model does not know: BM25 brings it first."""
    query = "which headphones support LDAC"
    hybrid = Searcher(retrieval_cfg).search(query, k=5)
    assert hybrid and hybrid[0].source == "products/arc-vs-arc-lite.md", [p.source for p in hybrid]
    dense = Searcher(RetrievalConfig(**{**retrieval_cfg.__dict__, "hybrid": False})).search(query, k=5)
    assert dense[0].source != "products/arc-vs-arc-lite.md"


def test_off_topic_question_finds_no_evidence(searcher):
    assert searcher.search("What is the boiling point of mercury in kelvin?") == []
    assert searcher.search("   ") == []


def test_dense_only_mode_keeps_the_floor(retrieval_cfg):
    cfg = RetrievalConfig(**{**retrieval_cfg.__dict__, "hybrid": False})
    passages = Searcher(cfg).search("how can I see where my parcel is", k=3)
    assert passages and all(p.score >= cfg.min_score for p in passages)


def test_tool_schema_and_result(searcher):
    tool = make_search_tool(searcher)
    schema = tool_schema(tool)
    assert schema == search_tool_schema()
    assert schema["function"]["name"] == "search_knowledge_base"
    assert "query" in schema["function"]["parameters"]["properties"]
    result = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": {"query": "cancel my order"}})
    assert result.content.startswith("[1] ")
    assert result.artifact[0].number == 1
    assert format_passages(result.artifact) == result.content
    assert f"(source: {result.artifact[0].source})" in result.content
