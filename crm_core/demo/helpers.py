"""Small vectorised helpers of the demo shop: independent random streams, weighted draws,
string columns from integer codes, zero-padded numbers and a sortable (customer, time) key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)
KEY_STRIDE = 8192.0  # > days of history: customer * stride + day is a sortable key


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream for (seed, stream...)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities proportional to `weights`."""
    cdf = np.cumsum(weights / np.sum(weights))
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(weights) - 1)


def choice_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each entry of `rows`, an index drawn from that row of the probability `table`."""
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(rows))[:, None]
    return np.minimum((u >= cdf[rows]).sum(axis=1), table.shape[1] - 1)


def strings(codes: np.ndarray, labels: list[str]) -> pd.Series:
    """A string Series from integer codes into `labels`; negative codes are missing."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    dictionary = pa.DictionaryArray.from_arrays(indices, pa.array(labels, type=pa.string()))
    return pd.Series(dictionary.cast(pa.string()), dtype=STR_DTYPE)


def digits(numbers: np.ndarray, width: int, prefix: str = "") -> pd.Series:
    """Non-negative integers as zero-padded decimal strings, after `prefix`."""
    head = prefix.encode("ascii")
    out = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = numbers.astype(np.int64)
    for position in range(len(head) + width - 1, len(head) - 1, -1):
        out[:, position] = rest % 10 + 48
        rest = rest // 10
    binary = pa.array(out.view(f"S{out.shape[1]}").ravel())
    return pd.Series(binary.cast(pa.string()), dtype=STR_DTYPE)


def concat(parts: list[np.ndarray], dtype: type | str) -> np.ndarray:
    """The parts joined as one array of `dtype` (empty when there are no parts)."""
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype)


def sorted_keys(customer: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """One float per row that sorts by customer, then time (searchsorted finds a
    customer's rows before a moment)."""
    return customer * KEY_STRIDE + tau
