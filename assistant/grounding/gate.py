"""The answerability gate: do the retrieved passages answer this question? Decided before generation.

A small logistic model over two signals the embedding model and the index give cheaply:
the best soft coverage of the question by one of the first passages (`signals.py`), and the
share of the question's rare words (IDF-weighted) that the first two passages contain.
Measured on data/eval, the top cosine and the first passage's coverage added nothing. It is fitted on questions made from the
company's own knowledge base (`assistant/grounding/build.py`) and its threshold is set
for a target share of false refusals, so it adapts to whatever help center is indexed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.passages import Passage

from .signals import Encoder
from .text import Vocabulary, tokens

FEATURES = ("soft_coverage_best", "rare_word_coverage")
PASSAGES_READ = 3


def heading_and_text(passage: Passage) -> str:
    return f"{passage.title}. {passage.section}. {passage.text}" if passage.section not in ("", passage.title) \
        else f"{passage.title}. {passage.text}"


def gate_features(question: str, passages: list[Passage], encoder: Encoder, vocabulary: Vocabulary) -> list[float]:
    """The gate's inputs for one question and its retrieved passages (best first)."""
    if not passages:
        return [0.0] * len(FEATURES)
    read = passages[:PASSAGES_READ]
    pieces = encoder.piece_vectors([question, *map(heading_and_text, read)])
    soft = encoder.soft_coverage(pieces[0], pieces[1:])
    found = set().union(*(tokens(heading_and_text(p)) for p in read[:2]))
    return [max(soft), vocabulary.coverage(tokens(question), found)]


@dataclass
class LogisticModel:
    """Standardized inputs, one weight each, a bias and a decision threshold on the probability."""

    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    threshold: float = 0.5

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, c: float = 1.0) -> "LogisticModel":
        from sklearn.linear_model import LogisticRegression

        mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-6
        model = LogisticRegression(C=c, max_iter=1000).fit((features - mean) / scale, labels)
        return cls(mean.tolist(), scale.tolist(), model.coef_[0].tolist(), float(model.intercept_[0]))

    def probability(self, features) -> float:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias))))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))
