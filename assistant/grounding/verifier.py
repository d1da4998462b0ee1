"""The support check: is this answer sentence backed by the passage it cites?

Exact checks come first, because a small model's typical slips are exactly these:
- every number of the sentence appears in the passage;
- the sentence's names (capitalized words inside a sentence, model names with digits)
  appear in the passage, so a claim about one product is not cited to another's article;
- the sentence and the passage sentence closest to it agree in polarity ("can" / "can't");
- at least `min_word_coverage` of its content words appear in the passage.

Then a learned check: soft coverage of the sentence by the passage (`signals.Encoder`),
with a threshold fitted on the knowledge base's own sentences against sentences from
other passages (`build.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.passages import Passage

from .gate import heading_and_text
from .signals import Encoder
from .text import is_negated, numbers, split_sentences, strip_markers, tokens

NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zA-Z0-9+-]*[a-zA-Z0-9+]|[A-Za-z]+\d[\w-]*)\b")


def names(sentence: str) -> set[str]:
    """Capitalized words not opening the sentence, and words with digits (model names such as "Pods 2")."""
    return {m.group(1).lower() for m in NAME_RE.finditer(strip_markers(sentence).strip())}


@dataclass
class SupportVerifier:
    encoder: Encoder
    soft_threshold: float
    min_word_coverage: float = 0.7

    def exact_checks(self, sentence: str, passage: Passage) -> bool:
        source = heading_and_text(passage)
        words = set(tokens(sentence))
        if not words or not numbers(sentence) <= numbers(source):
            return False
        if len(words & set(tokens(source))) < self.min_word_coverage * len(words):
            return False
        if not names(sentence) <= set(re.findall(r"[a-z0-9+-]+", source.lower())):
            return False
        closest = max(split_sentences(source) or [source], key=lambda s: len(words & set(tokens(s))))
        return is_negated(sentence) == is_negated(closest)

    def supports(self, sentence: str, passage: Passage, pieces=None) -> bool:
        """Whether `passage` supports `sentence` (pieces: the passage's word-piece vectors, if computed)."""
        if not self.exact_checks(sentence, passage):
            return False
        text, *rest = self.encoder.piece_vectors([strip_markers(sentence)] + ([] if pieces else [heading_and_text(passage)]))
        return self.encoder.soft_coverage(text, [pieces or rest[0]])[0] >= self.soft_threshold
