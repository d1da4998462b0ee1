"""The keyword index, rank fusion and duplicate detection (pure functions, no model needed)."""

import numpy as np

from retrieval.hybrid import KeywordIndex, is_near_duplicate, reciprocal_rank_fusion, shingles, tokenize

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


def test_near_duplicates_are_detected_but_siblings_are_not():
    dome = shingles("At 17.8 Wh, the Dome's battery is well below the 100 Wh limit that airlines apply.")
    copy = shingles("At 17.8 Wh, the Dome's battery is well below the 100 Wh limit that airlines apply!")
    sibling = shingles("At 49 Wh, the Dome Max battery is under the limit, but some airlines ask you to declare it.")
    assert is_near_duplicate(dome, copy, 0.8)
    assert not is_near_duplicate(dome, sibling, 0.8)
    assert not is_near_duplicate(dome, copy, 1.0)  # threshold 1 turns collapsing off
