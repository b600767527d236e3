"""Segment schemes: the rule language, every preset, JSON round trip, tables, migration
and saved versions."""

from __future__ import annotations

import datetime as dt
import itertools
import json

import numpy as np
import pandas as pd
import pytest

from crm_core.auth import Actor
from crm_core.customers.rfm import Scoring, prepare_facts, score
from crm_core.customers.segments import (
    NOT_KNOWN,
    NOT_SCORED,
    PRESET_NAMES,
    SCORED_TABLE_COLUMNS,
    Rule,
    RuleFields,
    RuleRow,
    Scheme,
    align_customers,
    aligned_codes,
    assign_segments,
    condition_from_rows,
    condition_text,
    condition_words,
    customer_codes,
    customer_segments,
    evaluate_rule,
    evaluate_scheme,
    list_saved_schemes,
    load_scheme,
    member_mask,
    members,
    migration,
    migration_flows,
    migration_labels,
    migration_matrix,
    population_summary,
    preset,
    resolve_scheme,
    rf_grid,
    rows_of_condition,
    save_scheme,
    scheme_label,
    scheme_thresholds,
    scored_table,
    segment_codes,
    segment_label,
    segment_table,
    validate_condition,
    with_thresholds,
)
from crm_core.customers.segments.evaluate import _first_match
from crm_core.errors import InputError
from crm_core.figures.rfm import (
    FlowLabels,
    GridLabels,
    HistogramLabels,
    TreemapLabels,
    histogram_counts,
    histogram_figure,
    migration_matrix_figure,
    migration_sankey_figure,
    rf_grid_figure,
    segment_treemap_figure,
)
from crm_core.i18n import LANGUAGES, has_key
from tests.support.actors import ANALYST

# ----------------------------------------------------------------------------- rules


@pytest.fixture
def people() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "recency_days": [5.0, 40.0, np.nan, 200.0],
            "frequency": [4, 1, 0, 2],
            "province": ["浙江", "上海", None, "浙江"],
            "opt_out_sms": [False, True, False, False],
            "last_complaint_at": pd.to_datetime(["2024-05-01", None, "2023-01-01", None]),
        }
    )


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "recency_days", "op": "<", "value": 40}, [True, False, False, False]),
        ({"field": "recency_days", "op": "<=", "value": 40}, [True, True, False, False]),
        ({"field": "recency_days", "op": ">", "value": 40}, [False, False, False, True]),
        ({"field": "recency_days", "op": ">=", "value": 40}, [False, True, False, True]),
        ({"field": "frequency", "op": "==", "value": 2}, [False, False, False, True]),
        ({"field": "recency_days", "op": "!=", "value": 5}, [False, True, False, True]),
        ({"field": "frequency", "op": "between", "value": [1, 2]}, [False, True, False, True]),
        ({"field": "frequency", "op": "in", "value": [0, 4]}, [True, False, True, False]),
        ({"field": "province", "op": "in", "value": ["浙江"]}, [True, False, False, True]),
        ({"field": "province", "op": "not_in", "value": ["浙江"]}, [False, True, False, False]),
        ({"field": "province", "op": "==", "value": "上海"}, [False, True, False, False]),
        ({"field": "province", "op": "!=", "value": "上海"}, [True, False, False, True]),
        ({"field": "province", "op": "is_null"}, [False, False, True, False]),
        ({"field": "recency_days", "op": "not_null"}, [True, True, False, True]),
        ({"field": "opt_out_sms", "op": "==", "value": True}, [False, True, False, False]),
        (
            {"field": "last_complaint_at", "op": ">=", "value": "2024-01-01"},
            [True, False, False, False],
        ),
        ({"all": []}, [True] * 4),
        ({"any": []}, [False] * 4),
        (
            {
                "all": [
                    {"field": "frequency", "op": ">=", "value": 1},
                    {
                        "any": [
                            {"field": "province", "op": "==", "value": "上海"},
                            {"field": "recency_days", "op": ">", "value": 100},
                        ]
                    },
                ]
            },
            [False, True, False, True],
        ),
        ({"not": {"field": "frequency", "op": ">", "value": 1}}, [False, True, True, False]),
    ],
)
def test_evaluate_rule_covers_every_operator(people, condition, expected):
    assert evaluate_rule(condition, people).tolist() == expected


