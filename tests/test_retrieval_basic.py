import pytest

from retrieval.config import RetrievalConfig
from retrieval.documents import load_folder
from retrieval.errors import EmptyKnowledgeBaseError
from retrieval.index import build_index
from retrieval.search import format_passages
from retrieval.tool import make_search_tool, tool_schema


def test_search_finds_the_right_document(searcher):
    passages = searcher.search("how can I see where my parcel is", k=5)
    assert passages, "no passage cleared the relevance floor"
    assert any("track" in p.source for p in passages), [p.source for p in passages]
    assert [p.number for p in passages] == list(range(1, len(passages) + 1))
    assert all(p.title and p.section and p.chunk_id for p in passages)


def test_off_topic_question_finds_no_evidence(searcher):
    assert searcher.search("What is the boiling point of mercury in kelvin?") == []


def test_tool_schema_and_result(searcher):
    tool = make_search_tool(searcher)
    schema = tool_schema(tool)
    assert schema["function"]["name"] == "search_knowledge_base"
    assert "query" in schema["function"]["parameters"]["properties"]
    result = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": {"query": "cancel my order"}})
    assert result.content.startswith("[1] ")
    assert result.artifact[0].number == 1
    assert format_passages(result.artifact) == result.content


def test_bad_files_are_reported_not_raised(tmp_path):
    (tmp_path / "good.md").write_text("# Good\n\nHello there.\n")
    (tmp_path / "empty.md").write_text("   \n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    report = load_folder(tmp_path)
    assert [d.metadata["source"] for d in report.documents] == ["good.md"]
    assert set(report.failed) == {"empty.md", "latin1.txt"}


def test_empty_knowledge_base_is_a_clear_error(tmp_path):
    cfg = RetrievalConfig(kb_dir=str(tmp_path), index_dir=str(tmp_path / "idx"))
    with pytest.raises(EmptyKnowledgeBaseError, match="Add help-center articles"):
        build_index(cfg, progress=False)
