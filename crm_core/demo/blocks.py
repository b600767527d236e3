"""Gathering the blocks into tables: `Blocks` hands out one column over all blocks; time
order, ids (C0000001, O000000001, ...) and references between the tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_core.demo.helpers import digits


class Blocks:
    """The blocks' tables, handed out one column at a time over all blocks (and then
    dropped from the blocks, which keeps memory down)."""

    def __init__(self, blocks: list[dict[str, dict[str, np.ndarray]]], starts: list[int]) -> None:
        self.blocks = blocks
        self.customer_offsets = starts
        sizes = [len(block["orders"]["tau"]) for block in blocks]
        self.order_offsets = list(np.cumsum([0, *sizes[:-1]]))

    def take(
        self,
        table: str,
        column: str,
        order: np.ndarray | None = None,
        offset_by: str | None = None,
    ) -> np.ndarray:
        """One column over all blocks, rows in `order` when given; offset_by "customer"
        or "order" turns block positions into global ones (-1 stays -1)."""
        parts = []
        for number, block in enumerate(self.blocks):
            values = block[table].pop(column)
            if offset_by == "customer":
                values = values + self.customer_offsets[number]
            elif offset_by == "order":
                values = np.where(values >= 0, values + self.order_offsets[number], -1)
            parts.append(values)
        joined = np.concatenate(parts)
        return joined if order is None else joined[order]


def chronological(seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(permutation into time order, 1-based rank of each row in time order)."""
    permutation = np.argsort(seconds, kind="stable")
    rank = np.empty(len(seconds), dtype=np.int64)
    rank[permutation] = np.arange(1, len(seconds) + 1)
    return permutation, rank


def numbered(prefix: str, count: int, min_width: int) -> pd.Series:
    """Ids prefix + 1..count in that order."""
    return digits(np.arange(1, count + 1), max(min_width, len(str(count))), prefix)


def references(prefix: str, numbers: np.ndarray, count: int, min_width: int) -> pd.Series:
    """Ids of rows numbered `numbers` (as made by `numbered`); numbers <= 0 are missing."""
    ids = digits(np.maximum(numbers, 0), max(min_width, len(str(count))), prefix)
    return ids.where(numbers > 0)


def customers_of(customer_ids: pd.Series, positions: np.ndarray) -> pd.Series:
    """The customer ids at 0-based `positions`, as a fresh 0..n-1 indexed Series."""
    return customer_ids.take(positions).reset_index(drop=True)
