"""Nearest decided merchants by text and numbers, in numpy: no Django here.

A merchant becomes one dense unit vector: its text (``features.merchant_text``: name,
description, website, country and MCC tokens) hashed into word uni- and bigrams, weighted by
sublinear TF-IDF and reduced by a truncated SVD (LSA) to a few dozen dimensions, beside its
five numeric features (``features.numeric_matrix``) standardised. Cosine similarity is then
a matrix-vector product: over every row for a small index, and for a large one (from
``lists_from`` rows) over the rows of the ``probes`` k-means lists nearest to the query (an
inverted file, as in FAISS's IVF-Flat: a million rows by brute force cost 35-55 ms per query
on the shared 2-core machine, reading 190 MB each time). The top k come from the best
blocks' maxima, so that no full sort or partition of the scores is needed (see ``_top``).

An index is a folder of ``.npy`` files, opened with ``mmap_mode="r"`` so that every web
worker shares one copy through the page cache, and a sha256 over all of them that the
reader checks before trusting it. Each row carries a small JSON document (what the panel
shows about the decision), stored as one byte array plus offsets.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

from .features import NUMERIC_FEATURES

FILES = (
    "centroids",
    "components",
    "idf",
    "ids",
    "list_offsets",
    "meta",
    "meta_offsets",
    "numeric",
    "vectors",
)
CHUNK = 50_000  # rows vectorised at a time while building


class IndexUnreadable(Exception):
    """The index's files are missing, altered or not an index: the message says which."""


@dataclass(frozen=True)
class SimilarityConfig:
    n_features: int = 2**18  # hashed text features
    text_dims: int = 43  # SVD components; with the 5 numbers, 48 dimensions
    text_weight: float = 0.75  # share of the squared norm given to the text
    svd_sample: int = 50_000  # rows the SVD is fitted on
    seed: int = 0
    block: int = 1_024  # rows per block for the exact top-k search
    # From this many rows on, rows are grouped in about sqrt(n) lists around k-means
    # centroids and a query reads only the `probes` lists nearest to it (an inverted file:
    # approximate, bench/similar.py measures its recall); below it every row is compared.
    lists_from: int = 50_000
    probes: int = 24
    kmeans_sample: int = 100_000

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Neighbour:
    row: int
    merchant_id: int
    similarity: float  # cosine, clipped to [0, 1]


def _hasher(config: SimilarityConfig) -> HashingVectorizer:
    return HashingVectorizer(
        ngram_range=(1, 2),
        n_features=config.n_features,
        alternate_sign=False,
        norm=None,
        dtype=np.float32,
    )


def _tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    counts = sp.csr_matrix(counts, dtype=np.float32, copy=True)
    np.log1p(counts.data, out=counts.data)
    counts.data *= idf[counts.indices]
    return normalize(counts, norm="l2", copy=False)


@dataclass
class _Model:
    components: np.ndarray  # (n_features, text_dims) float32
    idf: np.ndarray  # (n_features,) float32
    numeric: np.ndarray  # (2, 5) float64: mean, scale
    config: SimilarityConfig

    def embed(self, texts: Sequence[str], numerics: np.ndarray) -> np.ndarray:
        """Unit float32 rows: text part then numeric part (see the module's docstring)."""
        counts = _hasher(self.config).transform(texts)
        text = np.asarray(_tfidf(counts, self.idf) @ self.components, dtype=np.float32)
        text = normalize(text, norm="l2", copy=False)
        z = (np.asarray(numerics, dtype=np.float64) - self.numeric[0]) / self.numeric[1]
        z /= np.sqrt(len(NUMERIC_FEATURES))
        weight = self.config.text_weight
        out = np.hstack([np.sqrt(weight) * text, np.sqrt(1.0 - weight) * z]).astype(np.float32)
        return normalize(out, norm="l2", copy=False)