def test_evaluate_rule_reads_plain_arrays():
    columns = {"x": np.array([1, 2, 3])}

    class Table(dict):
        def __len__(self):
            return 3

    assert evaluate_rule({"field": "x", "op": ">", "value": 1}, Table(columns)).tolist() == [
        False,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("condition", "key"),
    [
        ({"field": "frequency", "op": "=~", "value": 1}, "rfm.rule.error.unknown_op"),
        ({"field": "frequency", "op": "<", "value": "many"}, "rfm.rule.error.value_number"),
        ({"field": "frequency", "op": "<", "value": True}, "rfm.rule.error.value_number"),
        ({"field": "frequency", "op": "between", "value": [3, 1]}, "rfm.rule.error.value_pair"),
        ({"field": "frequency", "op": "in", "value": []}, "rfm.rule.error.value_list"),
        ({"field": "frequency", "op": "in", "value": 3}, "rfm.rule.error.value_list"),
        ({"field": "frequency", "op": "==", "value": [1]}, "rfm.rule.error.value_scalar"),
        ({"field": "frequency", "op": "is_null", "value": 1}, "rfm.rule.error.value_none"),
        ({"field": "frequency", "value": 1}, "rfm.rule.error.shape"),
        ({"all": [], "any": []}, "rfm.rule.error.shape"),
        ({"all": {"field": "x"}}, "rfm.rule.error.group_list"),
        (["frequency", ">", 1], "rfm.rule.error.shape"),
        ("frequency > 1", "rfm.rule.error.shape"),
    ],
)
def test_malformed_conditions_raise_translated_errors(condition, key):
    with pytest.raises(InputError) as error:
        validate_condition(condition, where="#2 loyal")
    assert error.value.key == key
    for language in LANGUAGES:
        assert has_key(key, language)
        assert "#2 loyal" in error.value.message(language)


def test_errors_name_the_path_inside_the_condition(people):
    condition = {"all": [{"field": "frequency", "op": ">", "value": 1}, {"not": {"op": "<"}}]}
    with pytest.raises(InputError) as error:
        validate_condition(condition, where="#3 vip")
    assert error.value.params["where"] == "#3 vip.all[1].not"


def test_unknown_fields_and_code_are_rejected_not_run(people):
    with pytest.raises(InputError) as unknown:
        evaluate_rule({"field": "__import__('os').getcwd()", "op": "==", "value": 1}, people)
    assert unknown.value.key == "rfm.rule.error.unknown_field"
    with pytest.raises(InputError) as listed:
        validate_condition({"field": "age", "op": ">", "value": 1}, fields=people.columns)
    assert listed.value.params["field"] == "age"


def test_comparing_text_with_a_number_is_an_input_error(people):
    with pytest.raises(InputError) as error:
        evaluate_rule({"field": "province", "op": ">", "value": 3}, people)
    assert error.value.key == "rfm.rule.error.type"


def test_nesting_depth_is_limited():
    condition: dict = {"field": "x", "op": "is_null"}
    for _ in range(10):
        condition = {"not": condition}
    with pytest.raises(InputError) as error:
        validate_condition(condition)
    assert error.value.key == "rfm.rule.error.depth"


# --------------------------------------------------------------------------- schemes


def all_score_cells() -> pd.DataFrame:
    cells = list(itertools.product(range(1, 6), repeat=3))
    return pd.DataFrame(cells, columns=["r_score", "f_score", "m_score"])


RFM11_TABLE = {
    "champions": "55 54 45",
    "loyal": "53 44 35 34",
    "potential_loyalist": "52 42 43 33",
    "new_customers": "51",
    "promising": "41 31",
    "need_attention": "32 23 22",
    "about_to_sleep": "21",
    "at_risk": "25 24 13",
    "cant_lose": "15 14",
    "hibernating": "12",
    "lost": "11",
}

RFM10_PATTERNS = {
    "champions": r"5[4-5]",
    "loyal": r"[3-4][4-5]",
    "potential_loyalist": r"[4-5][2-3]",
    "new_customers": r"51",
    "promising": r"41",
    "need_attention": r"33",
    "about_to_sleep": r"3[1-2]",
    "at_risk": r"[1-2][3-4]",
    "cant_lose": r"[1-2]5",
    "hibernating": r"[1-2][1-2]",
}


