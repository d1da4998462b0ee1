"""How close a sentence is to what was asked: the passages' own sentences closest to the question (quoted
and cited), and which of the model's supported sentences answer it (`on_topic`).

The quoted sentences fill an answer up, are the answer when none of the model's sentences
survives the checks, and are the `extractive` row of `assistant.evaluate` (no model at all):
the floor every answer should beat.
"""

from __future__ import annotations

import numpy as np

from retrieval.search import Passage

from .signals import Encoder
from .text import Vocabulary, statement_sentences, tokens

PASSAGES_READ = 3
WORD_WEIGHT = 0.5
RANK_WEIGHT = 0.05
KEEP_WITHIN = 0.3
OTHER_ARTICLE_WITHIN = 0.05


def candidate_sentences(passages: list[Passage]) -> list[tuple[str, Passage]]:
    seen, found = set(), []
    for passage in passages[:PASSAGES_READ]:
        for sentence in statement_sentences(passage.text):
            if sentence.lower() not in seen:
                seen.add(sentence.lower())
                found.append((sentence, passage))
    return found


def closeness(question: str, sentences: list[str], encoder: Encoder, vocabulary: Vocabulary, latest: str = "",
              word_weight: float = WORD_WEIGHT) -> np.ndarray:
    """How close each sentence is to what was asked: embedding cosine plus `word_weight` times the share of
    the question's rare words it contains; for a follow-up, the mean over its stand-alone form and `latest`."""
    asked = [question, latest] if latest and latest != question else [question]
    vectors = encoder.sentence_vectors(asked + sentences)
    sentence_words = [set(tokens(s)) for s in sentences]
    score = np.zeros(len(sentences))
    for i, text in enumerate(asked):
        words = np.asarray([vocabulary.coverage(tokens(text), found) for found in sentence_words])
        score += (vectors[len(asked):] @ vectors[i] + word_weight * words) / len(asked)
    return score


def on_topic(drafted: list[tuple[str, Passage]], question: str, passages: list[Passage], encoder: Encoder,
             vocabulary: Vocabulary, latest: str = "",
             other_article_within: float = OTHER_ARTICLE_WITHIN) -> list[tuple[str, Passage]]:
    """The model's supported sentences that answer what was asked: those citing the article of the passage
    sentence closest to the question, and others only when they are as close to the question as that
    sentence (within `other_article_within`), the rule the quoted sentences follow. A true sentence about
    something else (the email settings, in an answer about a codec) is supported by its passage, but it
    is not an answer; an answer sentence seldom repeats the question's words, so within the answering
    article closeness is not asked for."""
    candidates = candidate_sentences(passages)
    if not drafted or not candidates:
        return drafted
    score = closeness(question, [s for s, _ in drafted] + [s for s, _ in candidates], encoder, vocabulary, latest)
    best = int(np.argmax(score[len(drafted):]))
    answering, bar = candidates[best][1].source, score[len(drafted) + best] - other_article_within
    return [(sentence, passage) for (sentence, passage), value in zip(drafted, score)
            if passage.source == answering or value >= bar]


def closest_sentences(question: str, passages: list[Passage], encoder: Encoder, vocabulary: Vocabulary,
                      count: int = 2, word_weight: float = WORD_WEIGHT, rank_weight: float = RANK_WEIGHT,
                      keep_within: float = KEEP_WITHIN, latest: str = "",
                      other_article_within: float = OTHER_ARTICLE_WITHIN) -> list[tuple[str, Passage]]:
    """The `count` passage sentences closest to the question, closest first: embedding cosine, plus the share of the
    question's rare words they contain, minus a little for each place their passage ranks lower.
    Sentences scoring more than `keep_within` below the best are left out (they cite weaker passages), and
    sentences of another article than the best one's unless within `other_article_within` of it: an answer
    quoting two articles usually quotes one that does not answer (measured on data/eval, the band of
    0.05 raised citation precision and kept key content).

    For a follow-up, `question` is the conversation's stand-alone question and `latest` the message
    itself: both count equally, so "and on the Hub?" after a question about the Dome Max picks the
    Hub's sentence, not the Dome Max's again."""
    candidates = candidate_sentences(passages)
    if not candidates:
        return []
    score = closeness(question, [s for s, _ in candidates], encoder, vocabulary, latest, word_weight)
    rank = {p.number: i for i, p in enumerate(passages)}
    lower = np.asarray([rank[p.number] for _, p in candidates], dtype=float)
    score = score - rank_weight * lower
    best = int(np.argmax(score))
    within = [keep_within if candidates[i][1].source == candidates[best][1].source else min(keep_within, other_article_within)
              for i in range(len(candidates))]
    order = [i for i in np.argsort(-score, kind="stable") if score[i] >= score[best] - within[i]][:count]
    return [candidates[i] for i in order]


def quoted(sentence: str) -> str:
    """The passage's words in quotation marks (once, when the sentence already is a quotation)."""
    return f'"{sentence.strip().strip(chr(34))}"'


def quote(sentences: list[tuple[str, Passage]]) -> str:
    """`"sentence" [n]` for each sentence, in the order given."""
    return " ".join(f"{quoted(s)} [{p.number}]" for s, p in sentences)
