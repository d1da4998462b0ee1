"""Build the grounding checks from the indexed knowledge base itself: no hand tuning per company.

    python -m training.grounding            # or automatically on first use after (re-)indexing

The gate learns from questions made out of the help center's own sentences:

- *answerable*: a question made from a sentence (some of its words, a question opening,
  a word or two a customer might add), searched as usual, when the search finds the
  sentence's article;
- *near miss*: the same question searched with that article taken out, which is what an
  unanswerable question looks like in a help center about the same products: related
  passages that do not say it. Passages that still contain the sentence (copies in other
  articles) make the example ambiguous, and it is left out.

Its threshold is set so that `false_refusals` of the answerable questions are declined.
"""

from __future__ import annotations

import random
import sys

import numpy as np

from retrieval.passages import Passage

from ..errors import AssistantError
from .gate import LogisticModel, gate_features, heading_and_text
from .signals import Encoder
from .text import Vocabulary, split_sentences, tokens
from .verifier import SupportVerifier


class GroundingError(AssistantError):
    """The grounding checks cannot be built for this knowledge base."""

OPENINGS = ("", "how do i", "can i", "what is", "is there", "does", "why does", "when will", "where is", "how long")
FILLER = ("my", "please", "i", "just", "still", "again", "today", "it", "the", "new", "help")


def make_question(sentence: str, rng: random.Random) -> str:
    """A customer-like question from a passage sentence: an opening, about half of its words, some filler."""
    words = [w for w in sentence.lower().replace("|", " ").split() if any(c.isalnum() for c in w)]
    kept = [w.strip(".,:;!?()\"'*") for w in words if rng.random() < 0.5][:9]
    for _ in range(rng.randint(0, 2)):
        kept.insert(rng.randint(0, len(kept)), rng.choice(FILLER))
    return " ".join([rng.choice(OPENINGS), *kept]).strip() + "?"


def sample_sentences(chunks: list[dict], count: int, rng: random.Random) -> list[tuple[str, dict]]:
    """Up to `count` (sentence, chunk) pairs spread over the articles, each sentence saying something specific."""
    by_doc: dict[str, list[dict]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk["source"], []).append(chunk)
    picked = []
    docs = list(by_doc)
    rng.shuffle(docs)
    while len(picked) < count and docs:
        for source in list(docs):
            chunk = rng.choice(by_doc[source])
            sentences = [s for s in split_sentences(chunk["text"]) if len(tokens(s)) >= 5]
            if sentences:
                picked.append((rng.choice(sentences), chunk))
            else:
                docs.remove(source)
            if len(picked) >= count:
                break
    return picked


def still_says(sentence: str, passages: list[Passage]) -> bool:
    words = set(tokens(sentence))
    return any(len(words & set(tokens(p.text))) >= 0.8 * len(words) for p in passages)