def test_rfm11_maps_every_r_fm_cell_as_in_the_issue():
    cells = all_score_cells()
    segments = assign_segments(cells, preset("rfm11"))
    fm = np.floor((cells["f_score"] + cells["m_score"]) / 2 + 0.5).astype(int)
    code = cells["r_score"].astype(str) + fm.astype(str)
    expected = {cell: name for name, text in RFM11_TABLE.items() for cell in text.split()}
    assert len(expected) == 25
    assert list(segments) == [expected[c] for c in code]
    assert list(segments.categories) == list(RFM11_TABLE)


def test_rfm10_matches_the_regex_map():
    cells = all_score_cells()
    segments = assign_segments(cells, preset("rfm10"))
    code = cells["r_score"].astype(str) + cells["f_score"].astype(str)
    expected = code.replace(
        {f"^{pattern}$": name for name, pattern in RFM10_PATTERNS.items()}, regex=True
    )
    assert list(segments) == expected.tolist()
    for name, pattern in RFM10_PATTERNS.items():
        assert (code[np.asarray(segments) == name].str.fullmatch(pattern)).all()


def facts_for(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {
        "customer_id": [f"c{i}" for i in range(n)],
        "recency_days": [10.0] * n,
        "frequency": [1] * n,
        "monetary": [100.0] * n,
        "purchase_amount": [100.0] * n,
    }
    base.update(columns)
    return pd.DataFrame(base)


def segments_of(frame: pd.DataFrame, scheme: Scheme) -> list[str]:
    facts = prepare_facts(frame)
    return list(evaluate_scheme(facts, scheme).segments())


def test_lifecycle_boundaries():
    frame = facts_for(recency_days=[0.0, 90, 91, 180, 181, 365, 366, 2000])
    assert segments_of(frame, preset("lifecycle")) == [
        "active",
        "active",
        "sleeping",
        "sleeping",
        "pre_churn",
        "pre_churn",
        "churned",
        "churned",
    ]


def test_membership_pyramid_by_monetary_rank():
    monetary = np.arange(20, 0, -1) * 100.0  # c0 spends most
    segments = segments_of(facts_for(monetary=monetary), preset("membership"))
    assert segments == ["supreme_vip"] * 2 + ["vip"] * 3 + ["senior"] * 5 + ["ordinary"] * 10
    tied = segments_of(
        facts_for(monetary=[500.0, 500, 500, 100] + [50.0] * 16), preset("membership")
    )
    assert tied[:3] == ["supreme_vip"] * 3


def test_spend_tiers():
    frame = facts_for(
        recency_days=[91.0, 90, 30, 30, 30],
        spend_12m=[20_000.0, 10_000.01, 10_000, 5_000, 5_000.01],
    )
    assert segments_of(frame, preset("spend_tiers")) == [
        "dormant",
        "super",
        "high_value",
        "ordinary",
        "high_value",
    ]


def test_behaviour_aware_layering_has_eight_classes():
    frame = facts_for(
        recency_days=[10.0, 20, 120, 5, 70, 40, 150, 400, 14],
        frequency=[5, 2, 1, 1, 3, 2, 2, 3, 4],
        monetary=[800.0, 100, 50, 60, 900, 100, 100, 900, 499.99],
        browse_events_30d=[0, 4, 0, 0, 0, 0, 0, 0, 0],
        complaints=[0, 0, 1, 0, 0, 0, 0, 0, 0],
        tenure_days=[300.0, 300, 300, 5, 300, 300, 300, 900, 300],
    )
    scheme = preset("behaviour")
    assert len(scheme.rules) == 8
    assert segments_of(frame, scheme) == [
        "loyal",
        "potential",
        "wake_up",
        "new",
        "high_value_at_risk",
        "regular",
        "sleeping",
        "lost",
        "regular",
    ]


def test_every_preset_round_trips_through_the_editor_json_and_is_translated():
    for name in PRESET_NAMES:
        scheme = preset(name)
        text = scheme.to_json()
        assert Scheme.from_json(text) == scheme
        assert json.loads(text)["rules"][-1] == {"segment": scheme.rules[-1].segment}
        for language in LANGUAGES:
            assert scheme_label(name, language) != name
            for segment in scheme.segment_names:
                assert segment_label(segment, language) != segment
    assert segment_label("champions", "zh-CN") == "重要价值客户"
    assert segment_label("my own group", "zh-CN") == "my own group"


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["rules"][-1].update(when={"all": []}), "rfm.scheme.error.catch_all"),
        (lambda d: d["rules"][0].pop("when"), "rfm.scheme.error.when_missing"),
        (lambda d: d["rules"][1].update(segment="active"), "rfm.scheme.error.duplicate"),
        (lambda d: d["rules"][1].update(segment=""), "rfm.scheme.error.segment_name"),
        (lambda d: d.update(rules=[]), "rfm.scheme.error.no_rules"),
        (lambda d: d.update(name=" "), "rfm.scheme.error.name"),
        (lambda d: d.update(colour="red"), "rfm.scheme.error.unknown_keys"),
        (lambda d: d["rules"][0].update(extra=1), "rfm.scheme.error.rule_shape"),
        (
            lambda d: d["rules"][1]["when"].update(op="≤"),
            "rfm.rule.error.unknown_op",
        ),
        (
            lambda d: d.update(scoring={"mode": "fixed", "r_cuts": [1, 2, 3, 4]}),
            "rfm.error.cuts_missing",
        ),
    ],
)
def test_rule_editor_rejects_bad_schemes_with_translated_messages(mutate, key):
    payload = preset("lifecycle").to_dict()
    mutate(payload)
    with pytest.raises(InputError) as error:
        Scheme.from_json(json.dumps(payload))
    assert error.value.key == key
    english, chinese = error.value.message("en"), error.value.message("zh-CN")
    assert english != key and chinese != key and english != chinese


