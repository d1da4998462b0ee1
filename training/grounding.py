"""Build (or rebuild) the grounding checks for the configured knowledge base.

    python -m training.grounding [--config configs/assistant.yaml] [--kb_dir DIR] [--force]

The answerability gate and the support verifier are made from the indexed help center
itself (assistant/grounding/build.py) and cached beside the index. The app and the
evaluation build them on first use and again whenever the indexed chunks change; this
command does it ahead of time, indexing the knowledge base first if needed.
"""

from __future__ import annotations

import sys

from assistant.assistant import grounding_settings
from assistant.config import load_config
from assistant.errors import UserError
from assistant.grounding import Grounding, cache_path


def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    force = "--force" in args
    args = [a for a in args if a != "--force"]
    if "-h" in args or "--help" in args:
        print(__doc__)
    cfg, _ = load_config(args)
    try:
        from retrieval.index import build_index
        from retrieval.search import Searcher

        build_index(cfg.retrieval, progress=True)
        searcher = Searcher(cfg.retrieval)
        grounding = Grounding.for_searcher(searcher, grounding_settings(cfg.chat), progress=True, rebuild=force)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    gate = grounding.gate
    print(f"Grounding checks ready: {cache_path(cfg.retrieval)}")
    print(f"  gate threshold {gate.threshold:.3f}; support threshold {grounding.verifier.soft_threshold:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
