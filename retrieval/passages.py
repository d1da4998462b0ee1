"""A retrieved passage and the numbered text the model reads: shared by search, citations, checks and training."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Passage:
    """A retrieved chunk: its text plus where it came from and how well it matched."""

    number: int
    text: str
    doc_id: str
    source: str
    title: str
    section: str
    chunk_id: str
    score: float

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def heading(self) -> str:
        """"Title - Section" (the title alone when the section is the title), as the model reads it."""
        return self.title if self.section in ("", self.title) else f"{self.title} - {self.section}"


def format_passages(passages: list[Passage]) -> str:
    """The tool result the model reads: numbered, quoted passages with their source.

    The text is quoted data from documents, never instructions; the system prompt says so.
    """
    if not passages:
        return "No relevant passages found in the help center."
    blocks = []
    for p in passages:
        blocks.append(f'[{p.number}] {p.heading} (source: {p.source})\n"""\n{p.text.strip()}\n"""')
    return "\n\n".join(blocks)