def test_rule_editor_reports_json_syntax_position():
    with pytest.raises(InputError) as error:
        Scheme.from_json('{"name": "x",\n "rules": [}')
    assert error.value.key == "rfm.scheme.error.json"
    assert error.value.params["line"] == 2


def test_edited_json_scheme_assigns_like_the_rules_say():
    text = json.dumps(
        {
            "name": "two groups",
            "scoring": {
                "mode": "fixed",
                "r_cuts": [30, 60, 90, 180],
                "f_cuts": [1, 2, 3, 5],
                "m_cuts": [50, 100, 200, 500],
            },
            "rules": [
                {
                    "segment": "回头客",
                    "when": {"all": [{"field": "f_score", "op": ">=", "value": 2}]},
                },
                {"segment": "其他"},
            ],
        },
        ensure_ascii=False,
    )
    scheme = Scheme.from_json(text)
    frame = facts_for(frequency=[1, 2, 5])
    assert segments_of(frame, scheme) == ["其他", "回头客", "回头客"]


def test_thresholds_are_listed_and_tuning_them_moves_customers():
    scheme = preset("lifecycle")
    thresholds = scheme_thresholds(scheme)
    assert [(t.segment, t.field, t.op, t.value) for t in thresholds] == [
        ("active", "recency_days", "<=", 90.0),
        ("sleeping", "recency_days", "<=", 180.0),
        ("pre_churn", "recency_days", "<=", 365.0),
    ]
    frame = facts_for(recency_days=[30.0, 100, 200])
    assert segments_of(frame, scheme) == ["active", "sleeping", "pre_churn"]
    tuned = with_thresholds(scheme, {thresholds[0].key: 20, thresholds[1].key: 150.5})
    assert tuned.rules[0].when["value"] == 20 and isinstance(tuned.rules[0].when["value"], int)
    assert tuned.rules[1].when["value"] == 150.5
    assert segments_of(frame, tuned) == ["sleeping", "sleeping", "pre_churn"]
    behaviour = preset("behaviour")
    between = [t for t in scheme_thresholds(behaviour) if t.op == "between"]
    assert [t.bound for t in between] == [0, 1]
    widened = with_thresholds(behaviour, {between[1].key: 5})
    assert widened.rules[1].when["all"][1]["value"] == [2, 5]


def test_score_lookup_table_agrees_with_rule_by_rule_evaluation():
    rng = np.random.default_rng(11)
    n = 2_000
    frame = facts_for(
        recency_days=rng.integers(0, 500, n).astype(float),
        frequency=rng.geometric(0.35, n),
        monetary=np.round(rng.lognormal(5, 1, n), 2),
    )
    facts = prepare_facts(frame)
    for name in ("rfm11", "rfm10"):
        scheme = preset(name)
        assert scheme.uses_only_scores()
        scores = score(facts, scheme.scoring)
        fields = RuleFields(facts, scores)
        assert np.array_equal(segment_codes(fields, scheme), _first_match(scheme, fields))


# ---------------------------------------------------------------------------- tables

