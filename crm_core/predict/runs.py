"""Prediction runs: fit CLV (BG/NBD + Gamma-Gamma) and churn risk on one day, keep the
fit in the model record (prediction_runs) and each customer's scores
(customer_predictions), which audiences, tags and the RFM member list read.

A run scores every customer with a paid order up to its `as_of`; the scores name the
run that made them. The churn risk level of a score is "high" at or above the stored
high cut point, "medium" at or above the medium one, else "low" (PredictionSettings).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from crm_core.auth import EDIT_SHOP_SETTINGS, RUN_PREDICTIONS, Actor, require
from crm_core.customers.segments import condition_fields, evaluate_rule
from crm_core.customers.tags import PREDICTION_FIELDS, share_strictly_above
from crm_core.errors import InputError
from crm_core.predict.churn import (
    DEFAULT_HORIZON_DAYS,
    ChurnBacktest,
    ChurnModel,
    churn_facts,
    load_churn_history,
)
from crm_core.predict.clv import (
    PREDICTION_COLUMNS,
    BetaGeoModel,
    GammaGammaModel,
    customer_predictions,
    purchase_summary,
)
from crm_core.store import bulk_insert, models, raw_value, read_frame
from crm_core.store.settings import read_setting, write_setting
from crm_core.store.version import data_version

PREDICTION_SETTINGS_KEY = "prediction_settings"
DRIVER_CUSTOMERS = 200_000
"""Customers whose churn drivers a run works out (see `_drivers`)."""
KEEP_SCORED_RUNS = 3
"""Runs whose customer scores are kept; older runs keep their record only."""
RISK_LEVELS: tuple[str, ...] = ("high", "medium", "low")
STEPS: tuple[str, ...] = ("read", "clv", "churn", "score", "save")
"""The steps of `run_predictions`, in order, as its progress callback names them."""
SCORE_COLUMNS: tuple[str, ...] = (*PREDICTION_COLUMNS, "churn_risk", "churn_drivers")
"""A run's columns per customer: the CLV predictions and the churn risk with its drivers."""


