"""Similar past decisions at scale: build the index of N decided merchants (synthetic), then
time single queries, one at a time in one process, vectorising the query merchant included.

    .venv/bin/python bench/similar.py                 # 1,000,000 merchants, 1,000 queries
    .venv/bin/python bench/similar.py --smoke         # seconds, for CI

Reports build time, peak resident memory, the files' size, the time to open (checksum) the
index, query p50/p95/p99 in ms, and how often a neighbour shares the query's hidden category
(a sanity check of the vectors, not a target). Needs no database: it exercises
supportability.ml.similarity, which the service wraps.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder would come first on sys.path, and bench/queue.py would
# shadow the standard library's queue module (which Celery and joblib import).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import argparse
import resource
import shutil
import tempfile
import time

import numpy as np

from bench.smoke import add_flag, shrink
from supportability.ml.features import NUMERIC_FEATURES, merchant_text, numeric_matrix
from supportability.ml.similarity import SimilarityConfig, SimilarityIndex, index_write
from supportability.ml.synthetic import SyntheticMerchant, generate_merchants

RECALL_QUERIES = 200  # also answered by comparing every row


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def inputs(merchants: list[SyntheticMerchant]) -> tuple[list[str], np.ndarray]:
    texts = [
        merchant_text(m.name, m.description, m.website_text, country=m.country, mcc=m.mcc)
        for m in merchants
    ]
    numbers = numeric_matrix([{f: getattr(m, f) for f in NUMERIC_FEATURES} for m in merchants])
    return texts, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--merchants", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1_000)
    add_flag(parser)
    args = parser.parse_args()
    if args.smoke:
        shrink(args, merchants=3_000, queries=50)
    config = SimilarityConfig(lists_from=1_000) if args.smoke else SimilarityConfig()

    started = time.perf_counter()
    world = generate_merchants(args.merchants, seed=11)
    texts, numbers = inputs(world)
    categories = np.array([m.true_category for m in world])
    meta = [
        {"decision": m.true_decision, "category_name": m.true_category, "rationale": "seen"}
        for m in world
    ]
    del world
    print(f"synthesised {args.merchants:,} merchants in {time.perf_counter() - started:.1f} s")

    scratch = Path(tempfile.mkdtemp(prefix="similar-bench-"))
    try:
        started = time.perf_counter()
        folder, sha256 = index_write(
            scratch,
            texts=texts,
            numerics=numbers,
            merchant_ids=list(range(1, args.merchants + 1)),
            meta=meta,
            config=config,
        )
        build = time.perf_counter() - started
        size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        print(f"build: {build:.1f} s, peak RSS {peak_rss_mb():,.0f} MB, files {size:,.0f} MB")
        del texts, numbers, meta

        started = time.perf_counter()
        index = SimilarityIndex(folder, sha256=sha256)
        print(f"open with checksum: {(time.perf_counter() - started) * 1000:,.0f} ms")

        probes = generate_merchants(args.queries, seed=12)
        probe_texts, probe_numbers = inputs(probes)
        rss_before = current_rss_mb()
        timings: list[float] = []
        same: list[bool] = []
        recall: list[float] = []
        for i, probe in enumerate(probes):
            t = time.perf_counter()
            found = index.query(probe_texts[i], probe_numbers[i], k=5)
            timings.append((time.perf_counter() - t) * 1000)
            same.extend(categories[n.merchant_id - 1] == probe.true_category for n in found)
            if i < RECALL_QUERIES:
                exact = index.query(probe_texts[i], probe_numbers[i], k=5, exhaustive=True)
                recall.append(len({n.row for n in found} & {n.row for n in exact}) / len(exact))
        p50, p95, p99 = np.percentile(timings, [50, 95, 99])
        print(
            f"{args.queries:,} queries over {len(index):,} merchants (k=5): "
            f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, p99 {p99:.1f} ms"
        )
        print(
            f"resident memory: {current_rss_mb():,.0f} MB after the queries "
            f"({rss_before:,.0f} MB before; the vectors are memory-mapped, shared between workers)"
        )
        print(f"neighbours sharing the query's hidden category: {np.mean(same):.1%}")
        print(
            f"recall@5 against comparing every row ({len(recall)} queries): {np.mean(recall):.1%}"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