FIXED = Scoring(
    mode="fixed", cuts={"r": (30, 60, 90, 180), "f": (1, 2, 3, 4), "m": (100, 200, 300, 400)}
)


def small_shop() -> pd.DataFrame:
    frame = facts_for(
        recency_days=[10.0, 20, 100, 400, np.nan, 50],
        frequency=[5, 1, 2, 1, 0, 3],
        monetary=[500.0, 50, 250, -20, 0, 150],
        purchase_amount=[500.0, 50, 300, 30, 0, 150],
    )
    frame["is_prospect"] = [False, False, False, False, True, False]
    return frame


def test_segment_table_counts_revenue_shares_and_averages():
    facts = prepare_facts(small_shop())
    scheme = preset("lifecycle").with_scoring(FIXED)
    result = evaluate_scheme(facts, scheme)
    table = segment_table(facts, result).set_index("segment")
    assert table["customers"].tolist() == [3, 1, 0, 1]
    assert table.loc["active", "revenue"] == 700.0
    assert table.loc["active", "revenue_share"] == pytest.approx(700 / 930)
    assert table.loc["churned", "revenue"] == -20.0
    assert table.loc["active", "customer_share"] == pytest.approx(3 / 5)
    assert table.loc["active", "avg_recency_days"] == pytest.approx(80 / 3)
    assert table.loc["active", "avg_frequency"] == pytest.approx(3.0)
    assert table.loc["active", "avg_order_value"] == pytest.approx(700 / 9)
    # R: 10,20,50 days -> 5,5,4 ; F: 5,1,3 -> 5,1,3 ; M: 500,50,150 -> 5,1,2
    assert table.loc["active", "avg_r_score"] == pytest.approx(14 / 3)
    assert table.loc["active", "avg_f_score"] == pytest.approx(3.0)
    assert table.loc["active", "avg_m_score"] == pytest.approx(8 / 3)
    assert np.isnan(table.loc["pre_churn", "avg_monetary"])
    summary = population_summary(facts)
    assert summary == {
        "customers": 6,
        "scored": 5,
        "prospects": 1,
        "no_purchase_in_window": 0,
        "non_positive_monetary": 1,
    }


def test_rf_grid_cells():
    facts = prepare_facts(small_shop())
    grid = rf_grid(facts, score(facts, FIXED))
    assert len(grid) == 25 and grid["customers"].sum() == 5
    cell = grid.set_index(["r_score", "f_score"])
    assert cell.loc[(5, 5), "customers"] == 1 and cell.loc[(5, 5), "avg_monetary"] == 500.0
    assert cell.loc[(1, 1), "revenue"] == -20.0
    assert cell.loc[(1, 1), "revenue_share"] == pytest.approx(-20 / 930)
    assert np.isnan(cell.loc[(3, 3), "avg_monetary"])


def test_customer_segments_marks_prospects_not_scored():
    facts = prepare_facts(small_shop())
    result = evaluate_scheme(facts, preset("lifecycle"))
    segments = customer_segments(facts, result)
    assert segments.loc["c4"] == NOT_SCORED
    assert segments.loc["c3"] == "churned"
    assert segments.index.tolist() == [f"c{i}" for i in range(6)]


def test_migration_counts_and_revenue_per_flow():
    before = pd.Series(["a", "a", "b", NOT_SCORED], index=["c1", "c2", "c3", "c4"])
    after = pd.Series(["a", "b", "b", "a", "b"], index=["c1", "c2", "c3", "c4", "c5"])
    revenue_after = pd.Series([10.0, 20, 30, 40, 50], index=after.index)
    flows = migration(before, after, revenue_after=revenue_after)
    rows = {
        (f, t): (c, r)
        for f, t, c, r in flows[
            ["from_segment", "to_segment", "customers", "revenue_after"]
        ].itertuples(index=False)
    }
    assert rows == {
        ("a", "a"): (1, 10.0),
        ("a", "b"): (1, 20.0),
        ("b", "b"): (1, 30.0),
        (NOT_SCORED, "a"): (1, 40.0),
        (NOT_KNOWN, "b"): (1, 50.0),
    }
    matrix = migration_matrix(flows)
    assert matrix.loc["a", "b"] == 1 and matrix.loc["a", "a"] == 1
    assert matrix.to_numpy().sum() == 5


