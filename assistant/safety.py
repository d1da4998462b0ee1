"""Keep retrieved text as data: redact instruction-like sentences before the model reads them.

Help-center documents can be edited by many people (or imported from community posts).
A sentence inside a passage that tries to steer the model ("ignore all previous
instructions and ...") is replaced by a marker, so it can neither be obeyed nor copied.
"""

from __future__ import annotations

import dataclasses
import re

from retrieval.passages import Passage

INJECTION_RE = re.compile(
    r"[^.!?\n]*\b("
    r"ignore (all |any )?(the )?(previous|prior|above|earlier|your) (instructions|prompts?|rules)"
    r"|disregard (all |any )?(the )?(previous|prior|above|your) (instructions|prompts?|rules)"
    r"|forget (all |everything|your) (previous )?(instructions|rules)?"
    r"|you are now (a|an|in) "
    r"|new instructions?:"
    r"|system prompt"
    r"|reply only with"
    r")[^.!?\n]*[.!?]?",
    re.IGNORECASE,
)
REDACTED = "[instruction-like text removed]"


def redact(text: str) -> str:
    return INJECTION_RE.sub(REDACTED, text)


def redact_passages(passages: list[Passage]) -> list[Passage]:
    return [dataclasses.replace(p, text=redact(p.text)) for p in passages]
