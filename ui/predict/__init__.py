"""What the Predictions page shares: session keys and cached loaders.

The newest run's scores are read once per store, run and prediction settings
(`run_scores`); the Audiences page's facts and the RFM member list use the same object.
The calibration check (BG/NBD fitted up to a chosen day, then compared with what
happened after it) reads the paid orders once per (store, data version, as-of date) and
fits once per calibration end."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from crm_core.predict.clv import (
    BetaGeoModel,
    conditional_expectations,
    holdout_tracking,
    paid_purchases,
    purchase_summary,
)
from crm_core.predict.runs import RunScores, load_run_scores, predictions_key
from ui.context import DataKey, RunContext

PREFIX = "crm.predict."
KEY_RUN_AS_OF = PREFIX + "run.as_of"
KEY_HORIZON = PREFIX + "run.horizon"
KEY_RUN_FORM = PREFIX + "run.form"
KEY_CALIBRATION_END = PREFIX + "check.end"
KEY_CUMULATIVE = PREFIX + "check.cumulative"
KEY_SETTINGS_FORM = PREFIX + "settings.form"
KEY_LOOKUP = PREFIX + "lookup"
KEY_LIST_FORMAT = PREFIX + "list.format"
KEY_LIST_DOWNLOAD = PREFIX + "list.download"
KEY_NOTICE = PREFIX + "notice"
CACHE_ENTRIES = 4


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _run_scores(
    _engine: Engine, url: str, prediction_key: str, on_or_before: dt.date | None
) -> RunScores | None:
    return load_run_scores(_engine, on_or_before) if prediction_key else None


def run_scores(ctx: RunContext, on_or_before: dt.date | None) -> tuple[str, RunScores | None]:
    """(what the prediction fields depend on as text, the scores or None) of the newest
    run, made as of `on_or_before` or earlier when given (figures of a day never use
    a run that saw later orders); cached per store, run and prediction settings
    (`predict.runs.predictions_key`)."""
    key = predictions_key(ctx.engine, on_or_before)
    return key, _run_scores(ctx.engine, ctx.url, key, on_or_before)


@st.cache_resource(show_spinner=False, max_entries=2, ttl=3600)
def _purchases(_engine: Engine, data_key: DataKey, as_of: dt.date) -> pd.DataFrame:
    return paid_purchases(_engine, as_of)


@dataclass(frozen=True)
class CalibrationCheck:
    """BG/NBD fitted up to `calibration_end`; tracking (predict.clv.holdout_tracking) and
    conditional (predict.clv.conditional_expectations) up to the as-of date."""

    calibration_end: dt.date
    model: BetaGeoModel
    buyers: int
    tracking: pd.DataFrame
    conditional: pd.DataFrame


@st.cache_resource(show_spinner=False, max_entries=CACHE_ENTRIES, ttl=3600)
def _calibration_check(
    _engine: Engine, data_key: DataKey, as_of: dt.date, calibration_end: dt.date
) -> CalibrationCheck:
    purchases = _purchases(_engine, data_key, as_of)
    summary = purchase_summary(purchases, calibration_end, check=True)
    model = BetaGeoModel().fit(summary)
    return CalibrationCheck(
        calibration_end,
        model,
        len(summary),
        holdout_tracking(purchases, model, calibration_end, as_of),
        conditional_expectations(purchases, model, calibration_end, as_of),
    )


def calibration_check(ctx: RunContext, calibration_end: dt.date) -> CalibrationCheck:
    """The calibration check up to the run's as-of date (cached; InputError when the
    calibration period cannot support a fit)."""
    return _calibration_check(ctx.engine, ctx.data_key, ctx.as_of, calibration_end)