def test_migration_flows_between_saved_and_draft_codes():
    flows = migration_flows(
        np.array([0, 0, 1, 1, 1]),
        ["x", "y"],
        np.array([0, 1, 1, 1, 0]),
        ["x", "y"],
        np.array([1.0, 2, 3, 4, 5]),
        np.array([1.0, 2, 3, 4, 5]),
    )
    assert flows["customers"].tolist() == [1, 1, 1, 2]
    assert flows["revenue_before"].tolist() == [1.0, 2.0, 5.0, 7.0]


# --------------------------------------------------------------------------- storage


def test_saving_creates_versions_and_old_versions_stay_loadable(store):
    first = preset("lifecycle")
    saved1 = save_scheme(store, first, Actor("analyst", "analyst"), note="start")
    tuned = with_thresholds(first, {scheme_thresholds(first)[0].key: 60})
    saved2 = save_scheme(
        store,
        tuned,
        Actor("analyst", "analyst"),
        saved_at=dt.datetime(2024, 5, 1),
    )
    assert (saved1.version, saved2.version) == (1, 2)
    assert saved2.id != saved1.id
    assert load_scheme(store, "lifecycle").rules[0].when["value"] == 60
    assert load_scheme(store, "lifecycle").version == 2
    old = load_scheme(store, "lifecycle", version=1)
    assert old.rules[0].when["value"] == 90 and old.version == 1
    assert old.to_dict() == first.to_dict()
    listing = list_saved_schemes(store)
    assert listing[["name", "version"]].values.tolist() == [["lifecycle", 2], ["lifecycle", 1]]
    assert pd.isna(listing["note"].iloc[0]) and listing["note"].iloc[1] == "start"
    assert resolve_scheme(store, "lifecycle").version == 2
    assert resolve_scheme(store, "rfm11") == preset("rfm11")
    renamed = Scheme(name="店铺方案", rules=tuned.rules, scoring=FIXED)
    assert save_scheme(store, renamed, ANALYST).version == 1
    assert load_scheme(store, "店铺方案").scoring == FIXED
    with pytest.raises(InputError) as missing:
        load_scheme(store, "lifecycle", version=9)
    assert missing.value.key == "rfm.scheme.error.version_not_found"
    with pytest.raises(InputError) as unknown:
        resolve_scheme(store, "nothing")
    assert unknown.value.key == "rfm.scheme.error.not_found"


def test_rule_with_segment_named_like_reserved_label_is_rejected():
    with pytest.raises(InputError):
        Scheme(name="x", rules=(Rule(NOT_SCORED, {"all": []}), Rule("rest")))


def test_members_of_a_segment_or_cell_highest_monetary_first():
    facts = prepare_facts(small_shop())
    result = evaluate_scheme(facts, preset("lifecycle").with_scoring(FIXED))
    active = members(facts, result, segment="active")
    assert active["customer_id"].tolist() == ["c0", "c5", "c1"]
    assert list(active.columns) == list(SCORED_TABLE_COLUMNS)
    cell = members(facts, result, r_score=5, f_score=5, extra_columns=["purchase_amount"])
    assert cell["customer_id"].tolist() == ["c0"] and cell["purchase_amount"].tolist() == [500.0]
    top = members(facts, result, segment="active", limit=2)
    assert top["customer_id"].tolist() == ["c0", "c5"]
    assert member_mask(facts, result, segment="active").sum() == 3
    assert member_mask(facts, result, r_score=5).tolist() == [True, True, False, False, False]
    with pytest.raises(InputError):
        members(facts, result, segment="nobody")
    table = scored_table(facts, result)
    assert table["customer_id"].tolist() == ["c0", "c1", "c2", "c3", "c5"]
    assert table["segment"].tolist() == ["active", "active", "sleeping", "churned", "active"]


def test_condition_text_reads_like_the_rule():
    condition = preset("behaviour").rules[1].when
    assert condition_text(condition) == (
        "recency_days < 30 AND 2 ≤ frequency ≤ 3 AND browse_events_30d ≥ 3"
    )
    assert condition_text(preset("rfm11").rules[0].when) == "r_fm ∈ {55, 54, 45}"
    nested = {
        "any": [
            {"all": [{"field": "a", "op": "==", "value": "x"}, {"field": "b", "op": "is_null"}]},
            {"not": {"field": "c", "op": "!=", "value": 1}},
        ]
    }
    assert condition_text(nested) == '(a = "x" AND b IS NULL) OR NOT (c ≠ 1)'
    assert condition_text(None) == "*"


