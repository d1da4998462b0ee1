"""The keyword index, rank fusion and duplicate detection (pure functions, no model needed)."""

import numpy as np

import pytest

from retrieval.config import RetrievalConfig
from retrieval.errors import RetrievalError
from retrieval.hybrid import (
    KeywordIndex,
    best_rows,
    is_near_duplicate,
    reciprocal_rank_fusion,
    relative_score_fusion,
    shingles,
    tokenize,
)

TEXTS = [
    "Returns policy - Return window\nReturn any product within 30 days of delivery.",
    "Shipping - Standard delivery\nStandard delivery to Germany takes 2-4 working days.",
    "Warranty - Error codes\nError ZX-4417 means the battery controller failed.",
    "Shipping - Express\nExpress delivery arrives the next working day.",
]


def test_sparse_scores_equal_rank_bm25():
    index = KeywordIndex(TEXTS)
    for query in ["delivery to Germany", "error ZX-4417", "returns within days", "nothing matches here"]:
        tokens = tokenize(query)
        assert np.allclose(index.scores(tokens), index.bm25.get_scores(tokens))


def test_keyword_top_ranks_exact_terms_and_skips_non_matches():
    index = KeywordIndex(TEXTS)
    assert index.top("what does ZX-4417 mean", 3) == [2]
    assert set(index.top("delivery", 4)) == {0, 1, 3}
    assert index.top("express shipping", 4)[0] == 3
    assert index.top("the and of", 4) == []  # stopwords only


def test_reciprocal_rank_fusion_rewards_agreement():
    assert reciprocal_rank_fusion([[1, 2, 3], [3, 1, 4]], k=60)[:2] == [1, 3]
    assert reciprocal_rank_fusion([[5], []], k=60) == [5]


def test_score_fusion_weighs_how_strong_a_match_is():
    dense = np.array([0.90, 0.88, 0.50])
    keyword = np.array([0.0, 9.0, 10.0])
    # Ranks alone would put candidate 1 first (2nd + 2nd); scaled scores see that it is
    # nearly as close as 0 by meaning and far ahead by keyword.
    assert relative_score_fusion([(1.0, dense), (0.4, keyword)]).tolist() == [1, 0, 2]
    # A weak keyword weight leaves the dense order alone.
    assert relative_score_fusion([(1.0, dense), (0.01, keyword)]).tolist() == [0, 1, 2]
    # A signal that does not vary, or a weight of 0, changes nothing; the first signal breaks ties.
    flat = np.array([3.0, 3.0, 3.0])
    assert relative_score_fusion([(1.0, dense), (5.0, flat), (0.0, keyword)]).tolist() == [0, 1, 2]
    assert relative_score_fusion([(1.0, np.zeros(0))]).tolist() == []


def test_best_rows_keeps_only_positive_scores_best_first():
    assert best_rows(np.array([0.0, 2.0, 5.0, 1.0]), 3) == [2, 1, 3]
    assert best_rows(np.array([0.0, 0.0]), 5) == []
    assert best_rows(np.zeros(0), 5) == []


def test_unknown_fusion_is_a_clear_error():
    with pytest.raises(RetrievalError, match="fusion must be one of score, rrf"):
        RetrievalConfig(fusion="mean")


def test_near_duplicates_are_detected_but_siblings_are_not():
    dome = shingles("At 17.8 Wh, the Dome's battery is well below the 100 Wh limit that airlines apply.")
    copy = shingles("At 17.8 Wh, the Dome's battery is well below the 100 Wh limit that airlines apply!")
    sibling = shingles("At 49 Wh, the Dome Max battery is under the limit, but some airlines ask you to declare it.")
    assert is_near_duplicate(dome, copy, 0.8)
    assert not is_near_duplicate(dome, sibling, 0.8)
    assert not is_near_duplicate(dome, copy, 1.0)  # threshold 1 turns collapsing off
