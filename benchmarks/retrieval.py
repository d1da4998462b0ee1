"""Retrieval: the plain-LangChain baseline and ours, side by side in one run.

    python -m benchmarks.retrieval [--kb data/kb] [--questions data/eval/*.jsonl] [--chunks 10000]

Baseline: RecursiveCharacterTextSplitter(1000, 200) + Chroma + the same embeddings +
similarity_search(k=5). Ours: heading-aware chunks, incremental indexing, hybrid search
(dense scores with each article's similarity, BM25 and the article title's match, fused by
score), at most two passages per article, and a relevance floor. Both use the same already-loaded model, so model loading is not
timed. Query latency is measured on a 10,000-chunk collection made from the real chunks:
each copy keeps the text and gets its vector jittered and re-normalised, which costs the
same to search as distinct articles (the embedding model is not run 10,000 times).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from retrieval.config import RetrievalConfig
from retrieval.recall import load_questions, score
from retrieval.index import build_index
from retrieval.search import Searcher
from retrieval.store import open_collection, read_all


def baseline_index(kb: Path, embeddings, client):
    """What a user would write with LangChain alone."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import DirectoryLoader, TextLoader
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = DirectoryLoader(str(kb), glob="**/*.md", loader_cls=TextLoader).load()
    for doc in docs:
        doc.metadata["source"] = Path(doc.metadata["source"]).relative_to(kb).as_posix()
    splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
    store = Chroma.from_documents(splits, embeddings, client=client, collection_name="baseline")
    return store, len(splits)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def synthetic_collection(source_cfg: RetrievalConfig, target_cfg: RetrievalConfig, total: int, seed: int = 0) -> int:
    """Fill `target_cfg`'s collection with `total` chunks copied from `source_cfg`'s, vectors jittered."""
    rows = read_all(open_collection(source_cfg), ["documents", "metadatas", "embeddings"])
    vectors = np.asarray(rows["embeddings"], dtype=np.float32)
    n = len(rows["ids"])
    rng = np.random.default_rng(seed)
    target = open_collection(target_cfg)
    ids, vecs, docs, metas = [], [], [], []
    for copy in range((total + n - 1) // n):
        take = min(n, total - copy * n)
        jitter = vectors[:take] + rng.normal(0, 0.03, vectors[:take].shape).astype(np.float32)
        vecs.append(jitter / np.linalg.norm(jitter, axis=1, keepdims=True))
        ids += [f"{chunk_id}~{copy}" for chunk_id in rows["ids"][:take]]
        docs += rows["documents"][:take]
        metas += [{**m, "doc_id": f"copy{copy}/{m['doc_id']}", "source": f"copy{copy}/{m['source']}"}
                  for m in rows["metadatas"][:take]]
    matrix = np.concatenate(vecs)
    for i in range(0, len(ids), 2000):
        target.add(ids=ids[i : i + 2000], embeddings=matrix[i : i + 2000], documents=docs[i : i + 2000],
                   metadatas=metas[i : i + 2000])
    return target.count()


def latencies(fn, queries: list[str]) -> np.ndarray:
    for q in queries[:5]:
        fn(q)  # warm caches
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    return np.asarray(times) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", default="data/kb")
    parser.add_argument("--questions", nargs="+", default=sorted(str(p) for p in Path("data/eval").glob("*.jsonl")),
                        help="Question files, scored one by one and together.")
    parser.add_argument("--chunks", type=int, default=10_000, help="Collection size for the latency test.")
    parser.add_argument("--latency_queries", type=int, default=100, help="Questions timed in the latency test.")
    args = parser.parse_args(argv)

    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma

    from retrieval.embeddings import embed_texts, load_embeddings

    kb = Path(args.kb).resolve()
    kb_chars = sum(len(p.read_text(encoding="utf-8")) for p in kb.rglob("*.md"))
    question_sets = {f: load_questions(Path(f)) for f in args.questions}
    questions = [q for qs in question_sets.values() for q in qs]
    work = Path(tempfile.mkdtemp(prefix="retrieval-bench-"))
    cfg = RetrievalConfig(kb_dir=str(kb), index_dir=str(work / "ours"))
    embeddings = load_embeddings(cfg.embedding_model)
    embeddings.embed_documents(["warm up"])
    embed_texts(cfg.embedding_model, ["warm up"])

    client = chromadb.PersistentClient(path=str(work / "baseline"), settings=Settings(anonymized_telemetry=False))
    (store, base_chunks), base_s = timed(lambda: baseline_index(kb, embeddings, client))
    summary, ours_s = timed(lambda: build_index(cfg, progress=False))
    again, again_s = timed(lambda: build_index(cfg, progress=False))
    assert again.embedded == 0, "an unchanged knowledge base was embedded again"

    searcher = Searcher(cfg)
    base_search = lambda q: [d.metadata["source"] for d in store.similarity_search(q, k=5)]  # noqa: E731
    ours_search = lambda q: [p.source for p in searcher.search(q, k=5)]  # noqa: E731
    scores = {f: (score(qs, base_search), score(qs, ours_search)) for f, qs in question_sets.items()}
    if len(question_sets) > 1:
        scores["all files"] = (score(questions, base_search), score(questions, ours_search))

    big = RetrievalConfig(kb_dir=str(kb), index_dir=str(work / "big"))
    size = synthetic_collection(cfg, big, args.chunks)
    big_searcher = Searcher(big)
    big_base = Chroma(collection_name=big.collection, client=chroma_client_for(big), embedding_function=embeddings)
    texts = [q["question"] for q in questions][: args.latency_queries]
    base_ms = latencies(lambda q: big_base.similarity_search(q, k=5), texts)
    ours_ms = latencies(lambda q: big_searcher.search(q, k=5), texts)

    rows = []
    for name, (base_q, ours_q) in scores.items():
        rows.append((f"{name} ({ours_q['answerable']} answerable)", "", "", ""))
        for metric in ("recall@1", "recall@5", "mrr@5"):
            label = metric.replace("mrr", "MRR")
            rows.append((f"  {label}", f"{base_q[metric]:.3f}", f"{ours_q[metric]:.3f}", f"{ours_q[metric] - base_q[metric]:+.3f}"))
    rows += [
        ("chunks indexed", str(base_chunks), str(summary.chunks), ""),
        ("index time (s)", f"{base_s:.1f}", f"{ours_s:.1f}", ""),
        ("chunks per second", f"{base_chunks / base_s:.2f}", f"{summary.chunks / ours_s:.2f}",
         f"x{(summary.chunks / ours_s) / (base_chunks / base_s):.2f}"),
        ("KB characters per second", f"{kb_chars / base_s:.0f}", f"{kb_chars / ours_s:.0f}", f"x{base_s / ours_s:.2f}"),
        ("re-index unchanged (s)", "-", f"{again_s:.2f}", f"{again_s / ours_s:.1%} of full"),
        (f"query p50 ms @{size}", f"{np.percentile(base_ms, 50):.1f}", f"{np.percentile(ours_ms, 50):.1f}", ""),
        (f"query p95 ms @{size}", f"{np.percentile(base_ms, 95):.1f}", f"{np.percentile(ours_ms, 95):.1f}", ""),
    ]
    print(f"{len(questions)} questions from {', '.join(args.questions)}; kb {args.kb}")
    print(f"{'':42}{'baseline':>12}{'ours':>12}{'delta':>16}")
    for name, base, ours, delta in rows:
        print(f"{name:42}{base:>12}{ours:>12}{delta:>16}")
    for name, (base_q, ours_q) in scores.items():
        if ours_q["unanswerable"]:
            print(f"{name}: no evidence on unanswerable questions: baseline "
                  f"{base_q['no_evidence_when_unanswerable']:.1%}, ours {ours_q['no_evidence_when_unanswerable']:.1%}")
    return 0


def chroma_client_for(cfg: RetrievalConfig):
    from retrieval.store import chroma_client

    return chroma_client(cfg)


if __name__ == "__main__":
    raise SystemExit(main())