def test_condition_words_read_rules_as_a_manager_would_in_both_languages():
    champions = preset("rfm11").rules[0].when  # r_fm in {55, 54, 45}
    assert condition_words(champions, "en") == (
        "R score 5 and FM score 4–5; or R score 4 and FM score 5"
    )
    assert condition_words(champions, "zh-CN") == "R 分 5，且FM 分 4–5；或R 分 4，且FM 分 5"
    cells = {"field": "rfm", "op": "in", "value": [555, 554, 511]}
    assert condition_words(cells, "en") == (
        "R score 5 and (F score 5 and M score 5; or F score 5 and M score 4; "
        "or F score 1 and M score 1)"
    )
    assert condition_words({"field": "rf", "op": "in", "value": [51, 53]}, "en") == (
        "R score 5 and F score 1, 3"
    )
    potential = preset("behaviour").rules[1].when
    assert condition_words(potential, "en") == (
        "Recency (days) under 30 and Frequency from 2 to 3 and Browse events (30 days) at least 3"
    )
    assert condition_words(potential, "zh-CN") == (
        "最近购买（天）小于 30，且购买频次介于 2 至 3，且近 30 天浏览次数至少 3"
    )
    nested = {
        "any": [
            {"all": [{"field": "monetary", "op": ">=", "value": 12345.5},
                     {"field": "last_nps", "op": "is_null"}]},
            {"not": {"field": "province", "op": "in", "value": ["浙江", "上海"]}},
        ]
    }  # fmt: skip
    assert condition_words(nested, "en") == (
        "(Monetary at least 12,345.5 and Last NPS is unknown); "
        "or not (Province is one of 浙江, 上海)"
    )
    assert condition_words(nested, "zh-CN") == (
        "（消费金额至少 12,345.5，且最近一次 NPS未知）；或并非（省份属于 浙江、上海）"
    )
    opted_out = {"field": "opt_out_sms", "op": "==", "value": True}
    assert condition_words(opted_out, "zh-CN", lambda name: "退订短信") == "退订短信为 是"
    levels = {"field": "churn_risk_level", "op": "in", "value": ["high", "medium"]}
    assert condition_words(levels, "en", lambda name: "Churn risk") == (
        "Churn risk is one of High, Medium"
    )
    small = {"field": "discount_share", "op": ">", "value": 0.001}
    assert condition_words(small, "en", str) == "discount_share over 0.001"
    assert condition_words(None, "en") == "everyone"
    assert condition_words({"any": []}, "zh-CN") == "无人"


def test_the_rule_builder_rows_keep_values_as_they_were():
    text_fields = {"province", "favourite_category"}
    rows = [
        RuleRow("province", "in", "浙江，上海、001"),
        RuleRow("purchases", "between", "2, 5"),
        RuleRow("favourite_category", "==", "001"),
        RuleRow("opt_out_sms", "==", "true"),
        RuleRow("last_nps", "is_null"),
    ]
    condition = condition_from_rows(rows, "any", text_fields)
    assert condition == {
        "any": [
            {"field": "province", "op": "in", "value": ["浙江", "上海", "001"]},
            {"field": "purchases", "op": "between", "value": [2, 5]},
            {"field": "favourite_category", "op": "==", "value": "001"},
            {"field": "opt_out_sms", "op": "==", "value": True},
            {"field": "last_nps", "op": "is_null"},
        ]
    }
    combine, back = rows_of_condition(condition)
    assert combine == "any"
    assert condition_from_rows(back, combine, text_fields) == condition  # a round trip
    one = {"field": "discount_share", "op": ">", "value": 0.5}
    assert condition_from_rows(rows_of_condition(one)[1]) == one
    whole = {"field": "monetary", "op": ">=", "value": 30.0}
    assert condition_from_rows(rows_of_condition(whole)[1]) == whole  # stays a float
    for unshowable in (
        5,
        None,
        {"field": "purchases"},
        {"field": "purchases", "op": "in", "value": 5},
        {"field": "favourite_category", "op": "in", "value": ["Food, Drink", "Toys"]},
        {"all": [{"any": [one]}, one]},
        {"all": "x"},
    ):
        assert rows_of_condition(unshowable) is None, unshowable
    with pytest.raises(InputError):
        condition_from_rows(rows, "either")


