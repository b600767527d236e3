"""Every crm_core function that writes or reveals checks the acting user's role itself:
a role without the action's permission is refused with PermissionDenied and the store
is left as it was; a role with it is let through. The pages only ask the same table."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import func, select

from crm_core import auth
from crm_core.auth import Actor
from crm_core.customers.segments import preset, save_scheme
from crm_core.customers.tags import delete_tag, save_tag
from crm_core.demo import generate_shop, load_shop
from crm_core.errors import InputError, PermissionDenied
from crm_core.ingest import import_file, merge_customers
from crm_core.ingest.duplicates import duplicates_shown_to
from crm_core.ingest.history import EVERY_CELL, columns_hidden_from
from crm_core.ingest.mapping import save_template
from crm_core.outreach.audiences import (
    Audience,
    export_audience,
    export_trigger,
    list_exports,
    load_audience_facts,
    redownload_export,
)
from crm_core.outreach.campaigns import (
    create_campaign_from_export,
    list_campaigns,
    save_campaign_window,
    save_gross_margin_rate,
    set_campaign_cost,
)
from crm_core.outreach.policy import ContactPolicy, save_policy
from crm_core.outreach.privacy import mask_personal_columns
from crm_core.outreach.triggers import TriggerSettings, save_trigger_settings
from crm_core.predict.runs import PredictionSettings, run_predictions, save_prediction_settings
from crm_core.store import data_version, models

AS_OF = dt.date(2026, 10, 31)
TAG_RULE = {"field": "frequency", "op": ">=", "value": 2}
ORDERS_CSV = b"customer_id,ordered_at,amount\nP1,2026-10-01,10\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    from crm_core.store import make_engine, upgrade_to_head

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('permissions') / 'crm.db'}")
    upgrade_to_head(engine)
    load_shop(engine, generate_shop(300, seed=5))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def facts(shop):
    return load_audience_facts(shop, AS_OF, None, preset("rfm11"), None)


def _run_predictions(shop, actor) -> None:
    """A run past the permission check: 300 customers are too few for a fit."""
    with pytest.raises(InputError) as refused:
        run_predictions(shop, AS_OF, actor=actor)
    assert refused.value.key == "predict.error.too_little"


def _writes(shop, facts):
    """(action, attempt(actor)) for every write and reveal of crm_core."""
    policy = ContactPolicy()
    survivor, merged = facts.customer_ids[:2]
    campaign = list_campaigns(shop)["campaign_id"].iloc[0]
    return [
        (auth.EDIT_SCHEMES, lambda a: save_scheme(shop, preset("lifecycle"), a)),
        (auth.EDIT_TAGS, lambda a: save_tag(shop, "repeat", TAG_RULE, a)),
        (auth.EDIT_TAGS, lambda a: delete_tag(shop, "return_heavy", a)),
        (auth.EDIT_TRIGGERS, lambda a: save_trigger_settings(shop, TriggerSettings(), a)),
        (auth.EDIT_POLICY, lambda a: save_policy(shop, policy, a)),
        (
            auth.DOWNLOAD,
            lambda a: export_audience(
                shop, facts, Audience(), channel="sms", policy=policy, actor=a
            ),
        ),
        (
            auth.DOWNLOAD,
            lambda a: export_trigger(
                shop, facts, "winback", TriggerSettings(), channel="sms", policy=policy, actor=a
            ),
        ),
        (auth.DOWNLOAD, lambda a: redownload_export(shop, 1, actor=a)),
        (auth.DOWNLOAD, lambda a: list_exports(shop, actor=a)),
        (auth.IMPORT, lambda a: import_file(shop, ORDERS_CSV, "orders", actor=a)),
        (
            auth.IMPORT,
            lambda a: save_template(
                shop, "t", "orders", {"customer_id": "customer_id"}, ["customer_id"], actor=a
            ),
        ),
        (auth.IMPORT, lambda a: merge_customers(shop, survivor, [merged], actor=a)),
        (auth.MANAGE_USERS, lambda a: auth.list_users(shop, actor=a)),
        (auth.EDIT_SHOP_SETTINGS, lambda a: save_gross_margin_rate(shop, 0.4, actor=a)),
        (
            auth.EDIT_SHOP_SETTINGS,
            lambda a: save_prediction_settings(shop, PredictionSettings(), actor=a),
        ),
        (auth.RUN_PREDICTIONS, lambda a: _run_predictions(shop, a)),
        (auth.EDIT_CAMPAIGNS, lambda a: save_campaign_window(shop, campaign, 14, actor=a)),
        (auth.EDIT_CAMPAIGNS, lambda a: set_campaign_cost(shop, campaign, 99, actor=a)),
        (
            auth.EDIT_CAMPAIGNS,
            lambda a: create_campaign_from_export(
                shop,
                1,
                campaign_id="PERM",
                name="p",
                started_at=dt.datetime(2026, 10, 1),
                actor=a,
            ),
        ),
    ]


def _counts(shop) -> tuple:
    tables = (
        models.segment_schemes,
        models.exports,
        models.mapping_templates,
        models.orders,
        models.campaigns,
        models.campaign_touches,
    )
    with shop.connect() as conn:
        rows = tuple(
            conn.execute(select(func.count()).select_from(table)).scalar() for table in tables
        )
        settings = tuple(conn.execute(select(models.settings)).all())
    return rows, settings, data_version(shop)


@pytest.mark.parametrize("role", ["analyst", "viewer", "stranger"])
def test_every_write_and_reveal_refuses_a_role_without_the_permission(shop, facts, role):
    actor = Actor(f"test-{role}", role)
    before = _counts(shop)
    refused = []
    for action, attempt in _writes(shop, facts):
        if actor.may(action):
            continue
        with pytest.raises(PermissionDenied):
            attempt(actor)
        refused.append(action)
    assert refused, "every role here lacks at least one permission"
    assert _counts(shop) == before
    with pytest.raises(PermissionDenied):
        _writes(shop, facts)[0][1](None)


def test_the_admin_may_take_every_action(shop, facts):
    admin = Actor("test-admin", "admin")
    for _action, attempt in _writes(shop, facts):
        attempt(admin)
    assert len(list_exports(shop, actor=admin)) == 3


def test_reveals_mask_contacts_unless_the_actor_may_see_them(shop):
    frame = pd.DataFrame({"phone": ["13812345678"], "email": ["li@example.com"]})
    frame["address"] = frame["phone"]
    admin, analyst = Actor("a", "admin"), Actor("b", "analyst")
    assert mask_personal_columns(frame, admin).equals(frame)
    masked = mask_personal_columns(frame, analyst)
    assert masked.loc[0, "phone"] == masked.loc[0, "address"] == "138****5678"
    assert masked.loc[0, "email"] != "li@example.com"
    assert mask_personal_columns(frame, None).loc[0, "phone"] == "138****5678"

    rejects = pd.DataFrame({"column_name": ["手机"], "raw": [{"手机": "13812345678"}]})
    assert columns_hidden_from(admin, {}, rejects) == []
    assert columns_hidden_from(analyst, {}, rejects) == ["手机", EVERY_CELL]

    found = pd.DataFrame(
        {"customer_id": ["C1"], "phone": ["13812345678"], "match_value": ["13812345678"]}
    )
    assert duplicates_shown_to(found, admin).equals(found)
    shown = duplicates_shown_to(found, analyst)
    assert (shown.loc[0, "phone"], shown.loc[0, "match_value"]) == ("138****5678",) * 2
