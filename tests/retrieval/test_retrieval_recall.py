"""`python -m retrieval.recall` on several question files: each scored, and all together."""

import json

from retrieval.recall import main
from tests.conftest import KB_DIR


def test_several_question_files_are_scored_one_by_one_and_together(retrieval_cfg, tmp_path, capsys):
    found = {"question": "how can I see where my parcel is", "support_doc": "shipping/tracking-your-parcel.md"}
    missed = {"question": "how can I see where my parcel is", "support_doc": "billing/gift-cards.md"}
    unanswerable = {"question": "What is the boiling point of mercury in kelvin?", "answerable": False}
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(json.dumps(found) + "\n" + json.dumps(unanswerable) + "\n", encoding="utf-8")
    second.write_text(json.dumps(missed) + "\n", encoding="utf-8")
    report = tmp_path / "report.json"

    code = main(["--kb", str(KB_DIR), "--questions", str(first), str(second), "--report", str(report),
                 "--index_dir", retrieval_cfg.index_dir, "--min_score", "0.35"])

    assert code == 0
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["answerable"] == 2 and result["recall@1"] == 0.5
    assert result["files"][str(first)]["recall@1"] == 1.0
    assert result["files"][str(first)]["no_evidence_when_unanswerable"] == 1.0
    assert result["files"][str(second)]["recall@5"] == 0.0
    out = capsys.readouterr().out
    assert f"{second}: 1 answerable questions: recall@1 0.000" in out
    assert "all: 2 answerable questions: recall@1 0.500" in out