def test_codes_alignment_between_two_as_of_dates():
    earlier = prepare_facts(facts_for(recency_days=[10.0, 200], frequency=[1, 1]).iloc[[1, 0]])
    now = prepare_facts(facts_for(recency_days=[5.0, 400, 3], frequency=[2, 1, 1]))
    scheme = preset("lifecycle")
    before = customer_codes(earlier, evaluate_scheme(earlier, scheme))
    after = customer_codes(now, evaluate_scheme(now, scheme))
    names = migration_labels(scheme)
    positions = align_customers(earlier.features["customer_id"], now.features["customer_id"])
    assert positions.tolist() == [1, 0, -1]
    aligned = aligned_codes(before, positions, names.index(NOT_KNOWN))
    assert [names[c] for c in aligned] == ["active", "pre_churn", NOT_KNOWN]
    flows = migration_flows(aligned, names, after, names)
    assert set(zip(flows["from_segment"], flows["to_segment"], strict=True)) == {
        ("active", "active"),
        ("pre_churn", "churned"),
        (NOT_KNOWN, "active"),
    }
    matrix = migration_matrix(flows, order=names)
    assert list(matrix.index) == ["active", "pre_churn", NOT_KNOWN]
    assert list(matrix.columns) == ["active", "churned"]


def test_figure_builders_draw_what_they_are_given():
    facts = prepare_facts(small_shop())
    result = evaluate_scheme(facts, preset("rfm11").with_scoring(FIXED))
    grid = rf_grid(facts, result.scores)
    labels = GridLabels("R", "F", "customers", "avg M", "share")
    figure = rf_grid_figure(grid, labels)
    heatmap, cells = figure.data
    assert np.asarray(heatmap.z).shape == (5, 5) and np.asarray(heatmap.z).sum() == 5
    assert np.asarray(heatmap.z)[4, 4] == 1  # R 5, F 5
    assert len(cells.x) == 25
    shares = np.asarray(rf_grid_figure(grid, labels, value="revenue_share").data[0].z)
    assert np.nansum(shares) == pytest.approx(1.0)
    named = rf_grid(facts, result.scores, result)
    top = named.set_index(["r_score", "f_score"])
    cell_segment = (
        pd.Series(result.segments(), dtype=object)
        .groupby([result.scores.r, result.scores.f])
        .agg(lambda names: names.value_counts().index[0])
    )
    for (r, f), segment in cell_segment.items():
        assert top.loc[(r, f), "segment"] == segment
    assert (top.loc[top["customers"] == 0, "segment"] == "").all()
    worded = GridLabels(
        "R", "F", "customers", "avg M", "share",
        cell_customers="{value} people", cell_average="avg {value}",
        legend="what a cell shows", segments={"champions": "Top"},
    )  # fmt: skip
    figure = rf_grid_figure(named, worded)
    text = np.asarray(figure.data[0].text)
    r5f5 = top.loc[(5, 5)]
    assert r5f5.segment == "champions"  # the one R 5, F 5 customer of the small shop
    assert text[4, 4].startswith("<b>Top</b><br>")
    assert f"{int(r5f5.customers):,} people" in text[4, 4] and "avg " in text[4, 4]
    assert figure.layout.annotations[0].text == "what a cell shows"
    edges, counts = histogram_counts(facts.index["f"].distinct, facts.index["f"].counts)
    assert counts.sum() == 5 and edges[0] == 0.5
    histogram = histogram_figure(edges, counts, (1, 2, 3, 4), HistogramLabels("F", "f", "n", "c"))
    assert len(histogram.layout.shapes) == 4
    table = segment_table(facts, result)
    treemap = segment_treemap_figure(table, {}, TreemapLabels("all", "n", "rev", "share"))
    assert sum(treemap.data[0].values) == 5
    assert len(treemap.data[0].labels) == int((table["customers"] > 0).sum())
    flows = migration_flows(
        np.array([0, 0, 1]), ["a", "b"], np.array([0, 1, 1]), ["a", "b"], None, np.ones(3)
    )
    sankey = migration_sankey_figure(flows, {}, FlowLabels("before", "after", "n", "rev"))
    assert list(sankey.data[0].link.value) == [1, 1, 1]
    matrix = migration_matrix_figure(migration_matrix(flows), {}, FlowLabels("b", "a", "n", "r"))
    assert np.asarray(matrix.data[0].z).sum() == 3