def _fit(texts: Sequence[str], numerics: np.ndarray, config: SimilarityConfig) -> _Model:
    n = len(texts)
    hasher = _hasher(config)
    df = np.zeros(config.n_features, dtype=np.int64)
    for start in range(0, n, CHUNK):
        counts = hasher.transform(texts[start : start + CHUNK]).tocsc()
        df += np.diff(counts.indptr)
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(n, size=min(n, config.svd_sample), replace=False))
    tfidf = _tfidf(hasher.transform([texts[i] for i in sample]), idf)
    dims = max(1, min(config.text_dims, len(sample) - 1))
    with warnings.catch_warnings():  # explained variance ratio is 0/0 for a single row
        warnings.simplefilter("ignore", RuntimeWarning)
        svd = TruncatedSVD(n_components=dims, n_iter=5, random_state=config.seed).fit(tfidf)
    components = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
    mean = numerics.mean(axis=0) if n else np.zeros(len(NUMERIC_FEATURES))
    scale = numerics.std(axis=0) if n else np.ones(len(NUMERIC_FEATURES))
    scale = np.where(scale > 1e-6, scale, 1.0)
    return _Model(components, idf, np.vstack([mean, scale]), config)


def index_write(
    directory: Path,
    *,
    texts: Sequence[str],
    numerics: np.ndarray,
    merchant_ids: Sequence[int],
    meta: Sequence[Mapping[str, Any]],
    config: SimilarityConfig | None = None,
) -> tuple[Path, str]:
    """Build the index of these decided merchants under ``directory``, in a folder named by
    its content hash, and return ``(folder, sha256)``. The same rows give the same folder;
    the folder appears whole or not at all (written aside, then renamed)."""
    config = config or SimilarityConfig()
    n = len(texts)
    if not (n == len(numerics) == len(merchant_ids) == len(meta)) or n == 0:
        raise ValueError(f"need one text, numeric row, id and meta per merchant (got {n} texts)")
    numerics = np.asarray(numerics, dtype=np.float64)
    model = _fit(texts, numerics, config)
    directory.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=directory))
    try:
        dims = model.components.shape[1] + len(NUMERIC_FEATURES)
        embedded = np.lib.format.open_memmap(
            work / "embedded.npy", mode="w+", dtype=np.float32, shape=(n, dims)
        )
        for start in range(0, n, CHUNK):
            stop = min(n, start + CHUNK)
            embedded[start:stop] = model.embed(texts[start:stop], numerics[start:stop])
        centroids, order, list_offsets = _lists(embedded, config)
        vectors = np.lib.format.open_memmap(
            work / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, dims)
        )
        for start in range(0, n, CHUNK):
            vectors[start : start + CHUNK] = embedded[order[start : start + CHUNK]]
        vectors.flush()
        del vectors, embedded
        (work / "embedded.npy").unlink()
        np.save(work / "centroids.npy", centroids)
        np.save(work / "list_offsets.npy", list_offsets)
        blobs = [json.dumps(meta[i], sort_keys=True, default=str).encode() for i in order]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(b) for b in blobs], out=offsets[1:])
        np.save(work / "meta.npy", np.frombuffer(b"".join(blobs) or b" ", dtype=np.uint8))
        np.save(work / "meta_offsets.npy", offsets)
        np.save(work / "ids.npy", np.asarray(merchant_ids, dtype=np.int64)[order])
        np.save(work / "components.npy", model.components)
        np.save(work / "idf.npy", model.idf)
        np.save(work / "numeric.npy", model.numeric)
        (work / "config.json").write_text(json.dumps(config.as_dict(), sort_keys=True))
        digest = folder_sha256(work)
        final = directory / digest[:20]
        if _holds(final, digest):  # built before from the same rows: keep the first copy
            shutil.rmtree(work)
        else:
            shutil.rmtree(final, ignore_errors=True)  # a damaged copy
            os.replace(work, final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final, digest


def _lists(vectors: np.ndarray, config: SimilarityConfig) -> tuple[np.ndarray, ...]:
    """(centroids, the rows' order grouped by list, each list's first row and the end).
    Below `lists_from` rows: no centroids, the rows in their own order, one list."""
    n, dims = vectors.shape
    if n < config.lists_from:
        return np.zeros((0, dims), np.float32), np.arange(n), np.array([0, n], np.int64)
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(n, size=min(n, config.kmeans_sample), replace=False))
    kmeans = MiniBatchKMeans(
        n_clusters=int(np.sqrt(n)), batch_size=8_192, n_init=1, random_state=config.seed
    ).fit(np.asarray(vectors[sample]))
    centroids = normalize(kmeans.cluster_centers_.astype(np.float32), norm="l2")
    nearest = np.concatenate(
        [
            np.argmax(np.asarray(vectors[start : start + CHUNK]) @ centroids.T, axis=1)
            for start in range(0, n, CHUNK)
        ]
    )
    order = np.argsort(nearest, kind="stable")
    offsets = np.searchsorted(nearest[order], np.arange(len(centroids) + 1)).astype(np.int64)
    return centroids, order, offsets


