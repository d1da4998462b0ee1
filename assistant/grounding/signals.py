"""What the grounding checks measure with the embedding model the search already loads.

*Soft coverage* asks how much of a short text (a question, an answer sentence) a passage
covers: each word piece of the text is matched to its most similar word piece of the
passage (contextual embeddings of the same MiniLM encoder), and the matches are averaged,
weighted by how rare the piece is in the knowledge base. It is BERTScore's recall, with
IDF weights taken from the company's own documents, so "ship" meets "shipping" and "ohms"
finds nothing in a passage that never mentions impedance.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict

import numpy as np

from retrieval.embeddings import embed_texts, load_encoder, single_thread

MAX_PIECES = 256  # word pieces read per passage; a chunk is at most ~900 characters
CACHED_TEXTS = 512  # piece vectors kept (about 0.3 MB each)


class Encoder:
    """Sentence vectors and word-piece vectors, plus word-piece IDF over the knowledge base."""

    def __init__(self, model_name: str, piece_df: dict[int, int] | None = None, documents: int = 0):
        self.model_name = model_name
        self.model = load_encoder(model_name)
        self.tokenizer = self.model.tokenizer
        self.piece_df, self.documents = piece_df or {}, documents
        self._cache: OrderedDict[str, tuple[np.ndarray, list[int]]] = OrderedDict()

    def fit_idf(self, texts: list[str]) -> None:
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=MAX_PIECES)["input_ids"]
        self.piece_df = dict(Counter(piece for row in ids for piece in set(row)))
        self.documents = len(texts)

    def idf(self, piece: int) -> float:
        return math.log((self.documents + 1) / (self.piece_df.get(piece, 0) + 0.5))

    def sentence_vectors(self, texts: list[str]) -> np.ndarray:
        return embed_texts(self.model_name, texts) if texts else np.zeros((0, 384), dtype=np.float32)

    def piece_vectors(self, texts: list[str]) -> list[tuple[np.ndarray, list[int]]]:
        """Unit-length contextual vectors of each text's word pieces (special tokens dropped), with their ids.

        The last `CACHED_TEXTS` results are kept: the gate and the support check read the same
        passages, and building the checks meets each chunk many times."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, result in zip(missing, self._encode(missing)):
                self._cache[text] = result
        for text in texts:
            self._cache.move_to_end(text)
        found = [self._cache[t] for t in texts]
        while len(self._cache) > CACHED_TEXTS:
            self._cache.popitem(last=False)
        return found

    def _encode(self, texts: list[str]) -> list[tuple[np.ndarray, list[int]]]:
        import torch

        self.model.max_seq_length = MAX_PIECES
        with single_thread(), torch.inference_mode():
            outputs = self.model.encode(texts, output_value="token_embeddings", convert_to_numpy=False,
                                        batch_size=16, show_progress_bar=False)
        ids = self.tokenizer(texts, truncation=True, max_length=MAX_PIECES)["input_ids"]
        result = []
        for vectors, row in zip(outputs, ids):
            vectors = torch.nn.functional.normalize(vectors[1 : len(row) - 1].float(), dim=-1)
            result.append((vectors.numpy(), row[1:-1]))
        return result

    def soft_coverage(self, text: tuple[np.ndarray, list[int]], passages: list[tuple[np.ndarray, list[int]]]) -> list[float]:
        """For each passage, the IDF-weighted mean of the best match of every piece of `text`."""
        vectors, ids = text
        if not len(ids):
            return [0.0 for _ in passages]
        weights = np.asarray([self.idf(i) for i in ids], dtype=np.float32)
        return [float(weights @ (vectors @ p.T).max(axis=1) / weights.sum()) if len(p) else 0.0 for p, _ in passages]

    def to_dict(self) -> dict:
        return {"piece_df": {str(k): v for k, v in self.piece_df.items()}, "documents": self.documents}
