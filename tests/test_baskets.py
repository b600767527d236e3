"""What sells together (crm_core.customers.baskets): pair rules on hand-written baskets
with known support, confidence and lift, and equal to mlxtend's apriori +
association_rules (a test dependency only) on random baskets and on UCI Online Retail."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_core.customers.baskets import RULE_COLUMNS, basket_matrix, pair_rules
from crm_core.errors import InputError
from tests.support.requirements import shared_file


def _lines(baskets: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(basket, item) for basket, items in baskets.items() for item in items],
        columns=["order_id", "item"],
    )


HAND_WRITTEN = {
    "o1": ["nuts", "gift box", "bag"],
    "o2": ["nuts", "gift box", "bag"],
    "o3": ["nuts", "opener", "bag"],
    "o4": ["formula", "bottle", "bag"],
    "o5": ["formula", "wipes", "bag", "bag"],  # an item twice counts once
}


def test_hand_written_baskets_give_the_known_rules():
    rules = pair_rules(basket_matrix(_lines(HAND_WRITTEN))).set_index(["antecedent", "consequent"])
    assert list(rules.columns) == list(RULE_COLUMNS[2:])
    nuts_box = rules.loc[("nuts", "gift box")]
    assert nuts_box["baskets"] == 2 and nuts_box["support"] == pytest.approx(2 / 5)
    assert nuts_box["confidence"] == pytest.approx(2 / 3)
    assert nuts_box["lift"] == pytest.approx((2 / 3) / (2 / 5))
    box_nuts = rules.loc[("gift box", "nuts")]
    assert box_nuts["confidence"] == 1.0 and box_nuts["lift"] == pytest.approx(1 / (3 / 5))
    # "bag" is in every basket: a rule into it has lift 1 and confidence 1
    assert rules.loc[("opener", "bag"), "lift"] == pytest.approx(1.0)
    assert rules.loc[("opener", "bag"), "confidence"] == 1.0
    # a tie in lift is ordered by baskets, then by name
    ordered = pair_rules(basket_matrix(_lines(HAND_WRITTEN)))
    top = ordered[ordered["lift"] == ordered["lift"].max()]
    assert list(zip(top["antecedent"], top["consequent"], strict=True))[:2] == [
        ("bottle", "formula"),
        ("formula", "bottle"),
    ]
    assert ("nuts", "formula") not in rules.index  # never together: no rule
    strong = pair_rules(basket_matrix(_lines(HAND_WRITTEN)), min_confidence=1.0, min_lift=1.5)
    assert set(strong["consequent"]) <= {"nuts", "formula", "gift box"}
    assert (strong["confidence"] == 1.0).all() and (strong["lift"] >= 1.5).all()


def test_top_items_keep_the_items_in_most_baskets():
    matrix = basket_matrix(_lines(HAND_WRITTEN), top_items=3)
    assert list(matrix.items) == ["bag", "formula", "nuts"]  # 5, 2 (tie with gift box), 3
    assert matrix.size == 5


def test_bad_thresholds_and_a_missing_column_are_clear_errors():
    with pytest.raises(InputError):
        pair_rules(basket_matrix(_lines(HAND_WRITTEN)), min_support=1.5)
    with pytest.raises(InputError):
        basket_matrix(pd.DataFrame({"order_id": ["o1"]}))
    empty = pair_rules(basket_matrix(_lines({})))
    assert list(empty.columns) == list(RULE_COLUMNS) and empty.empty


def _mlxtend_pairs(matrix, min_support: float) -> pd.DataFrame:
    """mlxtend's rules with one item on each side, as RULE_COLUMNS' names."""
    from mlxtend.frequent_patterns import apriori, association_rules

    onehot = pd.DataFrame(
        matrix.matrix.toarray().astype(bool), columns=[str(item) for item in matrix.items]
    )
    itemsets = apriori(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = association_rules(itemsets, metric="confidence", min_threshold=0.0)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)]
    return pd.DataFrame(
        {
            "antecedent": rules["antecedents"].map(lambda s: next(iter(s))),
            "consequent": rules["consequents"].map(lambda s: next(iter(s))),
            "support": rules["support"],
            "confidence": rules["confidence"],
            "lift": rules["lift"],
        }
    )


def _compare(matrix, min_support: float) -> int:
    rules = pair_rules(matrix, min_support=min_support)
    assert (np.rint(rules["support"] * matrix.size) == rules["baskets"]).all()
    key = ["antecedent", "consequent"]
    ours = rules.sort_values(key, ignore_index=True)[[*key, "support", "confidence", "lift"]]
    theirs = _mlxtend_pairs(matrix, min_support).sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=1e-12)
    return len(ours)


def test_rules_equal_mlxtends_on_random_baskets():
    rng = np.random.default_rng(4)
    weights = rng.dirichlet(np.full(40, 0.3))
    baskets = {
        f"o{n}": list(rng.choice(40, size=rng.integers(1, 7), p=weights).astype(str))
        for n in range(3_000)
    }
    assert _compare(basket_matrix(_lines(baskets)), 0.01) > 20


def test_rules_equal_mlxtends_on_uci_online_retail():
    lines = pd.read_csv(
        shared_file("online_retail_uci/online_retail.csv.gz"),
        encoding="latin1",
        dtype={"InvoiceNo": str, "StockCode": str},
    )
    paid = lines[~lines["InvoiceNo"].str.startswith("C") & (lines["Quantity"] > 0)]
    matrix = basket_matrix(
        paid.rename(columns={"InvoiceNo": "order_id", "StockCode": "item"}), top_items=300
    )
    assert matrix.size > 19_000
    assert _compare(matrix, 0.01) > 50


def test_the_basket_command_reads_paid_orders_lines_in_the_period(
    store, tmp_path, monkeypatch, capsys
):
    from crm_core import commands as cli
    from crm_core.store import bulk_insert, models

    orders = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
            "customer_id": ["c1", "c2", "c3", "c1", "c2", "c3"],
            "ordered_at": pd.to_datetime(
                [
                    "2026-03-01 10:00",
                    "2026-03-02 11:00",
                    "2026-03-31 23:30",
                    "2026-03-05 09:00",
                    "2026-04-01 00:10",
                    "2026-03-10 12:00",
                ]
            ),
            "amount": [30.0, 40.0, 25.0, 10.0, 50.0, 20.0],
            "status": ["paid", "paid", "paid", "cancelled", "paid", "paid"],
        }
    )
    lines = pd.DataFrame(
        [
            ("o1", 1, "N1", "snacks"), ("o1", 2, "G1", "gifts"),
            ("o2", 1, "N1", "snacks"), ("o2", 2, "G1", "gifts"), ("o2", 3, "B1", "baby"),
            ("o3", 1, "N1", "snacks"), ("o3", 2, "B1", "baby"),
            ("o4", 1, "N1", "snacks"), ("o4", 2, "G1", "gifts"),  # cancelled
            ("o5", 1, "N1", "snacks"), ("o5", 2, "G1", "gifts"),  # after the period
            ("o6", 1, "N1", "snacks"), ("o6", 2, None, None),  # no SKU
        ],
        columns=["order_id", "line_no", "sku", "category"],
    )  # fmt: skip
    lines["quantity"] = 1.0
    lines.loc[(lines["order_id"] == "o2") & (lines["line_no"] == 3), "quantity"] = -1.0  # returned
    lines["unit_price"] = 10.0
    lines["amount"] = lines["quantity"] * lines["unit_price"]
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1", "c2", "c3"]}))
        bulk_insert(conn, models.orders, orders)
        bulk_insert(conn, models.order_lines, lines)
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    out = tmp_path / "rules.csv"
    arguments = ["basket", "--from", "2026-03-01", "--to", "2026-03-31", "--out", str(out)]
    assert cli.main([*arguments, "--min-support", "0"]) == 0
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert list(written.columns) == [
        "antecedent",
        "consequent",
        "baskets",
        "support",
        "confidence",
        "lift",
    ]
    expected = pair_rules(
        basket_matrix(
            _lines({"o1": ["N1", "G1"], "o2": ["N1", "G1"], "o3": ["N1", "B1"], "o6": ["N1"]})
        )
    )
    pd.testing.assert_frame_equal(written, expected[list(written.columns)], check_dtype=False)
    assert "over 4 baskets" in capsys.readouterr().out
    assert cli.main([*arguments, "--level", "category", "--min-support", "0.5"]) == 0
    by_category = pd.read_csv(out, encoding="utf-8-sig")
    assert set(zip(by_category["antecedent"], by_category["consequent"], strict=True)) == {
        ("gifts", "snacks"),
        ("snacks", "gifts"),
    }
    assert (
        cli.main(["basket", "--from", "2026-04-01", "--to", "2026-03-01", "--out", str(out)]) == 2
    )


def test_next_best_categories_weigh_the_rules_by_how_recently_each_category_was_bought():
    from crm_core.customers.baskets import (
        RECENCY_HALF_LIFE_DAYS,
        CustomerItems,
        next_best_categories,
    )

    rules = pair_rules(
        basket_matrix(
            _lines(
                {
                    "b1": ["nuts", "gifts"], "b2": ["nuts", "gifts"], "b3": ["nuts", "tools"],
                    "b4": ["formula", "baby"], "b5": ["formula", "baby"], "b6": ["baby"],
                }
            )
        )
    )  # fmt: skip
    purchases = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2", "c3"],
            "category": ["nuts", "formula", "baby", "tools"],
            "ordered_at": pd.to_datetime(["2026-10-21", "2026-05-04", "2026-10-30", "2026-11-05"]),
        }
    )
    best = next_best_categories(CustomerItems.from_purchases(purchases, "2026-10-31"), rules)
    c1 = best[best["customer_id"] == "c1"].set_index("category")
    w_nuts, w_formula = 0.5 ** (10 / RECENCY_HALF_LIFE_DAYS), 0.5 ** (180 / RECENCY_HALF_LIFE_DAYS)
    total = w_nuts + w_formula
    assert list(c1.index) == ["gifts", "tools", "baby"]  # recent nuts outweigh old formula
    assert c1.loc["gifts", "score"] == pytest.approx(w_nuts * (2 / 3) / total)
    assert c1.loc["baby", "score"] == pytest.approx(w_formula * 1.0 / total)
    assert c1.loc["tools", "score"] == pytest.approx(w_nuts * (1 / 3) / total)
    assert list(c1["rank"]) == [1, 2, 3]
    c2 = best[best["customer_id"] == "c2"]
    assert list(c2["category"]) == ["formula"]  # baby's only partner; bought items never
    assert c2["score"].iloc[0] == pytest.approx(2 / 3)
    assert "c3" not in set(best["customer_id"])  # bought only after the as-of day


def test_next_best_categories_scored_in_chunks_equal_those_scored_at_once(monkeypatch):
    from crm_core.customers import baskets
    from crm_core.customers.baskets import CustomerItems, next_best_categories

    rng = np.random.default_rng(8)
    names = [f"cat{n:02d}" for n in range(30)]
    lines = _lines(
        {f"o{n}": list(rng.choice(names, size=rng.integers(1, 5))) for n in range(2_000)}
    )
    rules = pair_rules(basket_matrix(lines))
    purchases = pd.DataFrame(
        {
            "customer_id": [f"c{n}" for n in rng.integers(0, 500, 3_000)],
            "category": rng.choice(names, 3_000),
            "ordered_at": pd.Timestamp("2026-10-31")
            - pd.to_timedelta(rng.integers(0, 700, 3_000), "D"),
        }
    )
    items = CustomerItems.from_purchases(purchases, "2026-10-31")
    whole = next_best_categories(items, rules)
    monkeypatch.setattr(baskets, "SCORE_CELLS", 7 * len(names))  # 7 customers at a time
    chunked = next_best_categories(items, rules)
    pd.testing.assert_frame_equal(whole, chunked)
    assert len(whole) > 1_000 and set(whole["rank"]) == {1, 2, 3}
    ranked = whole.pivot(index="customer_id", columns="rank", values="score").dropna()
    assert (ranked[1] >= ranked[2]).all() and (ranked[2] >= ranked[3]).all()
