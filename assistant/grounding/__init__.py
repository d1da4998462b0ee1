"""Grounded answers: a gate before generation, a support check after it, the passages' own words as the floor.

    grounding = Grounding.for_searcher(searcher, cfg)       # built from the indexed KB, cached beside the index
    if not grounding.answerable(question, passages): ...    # decline before the model runs
    text, citations = grounding.ground(draft, question, passages)

Every sentence shown is supported by the passage it cites (`verifier.py`); sentences the
model wrote without support are re-cited to a passage that supports them or dropped; the
answer is filled up with the passage sentences closest to the question (`extractive.py`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from retrieval.passages import Passage

from ..citations import Citation
from ..files import write_atomically
from .extractive import closest_sentences, on_topic, quote, quoted
from .gate import LogisticModel, gate_features, heading_and_text
from .signals import Encoder
from .text import MARKER_RE, Vocabulary, draft_sentences, is_pointer, said_already, strip_markers, tokens
from .verifier import SupportVerifier

FORMAT_VERSION = 1
NEW_WORDS = 1 / 3  # a quoted sentence adds at least this share of new words (a table's next row adds its values)


@dataclass
class GroundingSettings:
    """What the checks were built with and decide by (from `ChatConfig`)."""

    gate: bool = True
    verify: bool = True
    extractive_sentences: int = 3
    gate_sample_false_refusals: float = 0.03
    gate_examples: int = 300


class Grounding:
    def __init__(self, encoder: Encoder, vocabulary: Vocabulary, gate: LogisticModel, verifier: SupportVerifier,
                 settings: GroundingSettings):
        self.encoder, self.vocabulary, self.gate, self.verifier, self.settings = encoder, vocabulary, gate, verifier, settings
        self.made_up_threshold = gate.threshold  # the gate's threshold from the help center's own sentences
        self.key = ""  # the fingerprint of the chunks and settings these checks were built for
        self.calibration = None  # a company's labelled questions that set the gate's threshold (`calibration.py`)

    # -- the three decisions -------------------------------------------------------------------------
    def answerability(self, question: str, passages: list[Passage]) -> float:
        """The gate's probability that the passages answer the question."""
        return self.gate.probability(gate_features(question, passages, self.encoder, self.vocabulary))

    def answerable(self, question: str, passages: list[Passage]) -> bool:
        return bool(passages) and (not self.settings.gate or self.answerability(question, passages) >= self.gate.threshold)

    def ground(self, draft: str, question: str, passages: list[Passage], said_before: str = "",
               latest: str = "") -> tuple[str, list[Citation]]:
        """The answer as shown: the draft's supported sentences (each citing a passage that supports it),
        then the passage sentences closest to the question, up to `extractive_sentences` sentences; none
        of them a sentence of `said_before` (the conversation's earlier answers) again, unless what it adds
        is what the latest message asks (`said_already`). For a follow-up,
        `question` is its stand-alone form and `latest` the message as sent (`closest_sentences`)."""
        kept = self.supported_sentences(draft, passages, said_before, latest) if self.settings.verify else []
        kept = on_topic(kept, question, passages, self.encoder, self.vocabulary, latest)
        earlier = [set(tokens(s)) for s in draft_sentences(said_before)]
        asked = set(tokens(latest or question))
        shown_words = set().union(*(tokens(s) for s, _ in kept)) if kept else set()
        # Twice as many candidates as sentences shown: one already said or adding nothing new makes room for the next.
        for sentence, passage in closest_sentences(question, passages, self.encoder, self.vocabulary,
                                                   2 * self.settings.extractive_sentences, latest=latest):
            if len(kept) >= self.settings.extractive_sentences:
                break
            words = set(tokens(sentence))
            if words and not said_already(words, earlier, asked) and len(words - shown_words) >= NEW_WORDS * len(words):
                kept.append((quoted(sentence), passage))
                shown_words |= words
        text = " ".join(f"{with_marker(s, p.number)}" for s, p in kept)
        cited = sorted({p.number: p for _, p in kept}.items())
        return text, [Citation(n, p.doc_id, p.title, p.source, p.section, p.text[:300], p.score) for n, p in cited]

    def supported_sentences(self, draft: str, passages: list[Passage], said_before: str = "",
                            latest: str = "") -> list[tuple[str, Passage]]:
        """Each draft sentence with the passage that supports it (its own citation first); unsupported ones,
        headings read back and pointers ("See [Hub Wi-Fi setup](...)") dropped."""
        by_number = {p.number: p for p in passages}
        pieces = dict(zip(by_number, (v for v in self.encoder.piece_vectors([heading_and_text(p) for p in passages]))))
        headings = [set(tokens(p.heading)) for p in passages]
        kept = []
        for sentence in draft_sentences(draft, said_before, latest):
            claim = strip_markers(sentence).strip()
            words = set(tokens(claim))
            if not words or any(words <= heading for heading in headings) or is_pointer(claim):
                continue  # nothing, a passage's heading read back ("Trade-in Programme - What you can trade in"), a link
            cited = [int(n) for n in MARKER_RE.findall(sentence) if int(n) in by_number]
            order = cited + [n for n in by_number if n not in cited]
            support = next((n for n in order if self.verifier.supports(claim, by_number[n], pieces[n])), None)
            if support is not None:
                kept.append((claim, by_number[support]))
        return kept

    # -- building and caching ------------------------------------------------------------------------
    @classmethod
    def for_searcher(cls, searcher, settings: GroundingSettings, progress: bool = True, rebuild: bool = False,
                     calibrated: bool = True) -> "Grounding":
        """The checks for the searcher's knowledge base: from the cache beside the index when it was built
        for the same chunks and settings, otherwise built now (a few minutes on two CPU cores). A
        calibration saved beside the index (`calibration.py`) sets the gate's threshold unless `calibrated`
        is false."""
        from .calibration import apply_saved

        grounding = cls._cached_or_built(searcher, settings, progress, rebuild)
        if calibrated:
            grounding.calibration = apply_saved(grounding, searcher)
        return grounding

    @classmethod
    def _cached_or_built(cls, searcher, settings: GroundingSettings, progress: bool, rebuild: bool) -> "Grounding":
        from .build import build

        chunks = searcher.chunks()
        path = cache_path(searcher.cfg)
        key = fingerprint(chunks, searcher.cfg, settings)
        data = None
        if not rebuild and path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                data = data if data.get("key") == key else None
            except (OSError, ValueError) as exc:
                print(f"warning: rebuilding the grounding checks, {path} is unreadable ({exc})", file=sys.stderr)
                data = None
        if data is None:
            data = build(searcher, chunks, settings, progress)
            data["key"] = key
            write_atomically(path, json.dumps(data))
        try:
            grounding = cls.from_dict(data, searcher.cfg.embedding_model, settings)
        except KeyError as exc:
            if rebuild:
                raise
            print(f"warning: rebuilding the grounding checks, {path} lacks {exc}", file=sys.stderr)
            return cls._cached_or_built(searcher, settings, progress, rebuild=True)
        grounding.key = key
        return grounding

    @classmethod
    def from_dict(cls, data: dict, embedding_model: str, settings: GroundingSettings) -> "Grounding":
        encoder = Encoder(embedding_model, {int(k): v for k, v in data["encoder"]["piece_df"].items()},
                          data["encoder"]["documents"])
        gate = LogisticModel(**data["gate"])
        verifier = SupportVerifier(encoder, data["verifier"]["soft_threshold"], data["verifier"]["min_word_coverage"])
        return cls(encoder, Vocabulary.from_dict(data["vocabulary"]), gate, verifier, settings)