@dataclass(frozen=True)
class PredictionSettings:
    """monthly_discount: the CLV's discount rate per month (0-1); high_risk and
    medium_risk: the churn risk (0-1) from which a customer's level is high or medium.
    By default high means "more likely than not to buy nothing in the horizon"; in a
    typical shop most past buyers are high, and the valuable ones among them are few
    (BG/NBD gives a customer who stopped buying a low CLV)."""

    monthly_discount: float = 0.01
    high_risk: float = 0.5
    medium_risk: float = 0.25

    def __post_init__(self) -> None:
        for name in ("monthly_discount", "high_risk", "medium_risk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
                raise InputError("predict.error.setting", name=name, value=value)
        if self.medium_risk > self.high_risk:
            raise InputError(
                "predict.error.risk_order", medium=self.medium_risk, high=self.high_risk
            )


def load_prediction_settings(bind: Engine | Connection) -> PredictionSettings:
    stored = read_setting(bind, PREDICTION_SETTINGS_KEY) or {}
    known = {k: float(v) for k, v in stored.items() if k in PredictionSettings.__annotations__}
    return PredictionSettings(**known)


def save_prediction_settings(
    engine: Engine, settings: PredictionSettings, *, actor: Actor
) -> PredictionSettings:
    """Store the settings. PermissionDenied unless `actor` may edit the shop's settings."""
    require(actor, EDIT_SHOP_SETTINGS)
    with engine.begin() as conn:
        write_setting(conn, PREDICTION_SETTINGS_KEY, asdict(settings))
    return settings


def risk_levels(churn_risk: np.ndarray, settings: PredictionSettings) -> np.ndarray:
    """ "high" / "medium" / "low" per churn risk (0-1); NaN where there is no score."""
    risk = np.asarray(churn_risk, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        levels = np.where(
            risk >= settings.high_risk,
            "high",
            np.where(risk >= settings.medium_risk, "medium", "low"),
        ).astype(object)
    levels[np.isnan(risk)] = np.nan
    return levels


@dataclass(frozen=True)
class PredictionRun:
    """A row of the model record (see models.PredictionRun); `details` holds bgnbd and
    gamma_gamma parameters with their log-likelihoods, margin, monthly_discount, buyers,
    churn_facts and the churn backtest (ChurnBacktest.to_dict)."""

    id: int
    created_by: str
    created_at: dt.datetime
    as_of: dt.date
    horizon_days: int
    data_version: str | None
    customers: int
    orders: int
    churn_scorer: str
    details: dict

    @property
    def backtest(self) -> ChurnBacktest:
        return ChurnBacktest.from_dict(self.details["churn"])


def _params(model: Any, names: tuple[str, ...]) -> dict[str, float]:
    values = {name: float(getattr(model, f"{name}_")) for name in names}
    values["loglik"] = float(model.log_likelihood_)
    return values


def run_predictions(
    engine: Engine,
    as_of: dt.date,
    *,
    actor: Actor,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
) -> PredictionRun:
    """Fit BG/NBD, Gamma-Gamma and the churn model on the store's history up to `as_of`,
    score every buyer and store the run with its scores (one transaction). Scores of runs
    older than the KEEP_SCORED_RUNS newest are deleted; their records stay.
    PermissionDenied unless `actor` may run predictions; InputError when the data cannot
    support a fit. `progress` is called with each step of STEPS as it starts."""
    # imported here: the campaigns package reads audience facts, which read these runs
    from crm_core.outreach.campaigns.settings import gross_margin_rate

    require(actor, RUN_PREDICTIONS)
    step = progress or (lambda _name: None)
    settings = load_prediction_settings(engine)
    margin = gross_margin_rate(engine)
    version = data_version(engine)
    step("read")
    history = load_churn_history(engine, as_of)
    newest = history.last_day
    if newest is not None and as_of > newest:
        raise InputError(
            "predict.error.after_data", as_of=as_of.isoformat(), newest=newest.isoformat()
        )
    step("clv")
    summary = purchase_summary(history.purchases(), as_of, check=True)
    beta_geo = BetaGeoModel().fit(summary)
    gamma_gamma = GammaGammaModel().fit(summary)
    clv = customer_predictions(
        summary, beta_geo, gamma_gamma,
        calibration_end=as_of, margin=margin, monthly_discount=settings.monthly_discount,
    )  # fmt: skip
    step("churn")
    churn = ChurnModel(horizon_days=horizon_days).fit(history, as_of)
    step("score")
    facts = churn_facts(history, as_of)
    risk = churn.risk(facts)
    scores = clv.merge(
        pd.DataFrame({"customer_id": facts["customer_id"], "churn_risk": risk}),
        on="customer_id",
        how="outer",
    ).sort_values("customer_id", kind="stable", ignore_index=True)
    scores["churn_drivers"] = _drivers(churn, facts, risk, scores)
    details = {
        "bgnbd": _params(beta_geo, ("r", "alpha", "a", "b")),
        "gamma_gamma": _params(gamma_gamma, ("p", "q", "gamma")),
        "margin": margin,
        "monthly_discount": settings.monthly_discount,
        "buyers": len(summary),
        "churn_facts": churn.facts_,
        "churn": churn.backtest_.to_dict(),
    }
    step("save")
    created_at = (now or dt.datetime.now()).replace(microsecond=0)
    row = {
        "created_by": actor.username,
        "created_at": created_at,
        "as_of": as_of,
        "horizon_days": churn.horizon_days,
        "data_version": str(version),
        "customers": len(scores),
        "orders": len(history.order_time),
        "churn_scorer": "model" if churn.uses_model_ else "recency",
        "details": _json_ready(details),
    }
    runs, scored = models.prediction_runs, models.customer_predictions
    with engine.begin() as conn:
        run_id = conn.execute(insert(runs).returning(runs.c.id), [row]).scalar_one()
        bulk_insert(conn, scored, scores.assign(run_id=run_id)[["run_id", *SCORE_COLUMNS]])
        kept = select(runs.c.id).order_by(runs.c.id.desc()).limit(KEEP_SCORED_RUNS).subquery()
        conn.execute(delete(scored).where(scored.c.run_id.not_in(select(kept.c.id))))
    return PredictionRun(id=int(run_id), **row)


def _drivers(
    churn: ChurnModel, facts: pd.DataFrame, risk: np.ndarray, scores: pd.DataFrame
) -> np.ndarray:
    """Each score's churn drivers (ChurnModel.drivers), for the DRIVER_CUSTOMERS scores
    with the largest expected loss (churn_risk x clv_12m; all of them in a smaller shop);
    None for the others."""
    loss = (scores["churn_risk"] * scores["clv_12m"]).to_numpy(dtype=np.float64, na_value=0.0)
    chosen = np.argsort(-np.nan_to_num(loss), kind="stable")[:DRIVER_CUSTOMERS]
    rows = pd.Index(facts["customer_id"]).get_indexer(scores["customer_id"].iloc[chosen])
    result = np.full(len(scores), None, dtype=object)
    found = rows >= 0
    result[chosen[found]] = churn.drivers(facts.iloc[rows[found]], risk[rows[found]])
    return result


def _json_ready(value: Any) -> Any:
    """`value` with NumPy numbers as Python ones and NaN as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def _run(row: Any) -> PredictionRun:
    return PredictionRun(
        id=int(row.id), created_by=row.created_by, created_at=row.created_at, as_of=row.as_of,
        horizon_days=int(row.horizon_days), data_version=row.data_version,
        customers=int(row.customers), orders=int(row.orders), churn_scorer=row.churn_scorer,
        details=row.details,
    )  # fmt: skip


def latest_run(
    bind: Engine | Connection,
    on_or_before: dt.date | None = None,
    run_id: int | None = None,
) -> PredictionRun | None:
    """The newest run that still has its scores; with `on_or_before`, the newest made as
    of that day or earlier (a later run saw orders after the day, and scores from it
    would leak them into that day's figures); with `run_id`, that run if its scores are
    kept. None when there is none."""
    runs, scored = models.prediction_runs, models.customer_predictions
    statement = (
        select(runs)
        .where(runs.c.id.in_(select(scored.c.run_id).distinct()))
        .order_by(runs.c.id.desc())
        .limit(1)
    )
    if on_or_before is not None:
        statement = statement.where(runs.c.as_of <= on_or_before)
    if run_id is not None:
        statement = statement.where(runs.c.id == run_id)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            row = conn.execute(statement).first()
    else:
        row = bind.execute(statement).first()
    return None if row is None else _run(row)


def prediction_runs(engine: Engine) -> list[PredictionRun]:
    """The model record, newest first."""
    runs = models.prediction_runs
    with engine.connect() as conn:
        rows = conn.execute(select(runs).order_by(runs.c.id.desc())).all()
    return [_run(row) for row in rows]


def load_scores(engine: Engine, run_id: int) -> pd.DataFrame:
    """SCORE_COLUMNS of one run, one row per scored customer, ordered by customer_id
    (next_order_date as datetime64, NaT when beyond two years)."""
    scored = models.customer_predictions
    numbers = [
        name
        for name in SCORE_COLUMNS
        if name not in ("customer_id", "next_order_date", "churn_drivers")
    ]
    statement = (
        select(
            scored.c.customer_id,
            *(scored.c[name] for name in numbers),
            raw_value(scored.c.next_order_date).label("next_order_date"),
            scored.c.churn_drivers,
        )
        .where(scored.c.run_id == run_id)
        .order_by(scored.c.customer_id)
    )
    with engine.connect() as conn:
        frame = read_frame(conn, statement, times=("next_order_date",), numbers=tuple(numbers))
    return frame[list(SCORE_COLUMNS)]


@dataclass(frozen=True)
class RunScores:
    """The newest run, its scores and the settings their risk levels use."""

    run: PredictionRun
    scores: pd.DataFrame
    settings: PredictionSettings

    @property
    def levels(self) -> np.ndarray:
        """Each score's churn risk level (see `risk_levels`)."""
        return risk_levels(self.scores["churn_risk"].to_numpy(dtype=np.float64), self.settings)


def predictions_key(
    bind: Engine | Connection, on_or_before: dt.date | None = None, run_id: int | None = None
) -> str:
    """What the prediction fields depend on, as text for cache keys: the run
    `latest_run` picks (its id and when it was made: SQLite reuses the ids of deleted
    runs) and the prediction settings ("" when there is no run)."""
    run = latest_run(bind, on_or_before, run_id)
    if run is None:
        return ""
    return f"{run.id}:{run.created_at.isoformat()}:{asdict(load_prediction_settings(bind))}"


def load_run_scores(
    engine: Engine, on_or_before: dt.date | None = None, run_id: int | None = None
) -> RunScores | None:
    """The run `latest_run` picks with its scores (None when there is none)."""
    run = latest_run(engine, on_or_before, run_id)
    if run is None:
        return None
    return RunScores(run, load_scores(engine, run.id), load_prediction_settings(engine))


def prediction_fields(
    scored: RunScores | None, customer_ids: pd.Series, as_of: dt.date
) -> pd.DataFrame:
    """The prediction fields (customers.tags.PREDICTION_FIELDS) for each of
    `customer_ids` (same order and index), NaN for a customer the run did not score or
    when there is no run: clv_rank_pct is the % of
    scored customers with a strictly higher clv_12m, next_order_in_days the whole days
    from `as_of` to the expected next order (negative once it has passed)."""
    frame = pd.DataFrame(index=customer_ids.index)
    if scored is None:
        for name in PREDICTION_FIELDS:
            frame[name] = np.full(
                len(customer_ids), np.nan, dtype=object if name == "churn_risk_level" else float
            )
        return frame
    scores = scored.scores
    rows = pd.Index(scores["customer_id"].astype(str)).get_indexer(customer_ids.astype(str))
    found = rows >= 0
    take = rows[found]

    def aligned(values: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        result = np.full(len(rows), np.nan, dtype=dtype)
        result[found] = values[take]
        return result

    def numbers(name: str) -> np.ndarray:
        return scores[name].to_numpy(dtype=np.float64, na_value=np.nan)

    next_day = pd.DatetimeIndex(scores["next_order_date"]).normalize()
    days = (next_day - pd.Timestamp(as_of)).days.to_numpy(dtype=np.float64, na_value=np.nan)
    frame["probability_alive"] = aligned(numbers("probability_alive"))
    frame["churn_risk"] = aligned(numbers("churn_risk"))
    frame["churn_risk_level"] = aligned(np.asarray(scored.levels, dtype=object), object)
    frame["clv_12m"] = aligned(numbers("clv_12m"))
    frame["clv_rank_pct"] = aligned(share_strictly_above(numbers("clv_12m")))
    frame["purchases_90d"] = aligned(numbers("purchases_90d"))
    frame["next_order_in_days"] = aligned(days)
    return frame


def scored_tag_members(scored: RunScores, condition: Mapping) -> np.ndarray | None:
    """Which of the run's scored customers (rows of `scored.scores`) meet a tag rule that
    reads prediction fields only, on the run's day (bool per row); None when the rule
    reads other fields too, so it must be evaluated on the audience facts."""
    if not condition_fields(condition) <= set(PREDICTION_FIELDS):
        return None
    fields = prediction_fields(scored, scored.scores["customer_id"], scored.run.as_of)
    return np.asarray(evaluate_rule(condition, fields), dtype=bool)