def gate_examples(searcher, chunks: list[dict], encoder: Encoder, vocabulary: Vocabulary, k: int, count: int,
                  seed: int = 0, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (1 answerable, 0 near miss) for questions made from the knowledge base."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    features, labels = [], []
    for sentence, chunk in tqdm(sample_sentences(chunks, count, rng), desc="gate examples", disable=not progress):
        question = make_question(sentence, rng)
        wide = searcher.search(question, k + 2 * searcher.cfg.max_per_doc)
        found = wide[:k]
        if any(p.source == chunk["source"] for p in found):
            features.append(gate_features(question, found, encoder, vocabulary))
            labels.append(1)
        others = [p for p in wide if p.source != chunk["source"]][:k]
        if others and not still_says(sentence, others):
            features.append(gate_features(question, others, encoder, vocabulary))
            labels.append(0)
    return np.asarray(features, dtype=np.float64), np.asarray(labels)


def fit_gate(features: np.ndarray, labels: np.ndarray, false_refusals: float) -> LogisticModel:
    """The logistic gate, its threshold at the `false_refusals` quantile of the answerable examples' scores."""
    model = LogisticModel.fit(features, labels)
    scores = model.probabilities(features[labels == 1])
    model.threshold = float(np.quantile(scores, false_refusals)) if len(scores) else 0.5
    return model


def drop_words(sentence: str, rng: random.Random, share: float = 0.2) -> str:
    """A shorter wording of a passage sentence, as an answer would put it."""
    words = sentence.split()
    return " ".join(w for w in words if rng.random() >= share) or sentence


def fit_verifier(searcher, chunks: list[dict], encoder: Encoder, count: int, seed: int = 1,
                 progress: bool = True) -> float:
    """The soft-coverage threshold that best separates a passage's own sentences (shortened) from the
    closest sentences of other articles that pass the exact checks against it."""
    from tqdm.auto import tqdm

    rng = random.Random(seed)
    checker = SupportVerifier(encoder, soft_threshold=0.0)
    positives, negatives = [], []
    for sentence, chunk in tqdm(sample_sentences(chunks, count, rng), desc="support examples", disable=not progress):
        own = Passage(1, chunk["text"], chunk["doc_id"], chunk["source"], chunk["title"], chunk["section"], "", 1.0)
        claim = drop_words(sentence, rng)
        if checker.exact_checks(claim, own):
            positives.append(soft(encoder, claim, own))
        for other in searcher.search(claim, 3):
            if other.source != chunk["source"] and not still_says(sentence, [other]):
                if checker.exact_checks(claim, other):
                    negatives.append(soft(encoder, claim, other))
                break
    return best_threshold(np.asarray(positives), np.asarray(negatives))


def soft(encoder: Encoder, claim: str, passage: Passage) -> float:
    text, source = encoder.piece_vectors([claim, heading_and_text(passage)])
    return encoder.soft_coverage(text, [source])[0]


def best_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Where accepted positives minus accepted negatives (shares) is largest; the 5th percentile of the
    positives when no negative gets past the exact checks."""
    if not len(positives):
        return 0.8
    if not len(negatives):
        return float(np.quantile(positives, 0.05))
    candidates = np.unique(np.concatenate([positives, negatives]))
    gain = [(positives >= t).mean() - (negatives >= t).mean() for t in candidates]
    return float(candidates[int(np.argmax(gain))])


def build(searcher, chunks: list[dict], settings, progress: bool = True) -> dict:
    """Everything the grounding checks need, as JSON-ready data."""
    import dataclasses

    from retrieval.search import Searcher

    if not chunks:
        raise GroundingError("The knowledge base is empty: index some documents first (python -m retrieval.index).")
    if progress:
        print(f"Building the grounding checks from {len(chunks)} indexed chunks ...", file=sys.stderr)
    texts = [f"{c['title']}. {c['text']}" for c in chunks]
    encoder = Encoder(searcher.cfg.embedding_model)
    encoder.fit_idf(texts)
    vocabulary = Vocabulary.from_texts(texts)
    wide = Searcher(dataclasses.replace(searcher.cfg, min_score=0.0, min_passage_score=0.0))
    features, labels = gate_examples(wide, chunks, encoder, vocabulary, searcher.cfg.top_k, settings.gate_examples,
                                     progress=progress)
    if len(set(labels.tolist())) < 2:
        raise GroundingError("The knowledge base is too small to build the answerability gate from: it needs "
                             "at least two articles with a few sentences each.")
    gate = fit_gate(features, labels, settings.gate_sample_false_refusals)
    soft_threshold = fit_verifier(wide, chunks, encoder, max(settings.gate_examples // 2, 20), progress=progress)
    return {
        "encoder": encoder.to_dict(),
        "vocabulary": vocabulary.to_dict(),
        "gate": dataclasses.asdict(gate),
        "verifier": {"soft_threshold": soft_threshold, "min_word_coverage": SupportVerifier.min_word_coverage},
        "examples": {"gate": len(labels), "answerable": int(labels.sum())},
    }
