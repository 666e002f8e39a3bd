"""Data preparation for ``train``: missing values, the split, scaling, row fingerprints.

Everything works in place on the one feature matrix, a block of rows at a
time, so preparing the data never holds a second copy of it.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .errors import CliError

BLOCK = 65536  # rows per block for the passes over the feature matrix


def blocks(n: int, size: int = BLOCK):
    """Slices covering range(n) in steps of ``size``."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def missing_per_column(X: np.ndarray) -> np.ndarray:
    """(d,) int: NaN cells per column."""
    counts = np.zeros(X.shape[1], dtype=np.int64)
    for s in blocks(len(X)):
        counts += np.isnan(X[s]).sum(axis=0)
    return counts


def rows_complete(X: np.ndarray) -> np.ndarray:
    """(n,) bool: rows without a NaN."""
    keep = np.empty(len(X), dtype=bool)
    for s in blocks(len(X)):
        keep[s] = ~np.isnan(X[s]).any(axis=1)
    return keep


def split(y: np.ndarray, classify: bool, val_split: float, seed: int):
    """(train, validation) row indices, sorted.

    Classification is stratified: each class gives round(n_c * val_split) of
    its rows to validation, chosen by a permutation drawn from ``seed``.
    Regression holds out floor(n * val_split) shuffled rows.
    """
    n = len(y)
    rng = np.random.default_rng(seed)
    if not classify:
        order = rng.permutation(n)
        n_val = int(n * val_split)
        val, train = order[:n_val], order[n_val:]
    else:
        val_parts, train_parts = [], []
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            rows = rows[rng.permutation(len(rows))]
            k = int(np.floor(len(rows) * val_split + 0.5))
            val_parts.append(rows[:k])
            train_parts.append(rows[k:])
        val, train = np.concatenate(val_parts), np.concatenate(train_parts)
    if len(train) < 1:
        raise CliError(f"--val-split {val_split} leaves no training rows out of {n}")
    return np.sort(train), np.sort(val)


def column_means(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(d,) float64 mean over ``rows`` of each column, ignoring NaN (0 if all NaN)."""
    total = np.zeros(X.shape[1])
    count = np.zeros(X.shape[1])
    for s in blocks(len(rows)):
        part = X[rows[s]].astype(np.float64, copy=False)
        seen = ~np.isnan(part)
        total += np.where(seen, part, 0.0).sum(axis=0)
        count += seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def column_stds(X: np.ndarray, rows: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(d,) float64 population standard deviation over ``rows`` (two passes: stable)."""
    total = np.zeros(X.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        for s in blocks(len(rows)):
            total += ((X[rows[s]].astype(np.float64, copy=False) - mean) ** 2).sum(axis=0)
        return np.sqrt(total / max(len(rows), 1))


def fill_missing(X: np.ndarray, values: np.ndarray) -> int:
    """Replace NaN in column j by ``values[j]``, in place; the number of cells filled."""
    filled = 0
    for s in blocks(len(X)):
        part = X[s]
        holes = np.isnan(part)
        if holes.any():
            filled += int(holes.sum())
            part[holes] = np.broadcast_to(values.astype(X.dtype), part.shape)[holes]
    return filled


def standardiser(X: np.ndarray, rows: np.ndarray, names: list[str]):
    """(mean, std) over ``rows``; a constant column gets std 1 (no scaling)."""
    mean = column_means(X, rows)
    std = column_stds(X, rows, mean)
    bad = [n for n, m, s in zip(names, mean, std) if not (np.isfinite(m) and np.isfinite(s))]
    if bad:
        raise CliError(f"column(s) {', '.join(map(repr, bad))} hold values too large to scale")
    std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    return mean, std


def scale(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
    """X <- (X - mean) / std, in place, block by block."""
    m, s = mean.astype(X.dtype), std.astype(X.dtype)
    for b in blocks(len(X)):
        X[b] -= m
        X[b] /= s


def row_hashes(X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """(n,) uint64 fingerprint of each row's values: the first 8 bytes of the
    BLAKE2b digest of the row as float64 bytes (-0.0 as 0.0, every NaN alike).

    Equal rows give equal fingerprints; two different rows share one with
    probability about 2**-64, whatever the values (small whole numbers,
    0/1 columns and repeated patterns included: every bit of every byte
    goes through the cryptographic mixing, unlike a word-wise multiply).
    """
    n = len(X) if rows is None else len(rows)
    out = np.empty(n, dtype="<u8")
    for s in blocks(n):
        part = X[s] if rows is None else X[rows[s]]
        part = np.array(part, dtype="<f8", order="C") + 0.0  # -0.0 -> 0.0
        part[np.isnan(part)] = np.nan  # one NaN bit pattern
        rows_as_bytes = part.reshape(len(part), -1).view(f"V{8 * part[0].size}").ravel().tolist()
        blake2b = hashlib.blake2b
        digests = b"".join([blake2b(r, digest_size=8).digest() for r in rows_as_bytes])
        out[s] = np.frombuffer(digests, dtype="<u8")
    return out.astype(np.uint64, copy=False)


def count_known(hashes: np.ndarray, known: np.ndarray) -> int:
    """How many of ``hashes`` are in the sorted array ``known``."""
    if len(known) == 0 or len(hashes) == 0:
        return 0
    at = np.clip(np.searchsorted(known, hashes), 0, len(known) - 1)
    return int(np.count_nonzero(known[at] == hashes))
