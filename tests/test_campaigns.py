"""Campaign results on hand-written shops (SQLite and PostgreSQL): the window's ends, the
reference time of control rows, a customer in two campaigns, last-touch attribution,
the incremental figures, windows per campaign and per view, a holdout drawn at download
and the campaign created from it, the command line, and the iFood pilot's economics."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import numpy as np
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core import commands as cli
from crm_core.customers.segments import preset
from crm_core.errors import InputError, PermissionDenied
from crm_core.i18n import translate
from crm_core.ingest import import_file
from crm_core.outreach.audiences import (
    Audience,
    contact_counts,
    draw_holdout,
    export_audience,
    export_member_ids,
    load_audience_facts,
    recent_contacts,
)
from crm_core.outreach.campaigns import (
    AGGREGATES_KEPT,
    AGGREGATES_KEY,
    CONTROL,
    REVENUE_FROM_ORDERS,
    REVENUE_FROM_RESPONSES,
    VERDICT_GAIN,
    VERDICT_NO_CONTROL,
    arm_results,
    arm_totals,
    campaign_recipients,
    campaign_report,
    campaign_summary,
    create_campaign_from_export,
    filter_summary,
    gross_margin_rate,
    responding_segments,
    save_campaign_window,
    save_gross_margin_rate,
    set_campaign_cost,
    stored_aggregates,
    uplift_by_group,
    warm_up_aggregates,
)
from crm_core.outreach.campaigns import results as results_module
from crm_core.outreach.experiments import two_proportion_test, welch_test
from crm_core.outreach.policy import ContactPolicy
from crm_core.store import bulk_insert, bump_data_version, models
from crm_core.store.settings import read_setting
from tests.support.actors import ADMIN, ANALYST, VIEWER
from tests.support.requirements import shared_file

AS_OF = dt.date(2024, 3, 31)
CUSTOMERS = ["t1", "t2", "t3", "c1", "c2", "x9"]
BYSTANDERS = [f"p{n:02d}" for n in range(40)]  # bought in February, in no campaign


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _order(order_id, customer, at, amount, status="paid", campaign_id=None) -> dict:
    return {
        "order_id": order_id,
        "customer_id": customer,
        "ordered_at": _ts(at),
        "amount": amount,
        "status": status,
        "campaign_id": campaign_id,
    }


@pytest.fixture
def shop(store):
    """C1 (SMS, 1 Mar 10:00, cost 100): t1, t2 sent at 12:00, t3 never sent; control c1,
    c2 (no sent_at). C2 (e-mail, 5 Mar 09:00, cost 50, no control): t2 sent at 09:00.

    t1 buys exactly at its window's end (8 Mar 12:00: outside) and later with C1's code;
    t2 buys on 6 Mar and a second before its C1 window ends (both also inside C2's
    window); t3 buys a minute before the start (outside) and the next morning; c1 buys
    at the campaign's start to the second (inside); c2's order is unpaid."""
    everyone = CUSTOMERS + BYSTANDERS
    customers = pd.DataFrame(
        {
            "customer_id": everyone,
            "phone": [f"1380000{n:04d}" for n in range(len(everyone))],
            "email": [f"{c}@example.com" for c in everyone],
            "signup_at": pd.to_datetime(["2023-01-01"] * len(everyone)),
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["C1", "C2"],
            "name": ["Spring SMS", "Spring mail"],
            "channel": ["sms", "email"],
            "started_at": [_ts("2024-03-01 10:00"), _ts("2024-03-05 09:00")],
            "cost": [100.0, 50.0],
        }
    )
    touches = pd.DataFrame(
        [
            ("C1", "t1", "A", False, _ts("2024-03-01 12:00")),
            ("C1", "t2", "A", False, _ts("2024-03-01 12:00")),
            ("C1", "t3", "A", False, pd.NaT),
            ("C1", "c1", "A", True, pd.NaT),
            ("C1", "c2", "A", True, pd.NaT),
            ("C2", "t2", "A", False, _ts("2024-03-05 09:00")),
        ],
        columns=["campaign_id", "customer_id", "variant", "is_control", "sent_at"],
    )
    orders = pd.DataFrame(
        [
            _order("o1", "t1", "2024-03-08 12:00", 500.0),
            _order("o2", "t1", "2024-03-20 15:00", 70.0, campaign_id="C1"),
            _order("o3", "t2", "2024-03-06 08:00", 40.0),
            _order("o4", "t2", "2024-03-08 11:59:59", 50.0),
            _order("o5", "t3", "2024-03-01 09:59", 900.0),
            _order("o6", "t3", "2024-03-02 09:00", 30.0),
            _order("o7", "c1", "2024-03-01 10:00", 20.0),
            _order("o8", "c2", "2024-03-02 10:00", 80.0, status="pending"),
            _order("o9", "x9", "2024-03-02 10:00", 10.0),
            *(_order(f"b-{c}", c, "2024-02-10 10:00", 25.0) for c in BYSTANDERS),
        ]
    )
    with store.begin() as conn:
        bulk_insert(conn, models.customers, customers)
        bulk_insert(conn, models.campaigns, campaigns)
        bulk_insert(conn, models.campaign_touches, touches)
        bulk_insert(conn, models.orders, orders)
    return store


def _arm(results: pd.DataFrame, campaign: str, arm: str) -> pd.Series:
    found = results.loc[(results["campaign_id"] == campaign) & (results["arm"] == arm)]
    assert len(found) == 1, (campaign, arm, results)
    return found.iloc[0]


def test_window_ends_reference_times_and_two_campaigns(shop):
    results = arm_results(shop, AS_OF)
    treated, control = _arm(results, "C1", "A"), _arm(results, "C1", CONTROL)
    # t1's order at exactly sent + 7 days is outside; t2 (two orders) and t3 convert.
    assert (treated["recipients"], treated["converters"]) == (3, 2)
    assert treated["revenue"] == pytest.approx(40 + 50 + 30)
    # c1 (no sent_at) is measured from the campaign's start and its order at that second
    # counts; c2's order is unpaid.
    assert (control["recipients"], control["converters"], control["revenue"]) == (2, 1, 20.0)
    # t2 is in both campaigns: its orders count in each one's window.
    other = _arm(results, "C2", "A")
    assert (other["recipients"], other["converters"], other["revenue"]) == (1, 1, 90.0)
    assert math.isnan(other["uplift"]) and math.isnan(other["p_value"])
    assert math.isnan(control["uplift"])
    reference = two_proportion_test(2, 3, 1, 2)
    assert treated["uplift"] == pytest.approx(2 / 3 - 1 / 2)
    assert (treated["uplift_ci_low"], treated["uplift_ci_high"], treated["p_value"]) == (
        pytest.approx(reference.ci_low),
        pytest.approx(reference.ci_high),
        pytest.approx(reference.p_value),
    )
    # the recipients' rows agree with the aggregation in the database
    recipients = campaign_recipients(shop, "C1", AS_OF, 7).set_index("customer_id")
    assert recipients.loc["c1", "reference"] == _ts("2024-03-01 10:00")
    assert recipients.loc["t3", "reference"] == _ts("2024-03-01 10:00")
    assert recipients.loc["t1", "reference"] == _ts("2024-03-01 12:00")
    assert recipients["orders"].to_dict() == {"c1": 1, "c2": 0, "t1": 0, "t2": 2, "t3": 1}
    assert recipients.loc["t2", "first_order_days"] == pytest.approx(4 + 20 / 24)
    assert recipients.loc["t3", "pre_spend"] == pytest.approx(900.0)


def test_orders_after_the_as_of_date_are_not_seen(shop):
    early = arm_results(shop, dt.date(2024, 3, 5))
    assert _arm(early, "C1", "A")["converters"] == 1  # only t3's order of 2 March
    assert _arm(early, "C2", "A")["converters"] == 0  # started that morning
    assert set(arm_results(shop, dt.date(2024, 3, 4))["campaign_id"]) == {"C1"}


def test_last_touch_attribution_and_roi(shop):
    summary = campaign_summary(shop, AS_OF).set_index("campaign_id")
    # C1: t3's 30 (only C1 touched it) + t1's order carrying C1's id (70, outside any
    # window). t2's orders fall after its later C2 touch, so they go to C2. Control rows
    # were never sent: c1's order is not attributed.
    assert summary.loc["C1", "attributed_orders"] == 2
    assert summary.loc["C1", "attributed_revenue"] == pytest.approx(100.0)
    assert summary.loc["C1", "roi"] == pytest.approx(1.0)
    assert summary.loc["C2", "attributed_revenue"] == pytest.approx(90.0)
    assert summary.loc["C2", "roi"] == pytest.approx(90.0 / 50.0)
    assert summary.loc["C1", "revenue_basis"] == REVENUE_FROM_ORDERS
    assert summary.loc["C2", "verdict"] == VERDICT_NO_CONTROL
    assert (summary.loc["C1", "treated"], summary.loc["C1", "control"]) == (3, 2)
    assert list(summary.index) == ["C2", "C1"]  # newest first


def test_incremental_figures_follow_the_definitions(shop):
    summary = campaign_summary(shop, AS_OF, margin_rate=0.3).set_index("campaign_id")
    row = summary.loc["C1"]
    assert row["uplift"] == pytest.approx(1 / 6)
    assert row["incremental_conversions"] == pytest.approx(1 / 6 * 3)
    # (revenue per treated - per control recipient) x treated = (120/3 - 20/2) x 3
    assert row["incremental_revenue"] == pytest.approx(90.0)
    assert row["incremental_margin"] == pytest.approx(27.0)
    assert row["incremental_roi"] == pytest.approx((27.0 - 100.0) / 100.0)
    revenue = welch_test(np.array([0.0, 90.0, 30.0]), np.array([20.0, 0.0]))
    assert row["incremental_revenue_ci_low"] == pytest.approx(revenue.ci_low * 3)
    assert row["incremental_revenue_ci_high"] == pytest.approx(revenue.ci_high * 3)
    assert row["incremental_roi_ci_low"] == pytest.approx((revenue.ci_low * 3 * 0.3 - 100) / 100)

    report = campaign_report(shop, "C1", AS_OF, margin_rate=0.3)
    assert report.incremental.revenue.value == pytest.approx(row["incremental_revenue"])
    assert report.incremental.uplift.p_value == pytest.approx(row["p_value"])
    assert report.attributed_revenue == pytest.approx(row["attributed_revenue"])
    arms = report.arms.set_index("arm")
    assert arms.loc["A", "average_order_value"] == pytest.approx(120.0 / 3)
    assert arms.loc[CONTROL, "revenue_per_recipient"] == pytest.approx(10.0)
    assert report.window_complete


def test_windows_per_campaign_and_per_view(shop):
    one_day = arm_results(shop, AS_OF, window_days=1)
    assert _arm(one_day, "C1", "A")["converters"] == 1  # t3, the next morning
    assert _arm(one_day, "C2", "A")["converters"] == 1  # t2, 23 hours after
    save_campaign_window(shop, "C1", 1, actor=ANALYST)
    stored = campaign_summary(shop, AS_OF).set_index("campaign_id")
    assert stored.loc["C1", "window_days"] == 1 and stored.loc["C2", "window_days"] == 7
    assert _arm(arm_results(shop, AS_OF), "C1", "A")["converters"] == 1
    assert _arm(arm_results(shop, AS_OF), "C2", "A")["converters"] == 1
    assert campaign_report(shop, "C1", AS_OF).window_days == 1
    # a window that has not ended by the as-of date is said to be incomplete
    assert (
        not campaign_summary(shop, dt.date(2024, 3, 6))
        .set_index("campaign_id")
        .loc["C2", "window_complete"]
    )
    with pytest.raises(InputError) as error:
        save_campaign_window(shop, "C1", 0, actor=ANALYST)
    assert "1" in translate(error.value.key, "en", **error.value.params)
    with pytest.raises(PermissionDenied):
        save_campaign_window(shop, "C1", 3, actor=VIEWER)
    with pytest.raises(InputError):
        save_campaign_window(shop, "nope", 3, actor=ANALYST)


def test_margin_rate_and_cost_are_guarded_settings(shop):
    assert gross_margin_rate(shop) == pytest.approx(0.30)
    save_gross_margin_rate(shop, 0.45, actor=ADMIN)
    assert gross_margin_rate(shop) == pytest.approx(0.45)
    summary = campaign_summary(shop, AS_OF).set_index("campaign_id")
    assert summary.loc["C1", "incremental_margin"] == pytest.approx(90.0 * 0.45)
    with pytest.raises(PermissionDenied):
        save_gross_margin_rate(shop, 0.2, actor=ANALYST)
    for bad in (-0.1, 1.5, "abc", math.nan):
        with pytest.raises(InputError):
            save_gross_margin_rate(shop, bad, actor=ADMIN)
    set_campaign_cost(shop, "C2", 180, actor=ANALYST)
    assert campaign_summary(shop, AS_OF).set_index("campaign_id").loc["C2", "roi"] == (
        pytest.approx(0.5)
    )
    with pytest.raises(PermissionDenied):
        set_campaign_cost(shop, "C2", 10, actor=VIEWER)
    with pytest.raises(InputError):
        set_campaign_cost(shop, "C2", -1, actor=ANALYST)


def test_filter_by_channel_and_period(shop):
    summary = campaign_summary(shop, AS_OF)
    assert filter_summary(summary, channels=["sms"])["campaign_id"].tolist() == ["C1"]
    assert filter_summary(summary, start=dt.date(2024, 3, 5))["campaign_id"].tolist() == ["C2"]
    assert filter_summary(summary, end=dt.date(2024, 3, 1))["campaign_id"].tolist() == ["C1"]
    assert filter_summary(summary, channels=["wecom"]).empty


def test_uplift_by_group_ranks_only_groups_big_enough():
    rng = np.random.default_rng(7)
    n = 2_000
    control = rng.random(n) < 0.2
    group = np.where(np.arange(n) < 1_900, "big", "small")
    rate = np.where(group == "big", np.where(control, 0.05, 0.15), 0.5)
    recipients = pd.DataFrame({"is_control": control, "orders": (rng.random(n) < rate).astype(int)})
    table = uplift_by_group(recipients, pd.Series(group)).set_index("group")
    assert table.loc["big", "ranked"] and table.loc["big", "significant_gain"]
    small = table.loc["small"]
    assert small["control"] < 30 and not small["ranked"] and not small["significant_gain"]
    assert responding_segments(table.reset_index()) == ["big"]
    test = two_proportion_test(
        int(((group == "big") & ~control & (recipients["orders"] > 0)).sum()),
        int(((group == "big") & ~control).sum()),
        int(((group == "big") & control & (recipients["orders"] > 0)).sum()),
        int(((group == "big") & control).sum()),
    )
    assert table.loc["big", "uplift"] == pytest.approx(test.difference)
    tags = pd.DataFrame({"vip": group == "small", "all": np.ones(n, bool)})
    by_tag = uplift_by_group(recipients, tags)
    assert by_tag["group"].tolist() == ["all", "vip"]  # ranked first


def _facts(store):
    return load_audience_facts(store, AS_OF, None, preset("rfm11"), None)


def test_holdout_at_download_is_recorded_and_left_out_of_the_file(shop):
    exported, result = export_audience(
        shop, _facts(shop), Audience(), channel="sms", policy=ContactPolicy(),
        actor=ANALYST, columns=["customer_id"], file_format="csv",
        holdout_share=0.5, holdout_seed=11,
    )  # fmt: skip
    kept = sorted(np.asarray(_facts(shop).customer_ids)[result.kept_positions].tolist())
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))[1:]
    in_file = sorted(row[0] for row in rows)
    draw = draw_holdout(kept, 0.5, 11)
    control = sorted(np.asarray(kept, dtype=object)[draw.control].tolist())
    assert control and in_file == sorted(set(kept) - set(control))
    assert exported.row_count == len(in_file)
    with shop.connect() as conn:
        stored = conn.execute(
            select(models.export_members.c.customer_id, models.export_members.c.is_control).where(
                models.export_members.c.export_id == exported.export_id
            )
        ).all()
        filters = conn.execute(
            select(models.exports.c.filters).where(models.exports.c.id == exported.export_id)
        ).scalar_one()
    assert sorted(c for c, is_control in stored if is_control) == control
    assert sorted(export_member_ids(shop, exported.export_id)) == in_file
    assert filters["holdout"]["seed"] == 11 and filters["holdout"]["control"] == len(control)
    assert filters["holdout"]["share"] == 0.5 and "srm_p_value" in filters["holdout"]
    # the held-out customers were not contacted: the frequency cap does not count them
    exports = recent_contacts(shop, AS_OF, 30).set_index("customer_id")["exports"]
    assert set(exports.index[exports > 0]) == set(in_file)
    counts = dict(zip(kept, contact_counts(shop, pd.Series(kept), AS_OF, 30), strict=True))
    assert counts["p00"] == (0 if "p00" in control else 1)

    with pytest.raises(InputError):
        export_audience(
            shop, _facts(shop), Audience(), channel="sms", policy=ContactPolicy(),
            actor=ANALYST, columns=["customer_id"], file_format="csv", holdout_share=0.9,
        )  # fmt: skip


def test_the_same_seed_draws_the_same_holdout_in_any_order():
    ids = [f"k{n}" for n in range(5_000)]
    first = draw_holdout(ids, 0.1, 42)
    shuffled = list(reversed(ids))
    second = draw_holdout(shuffled, 0.1, 42)
    first_control = set(np.asarray(ids)[first.control])
    assert first_control == set(np.asarray(shuffled)[second.control])
    assert abs(len(first_control) - 500) < 4 * math.sqrt(5_000 * 0.1 * 0.9)
    assert not first.srm.mismatch
    assert set(np.asarray(ids)[draw_holdout(ids, 0.1, 43).control]) != first_control
    assert draw_holdout(ids, 0.1).seed != draw_holdout(ids, 0.1).seed


def test_a_campaign_is_created_from_the_download(shop):
    exported, _ = export_audience(
        shop, _facts(shop), Audience(), channel="email", policy=ContactPolicy(),
        actor=ANALYST, columns=["customer_id"], file_format="csv",
        holdout_share=0.5, holdout_seed=5,
    )  # fmt: skip
    started = dt.datetime(2024, 3, 25, 9, 0)
    create_campaign_from_export(
        shop, exported.export_id, campaign_id="APR", name="April mail",
        started_at=started, cost=12.5, actor=ANALYST,
    )  # fmt: skip
    with shop.connect() as conn:
        touches = pd.DataFrame(
            conn.execute(
                select(models.campaign_touches).where(
                    models.campaign_touches.c.campaign_id == "APR"
                )
            )
            .mappings()
            .all()
        )
        campaign = (
            conn.execute(select(models.campaigns).where(models.campaigns.c.campaign_id == "APR"))
            .mappings()
            .one()
        )
    treated = touches.loc[~touches["is_control"].astype(bool)]
    assert sorted(treated["customer_id"]) == sorted(export_member_ids(shop, exported.export_id))
    assert touches["is_control"].astype(bool).sum() == len(touches) - exported.row_count
    assert campaign["channel"] == "email" and float(campaign["cost"]) == 12.5
    assert campaign["export_id"] == exported.export_id
    assert (pd.to_datetime(treated["sent_at"]) == pd.Timestamp(started)).all()
    assert touches.loc[touches["is_control"].astype(bool), "sent_at"].isna().all()
    report = campaign_report(shop, "APR", AS_OF)
    assert report.srm is not None and not report.srm.mismatch  # planned 50/50 from the export
    assert "APR" in set(campaign_summary(shop, AS_OF)["campaign_id"])

    for kwargs, key in (
        ({"campaign_id": "APR"}, "campaigns.error.exists"),
        ({"campaign_id": "APR2"}, "campaigns.error.export_used"),
        ({"campaign_id": ""}, "campaigns.error.campaign_id"),
    ):
        with pytest.raises(InputError) as error:
            create_campaign_from_export(
                shop, exported.export_id, name="again", started_at=started, actor=ANALYST,
                **kwargs,
            )  # fmt: skip
        assert error.value.key == key
    with pytest.raises(PermissionDenied):
        create_campaign_from_export(
            shop, exported.export_id, campaign_id="V", name="v", started_at=started, actor=VIEWER
        )
    with shop.connect() as conn:
        assert conn.execute(select(func.count()).select_from(models.campaigns)).scalar() == 3


@pytest.fixture
def cli_shop(shop, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", shop.url.render_as_string(hide_password=False))
    return shop


def test_campaigns_command_writes_one_row_per_campaign_and_arm(cli_shop, tmp_path, capsys):
    out = tmp_path / "results.csv"
    assert cli.main(["campaigns", "--as-of", AS_OF.isoformat(), "--out", str(out)]) == 0
    assert "wrote 3 rows (2 campaigns)" in capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert [(r["campaign_id"], r["arm"]) for r in rows] == [
        ("C2", "A"),
        ("C1", "A"),
        ("C1", CONTROL),
    ]
    for name in ("campaign_id", "arm", "recipients", "converters", "conversion_rate", "revenue",
                 "revenue_per_recipient", "uplift", "uplift_ci_low", "uplift_ci_high",
                 "p_value"):  # fmt: skip
        assert name in rows[0]
    assert rows[0]["uplift"] == "" and rows[2]["uplift"] == ""
    assert float(rows[1]["uplift"]) == pytest.approx(1 / 6)
    assert float(rows[1]["conversion_rate"]) == pytest.approx(2 / 3)

    xlsx = tmp_path / "c1.xlsx"
    assert cli.main(["campaigns", "--as-of", AS_OF.isoformat(), "--campaign", "C1",
                     "--window", "1", "--out", str(xlsx)]) == 0  # fmt: skip
    sheet = openpyxl.load_workbook(xlsx).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = values[0]
    assert [row[header.index("arm")] for row in values[1:]] == ["A", CONTROL]
    assert values[1][header.index("converters")] == 1


@pytest.mark.parametrize(
    "arguments",
    [
        ["--campaign", "nope", "--out", "{dir}/x.csv"],
        ["--window", "0", "--out", "{dir}/x.csv"],
        ["--out", "{dir}/x.txt"],
        ["--out", "{dir}/missing/x.csv"],
    ],
)
def test_campaigns_command_errors_exit_2_and_write_nothing(cli_shop, tmp_path, capsys, arguments):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    filled = [a.replace("{dir}", str(out_dir)) for a in arguments]
    assert cli.main(["campaigns", "--as-of", AS_OF.isoformat(), *filled]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not any(out_dir.iterdir())


def test_a_campaign_with_significant_gain_gets_that_verdict(store):
    n = 400
    ids = [f"g{k}" for k in range(n)]
    control = np.arange(n) >= 300
    buys = np.where(control, np.arange(n) % 10 == 0, np.arange(n) % 3 == 0)
    with store.begin() as conn:
        bulk_insert(conn, models.customers, pd.DataFrame({"customer_id": ids}))
        bulk_insert(conn, models.campaigns, pd.DataFrame({
            "campaign_id": ["G"], "name": ["g"], "channel": ["wecom"],
            "started_at": [_ts("2024-03-10 08:00")], "cost": [10.0]}))  # fmt: skip
        bulk_insert(conn, models.campaign_touches, pd.DataFrame({
            "campaign_id": "G", "customer_id": ids, "variant": "A", "is_control": control,
            "sent_at": [pd.NaT if c else _ts("2024-03-10 08:00") for c in control]}))  # fmt: skip
        bulk_insert(conn, models.orders, pd.DataFrame([
            _order(f"go{k}", ids[k], "2024-03-11 08:00", 10.0)
            for k in range(n) if buys[k]]))  # fmt: skip
    row = campaign_summary(store, AS_OF).iloc[0]
    expected = two_proportion_test(int(buys[:300].sum()), 300, int(buys[300:].sum()), 100)
    assert row["p_value"] == pytest.approx(expected.p_value) and expected.p_value < 0.05
    assert row["verdict"] == VERDICT_GAIN


@pytest.mark.slow
def test_ifood_pilot_economics(store):
    path = shared_file("ifood_marketing_campaign/ml_project1_data.csv")
    import_file(store, path, "customers", actor=ADMIN)
    summary = campaign_summary(store, dt.date(2030, 1, 1)).set_index("campaign_id")
    pilot = summary.loc["Response"]
    assert pilot["treated"] == 2_240 and pilot["cost"] == pytest.approx(6_720.0)
    assert pilot["responders"] == 334
    assert round(pilot["response_rate"] * 100, 2) == 14.91
    assert pilot["revenue"] == pytest.approx(3_674.0)
    assert pilot["revenue_basis"] == REVENUE_FROM_RESPONSES
    assert pilot["revenue"] - pilot["cost"] == pytest.approx(-3_046.0)
    assert pilot["roi"] == pytest.approx(3_674 / 6_720)
    results = arm_results(store, dt.date(2030, 1, 1), campaign_ids=["Response"])
    assert results["responders"].tolist() == [334]


def test_aggregates_are_stored_once_per_data_version_and_reused(shop):
    windows = {"C1": 7, "C2": 7}
    first = campaign_summary(shop, AS_OF)
    stored = read_setting(shop, AGGREGATES_KEY)
    assert len(stored) == 1
    # a second read uses the stored aggregates: the same list, nothing recomputed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(results_module, "arm_totals", _must_not_run)
        patch.setattr(results_module, "attributed_revenue", _must_not_run)
        again = campaign_summary(shop, AS_OF)
        arms, attributed, last = stored_aggregates(shop, AS_OF, windows)
    pd.testing.assert_frame_equal(again, first)
    pd.testing.assert_frame_equal(arms, arm_totals(shop, AS_OF, windows))
    assert attributed["attributed_revenue"].sum() == pytest.approx(190.0)
    assert last == {"C1": _ts("2024-03-01 12:00"), "C2": _ts("2024-03-05 09:00")}
    # a cost edit keeps them; new data (a new data version) computes them again
    set_campaign_cost(shop, "C1", 50, actor=ANALYST)
    assert len(read_setting(shop, AGGREGATES_KEY)) == 1
    with shop.begin() as conn:
        bulk_insert(conn, models.orders, pd.DataFrame([_order("late", "c2", "2024-03-03", 5.0)]))
        bump_data_version(conn)
    after = campaign_summary(shop, AS_OF).set_index("campaign_id")
    assert after.loc["C1", "control_rate"] == pytest.approx(1.0)
    assert after.loc["C1", "roi"] == pytest.approx(100.0 / 50.0)
    for day in range(1, 10):
        campaign_summary(shop, AS_OF - dt.timedelta(days=day))
    assert len(read_setting(shop, AGGREGATES_KEY)) == AGGREGATES_KEPT


def _must_not_run(*args, **kwargs):
    raise AssertionError("recomputed although stored")


def test_warm_up_computes_ahead_only_for_a_large_store(shop, monkeypatch):
    assert not warm_up_aggregates(shop, AS_OF)  # six touches: a first view is quick
    assert read_setting(shop, AGGREGATES_KEY) is None
    monkeypatch.setattr(results_module, "WARM_UP_TOUCHES", 5)
    assert warm_up_aggregates(shop, AS_OF)
    assert len(read_setting(shop, AGGREGATES_KEY)) == 1
    assert not warm_up_aggregates(shop, AS_OF)  # kept already
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(results_module, "arm_totals", _must_not_run)
        assert campaign_summary(shop, AS_OF)["campaign_id"].tolist() == ["C2", "C1"]
