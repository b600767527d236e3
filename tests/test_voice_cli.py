"""`python -m crm_core nps` and `service` on a generated shop (SQLite and PostgreSQL):
the files' rows against the answers and tickets counted independently in pandas."""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest

from crm_core import commands as cli
from crm_core.customers.features import customer_features
from crm_core.customers.rfm import prepare_facts
from crm_core.customers.segments import customer_segments, evaluate_scheme, preset
from crm_core.demo import generate_shop, load_shop
from crm_core.voice.nps import nps_estimate, survey_answers
from crm_core.voice.sla import service_tickets

AS_OF = dt.date(2026, 10, 31)


@pytest.fixture
def cli_shop(store, monkeypatch):
    load_shop(store, generate_shop(1500, seed=5, end_date=AS_OF))
    monkeypatch.setenv("DATABASE_URL", store.url.render_as_string(hide_password=False))
    return store


def _rows(path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


def test_nps_command_writes_one_row_per_month(cli_shop, tmp_path, capsys):
    out = tmp_path / "nps.csv"
    code = cli.main(
        ["nps", "--as-of", AS_OF.isoformat(), "--from", "2026-01-01", "--out", str(out)]
    )
    assert code == 0
    assert "periods" in capsys.readouterr().out
    rows = _rows(out)
    assert list(rows[0]) == [
        "period",
        "answers",
        "promoters",
        "passives",
        "detractors",
        "nps",
        "ci_low",
        "ci_high",
    ]
    answers = survey_answers(cli_shop, AS_OF, since=dt.date(2026, 1, 1))
    scored = answers[answers["nps"].notna()]
    months = scored["responded_at"].dt.strftime("%Y-%m")
    assert [r["period"] for r in rows] == sorted(months.unique())
    for row in rows:
        scores = scored.loc[(months == row["period"]).to_numpy(), "nps"].astype(int)
        promoters, detractors = int((scores >= 9).sum()), int((scores <= 6).sum())
        assert int(row["answers"]) == len(scores)
        assert int(row["promoters"]) == promoters and int(row["detractors"]) == detractors
        assert int(row["passives"]) == len(scores) - promoters - detractors
        assert float(row["nps"]) == pytest.approx(100 * (promoters - detractors) / len(scores))
        low = float(nps_estimate(promoters, detractors, len(scores)).low)
        assert float(row["ci_low"]) == pytest.approx(low)
    quarters = tmp_path / "q.csv"
    assert (
        cli.main(["nps", "--as-of", "2026-10-31", "--period", "quarter", "--out", str(quarters)])
        == 0
    )
    assert _rows(quarters)[-1]["period"] == "2026Q4"


def test_service_command_writes_achievement_per_priority_and_tier(cli_shop, tmp_path):
    out = tmp_path / "service.csv"
    assert cli.main(["service", "--as-of", AS_OF.isoformat(), "--out", str(out)]) == 0
    table = pd.DataFrame(_rows(out))
    assert set(table["dimension"]) == {"priority", "tier"}
    tickets = service_tickets(cli_shop, AS_OF)
    by_priority = table[(table["dimension"] == "priority") & (table["stage"] == "first_response")]
    counted = by_priority.set_index("group")["tickets"].astype(int)
    assert counted.to_dict() == tickets["priority"].value_counts().to_dict()
    # the default policy's VIP tier: the membership preset's supreme VIP and VIP customers
    rfm = prepare_facts(customer_features(cli_shop, AS_OF, None))
    segments = customer_segments(rfm, evaluate_scheme(rfm, preset("membership"))).astype(str)
    vip = set(rfm.features["customer_id"].to_numpy()[np.isin(segments, ["supreme_vip", "vip"])])
    tiers = table[(table["dimension"] == "tier") & (table["stage"] == "resolution")]
    tiers = tiers.set_index("group")
    assert int(tiers.loc["VIP", "tickets"]) == int(tickets["customer_id"].isin(vip).sum())
    assert int(tiers.loc["(none)", "tickets"]) == int((~tickets["customer_id"].isin(vip)).sum())
    for _, row in table.iterrows():
        met, breached = int(row["met"]), int(row["breached"])
        if met + breached:
            assert float(row["achievement"]) == pytest.approx(met / (met + breached))
            assert (
                float(row["achievement_low"])
                <= float(row["achievement"])
                <= float(row["achievement_high"])
            )


@pytest.mark.parametrize("command", ["nps", "service"])
def test_voice_commands_refuse_a_wrong_output_file(cli_shop, tmp_path, capsys, command):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert cli.main([command, "--as-of", AS_OF.isoformat(), "--out", str(out_dir / "x.txt")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not any(out_dir.iterdir())