def _holds(folder: Path, digest: str) -> bool:
    try:
        return folder_sha256(folder) == digest
    except OSError:
        return False


def folder_sha256(folder: Path) -> str:
    """sha256 over each file's name and sha256, in a fixed order."""
    outer = hashlib.sha256()
    for name in (*(f"{f}.npy" for f in FILES), "config.json"):
        with (folder / name).open("rb") as handle:
            inner = hashlib.file_digest(handle, "sha256").hexdigest()
        outer.update(f"{name}:{inner}\n".encode())
    return outer.hexdigest()


class SimilarityIndex:
    """An index opened for queries: arrays memory-mapped read-only."""

    def __init__(self, folder: Path, *, sha256: str) -> None:
        try:
            found = folder_sha256(folder)
        except OSError as error:
            raise IndexUnreadable(f"its files are missing ({error.strerror})") from error
        if found != sha256:
            raise IndexUnreadable("its files do not match their checksum")
        try:
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in FILES}
            config = SimilarityConfig(**json.loads((folder / "config.json").read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise IndexUnreadable(f"its files cannot be read ({error})") from error
        self.config = config
        self.vectors: np.ndarray = arrays["vectors"]
        self.ids: np.ndarray = arrays["ids"]
        self._meta: np.ndarray = arrays["meta"]
        self._offsets: np.ndarray = arrays["meta_offsets"]
        self._centroids = np.asarray(arrays["centroids"])
        self._lists = np.asarray(arrays["list_offsets"])
        self._model = _Model(
            np.asarray(arrays["components"]),
            np.asarray(arrays["idf"]),
            np.asarray(arrays["numeric"]),
            config,
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def meta(self, row: int) -> dict[str, Any]:
        start, stop = int(self._offsets[row]), int(self._offsets[row + 1])
        value: dict[str, Any] = json.loads(bytes(self._meta[start:stop]))
        return value

    def query(
        self,
        text: str,
        numerics: np.ndarray,
        *,
        k: int = 5,
        exclude: int | None = None,
        exhaustive: bool = False,
    ) -> list[Neighbour]:
        """The k rows nearest to one merchant, best first, never the merchant ``exclude``.
        ``exhaustive`` compares every row even in a large index (the bench's recall)."""
        vector = self._model.embed([text], np.asarray(numerics).reshape(1, -1))[0]
        if len(self._centroids) and not exhaustive:
            near = self._centroids @ vector
            probes = min(self.config.probes, len(near))
            chosen = np.sort(np.argpartition(-near, probes - 1)[:probes])
            spans = [(int(self._lists[c]), int(self._lists[c + 1])) for c in chosen]
            rows_read = np.concatenate([np.arange(a, b) for a, b in spans])
            scores = np.concatenate([self.vectors[a:b] @ vector for a, b in spans])
        else:
            rows_read = np.arange(len(self))
            scores = np.asarray(self.vectors @ vector)
        best = _top(scores, k + 1, self.config.block)
        out = [
            Neighbour(int(rows_read[i]), int(self.ids[rows_read[i]]), _clip(scores[i]))
            for i in best
            if int(self.ids[rows_read[i]]) != exclude
        ]
        return out[:k]


def _clip(score: float) -> float:
    return float(min(1.0, max(0.0, score)))


def _top(scores: np.ndarray, k: int, block: int) -> np.ndarray:
    """The k highest scores' positions, best first (ties by position). Exact: the k blocks
    with the highest maxima hold the top k, since every block holding one of them has a
    maximum at least as high as the k-th best; the tail shorter than a block is added whole."""
    n = scores.shape[0]
    k = min(k, n)
    whole = (n // block) * block
    candidates: np.ndarray
    if whole and n // block > k:
        maxima = scores[:whole].reshape(-1, block).max(axis=1)
        best = np.argpartition(-maxima, k - 1)[:k]
        candidates = (best[:, None] * block + np.arange(block)).ravel()
        candidates = np.concatenate([candidates, np.arange(whole, n)])
    else:
        candidates = np.arange(n)
    chosen = candidates[np.lexsort((candidates, -scores[candidates]))[:k]]
    return chosen