def with_marker(sentence: str, number: int) -> str:
    stripped = sentence.rstrip()
    end = len(stripped) - 1 if stripped[-1:] in ".!?" else len(stripped)
    return f"{stripped[:end]} [{number}]{stripped[end:]}"


def cache_path(retrieval_cfg) -> Path:
    return retrieval_cfg.resolved_index_dir() / f"grounding-{retrieval_cfg.collection}.json"


def fingerprint(chunks: list[dict], retrieval_cfg, settings: GroundingSettings) -> str:
    """Changes when the indexed chunks, the search settings or the gate's settings change."""
    digest = hashlib.sha256(str(FORMAT_VERSION).encode())
    for chunk in sorted(chunks, key=lambda c: (c["source"], c["text"])):
        digest.update(f"{chunk['source']}\0{chunk['text']}\0".encode())
    # The floors are not part of it: the examples are searched without them (`build.py`).
    search = {k: v for k, v in asdict(retrieval_cfg).items()
              if k not in ("index_dir", "chroma_url", "kb_dir", "min_score", "min_passage_score")}
    digest.update(json.dumps([search, settings.gate_sample_false_refusals, settings.gate_examples], sort_keys=True).encode())
    return digest.hexdigest()[:16]


__all__ = ["Grounding", "GroundingSettings", "cache_path", "quote"]
