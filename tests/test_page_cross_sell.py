"""AppTest of the Cross-sell page on a demo shop: every role in both languages sees the
period's rules as crm_core computes them, filtered by the minimums and the product
search, the heatmap, what a pair is worth per segment and the next best categories;
only roles that may download get the rules file; a segment narrows the baskets; a store
without order lines says so."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_core.customers.baskets import PurchaseHistory, basket_lines, basket_matrix, pair_rules
from crm_core.i18n import translate
from tests.support.apptest import demo_store_url, exception_text, open_page, store_engine
from ui.baskets import KEY_LEVEL, KEY_MIN_SUPPORT, KEY_NEXT_COUNT, KEY_SEARCH, KEY_SEGMENTS
from ui.cross_sell import DEFAULT_DAYS, DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_SUPPORT

PAGE = "views/cross_sell.py"
AS_OF = dt.date(2026, 10, 31)
SINCE = AS_OF - dt.timedelta(days=DEFAULT_DAYS - 1)
ROLES = ["viewer", "analyst", "admin"]


@pytest.fixture(scope="module")
def page_store_url(tmp_path_factory) -> str:
    return demo_store_url(tmp_path_factory.mktemp("cross-sell-page"), 2_500, 11, AS_OF)


@pytest.fixture
def engine(page_store_url, monkeypatch):
    with store_engine(page_store_url, monkeypatch) as engine:
        yield engine


def _open(role: str, language: str = "en"):
    return open_page(PAGE, role, language=language, as_of=AS_OF, username=f"basket-{role}")


def _metric(at, key: str, language: str) -> str:
    label = translate(key, language)
    return next(metric.value for metric in at.metric if metric.label == label)


def _expected(engine, level: str, customers=None, **minimums) -> tuple[int, pd.DataFrame]:
    lines = basket_lines(engine, level, SINCE, AS_OF)
    if customers is not None:
        lines = lines[lines["customer_id"].isin(customers)]
    matrix = basket_matrix(lines, top_items=1_000 if level == "sku" else None)
    return matrix.size, pair_rules(matrix, **minimums)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_periods_category_rules(engine, role, language):
    at = _open(role, language)
    assert at.title[0].value == translate("baskets.title", language)
    assert [tab.label for tab in at.tabs] == [
        translate(f"baskets.tab.{name}", language) for name in ("rules", "heatmap", "worth", "next")
    ]
    baskets, rules = _expected(
        engine,
        "category",
        min_support=DEFAULT_MIN_SUPPORT["category"] / 100,
        min_confidence=DEFAULT_MIN_CONFIDENCE / 100,
        min_lift=1.0,
    )
    assert _metric(at, "baskets.metric.baskets", language) == f"{baskets:,}"
    assert _metric(at, "baskets.metric.rules", language) == f"{len(rules):,}"
    assert len(rules) > 0
    shown = at.dataframe[0].value
    assert list(shown["antecedent"]) == list(rules["antecedent"])  # sorted by lift
    assert list(shown["consequent"]) == list(rules["consequent"])
    assert shown["lift"].to_numpy() == pytest.approx(rules["lift"].to_numpy())
    assert shown["support"].to_numpy() == pytest.approx(100 * rules["support"].to_numpy())
    downloads = [button for button in at.get("download_button")]
    assert bool(downloads) == (role != "viewer")
    assert at.get("plotly_chart"), "the heatmap and the pair's chart are drawn"
    worth = at.dataframe[1].value
    assert worth["segment"].iloc[0] == translate("baskets.worth.all", language)
    assert worth["baskets_with"].iloc[0] == rules["baskets"].iloc[0]
    assert len(at.dataframe) == 2  # the next best counts wait to be asked for
    at.toggle(key=KEY_NEXT_COUNT).set_value(True).run()
    assert not at.exception, exception_text(at)
    counted = at.dataframe[2].value.set_index("category")["customers"]
    best = PurchaseHistory(engine, AS_OF).next_best()
    expected = best[best["rank"] == 1]["category"].value_counts()
    assert counted.to_dict() == expected.to_dict() and counted.sum() > 0
    assert not at.exception, exception_text(at)


def test_sku_rules_with_names_follow_the_minimums_and_the_product_search(engine):
    at = _open("analyst")
    at.radio(key=KEY_LEVEL).set_value("sku").run()
    assert not at.exception, exception_text(at)
    support = DEFAULT_MIN_SUPPORT["sku"] / 100
    _baskets, rules = _expected(
        engine,
        "sku",
        min_support=support,
        min_confidence=DEFAULT_MIN_CONFIDENCE / 100,
        min_lift=1.0,
    )
    shown = at.dataframe[0].value
    assert len(shown) == len(rules)
    for label, sku in zip(shown["antecedent"], rules["antecedent"], strict=True):
        assert sku in label  # the name shown holds the SKU's code
    assert len(rules) > 0
    at.number_input(key=f"{KEY_MIN_SUPPORT}.sku").set_value(0.5).run()
    _baskets, stricter = _expected(
        engine, "sku", min_support=0.005, min_confidence=DEFAULT_MIN_CONFIDENCE / 100, min_lift=1.0
    )
    assert len(at.dataframe[0].value) == len(stricter) < len(rules)
    at.number_input(key=f"{KEY_MIN_SUPPORT}.sku").set_value(DEFAULT_MIN_SUPPORT["sku"]).run()
    at.text_input(key=KEY_SEARCH).set_value("坚果礼盒").run()
    searched = at.dataframe[0].value
    assert len(searched) > 0
    assert (
        searched["antecedent"].str.contains("坚果礼盒")
        | searched["consequent"].str.contains("坚果礼盒")
    ).all()
    assert not at.exception, exception_text(at)


def test_a_segment_narrows_the_baskets_to_its_customers(engine):
    from crm_core.customers.segments import NOT_SCORED, preset
    from crm_core.outreach.audiences import load_audience_facts

    at = _open("admin")
    facts = load_audience_facts(engine, AS_OF, None, preset("rfm11"))
    names = pd.Series(facts.assignment.names)[facts.assignment.codes].to_numpy()
    segment = pd.Series(names[names != NOT_SCORED]).value_counts().index[0]
    at.multiselect(key=KEY_SEGMENTS).set_value([segment]).run()
    assert not at.exception, exception_text(at)
    members = set(facts.customer_ids[names == segment])
    baskets, _rules = _expected(engine, "category", customers=members)
    assert _metric(at, "baskets.metric.baskets", "en") == f"{baskets:,}"
    everyone, _ = _expected(engine, "category")
    assert baskets < everyone


def test_a_store_without_order_lines_says_where_to_import_them(tmp_path, monkeypatch):
    from crm_core.store import bulk_insert, make_engine, models, upgrade_to_head

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = make_engine(url)
    upgrade_to_head(engine)
    with engine.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ["c1"]}))
    engine.dispose()
    with store_engine(url, monkeypatch):
        at = _open("viewer")
    assert [info.value for info in at.info] == [translate("baskets.no_lines", "en")]
    assert not at.tabs
