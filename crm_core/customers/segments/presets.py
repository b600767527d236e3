"""Presets: the usual retail schemes (RFM 11 and RFM 10 segments, lifecycle, membership
pyramid, spend tiers, behaviour-aware layering), each a fresh `Scheme` on request."""

from __future__ import annotations

import copy
from typing import Any

from crm_core.customers.segments.schemes import Scheme
from crm_core.errors import InputError


def _cells(field_name: str, cells: list[int]) -> dict:
    return {"field": field_name, "op": "in", "value": cells}


def _all(*conditions: dict) -> dict:
    return {"all": list(conditions)}


def _cmp(field_name: str, op: str, value: Any) -> dict:
    return {"field": field_name, "op": op, "value": value}


_PRESET_DEFINITIONS: dict[str, dict] = {
    "rfm11": {
        "name": "rfm11",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "champions", "when": _cells("r_fm", [55, 54, 45])},
            {"segment": "loyal", "when": _cells("r_fm", [53, 44, 35, 34])},
            {"segment": "potential_loyalist", "when": _cells("r_fm", [52, 42, 43, 33])},
            {"segment": "new_customers", "when": _cells("r_fm", [51])},
            {"segment": "promising", "when": _cells("r_fm", [41, 31])},
            {"segment": "need_attention", "when": _cells("r_fm", [32, 23, 22])},
            {"segment": "about_to_sleep", "when": _cells("r_fm", [21])},
            {"segment": "at_risk", "when": _cells("r_fm", [25, 24, 13])},
            {"segment": "cant_lose", "when": _cells("r_fm", [15, 14])},
            {"segment": "hibernating", "when": _cells("r_fm", [12])},
            {"segment": "lost"},
        ],
    },
    "rfm10": {
        "name": "rfm10",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "champions", "when": _cells("rf", [54, 55])},
            {"segment": "loyal", "when": _cells("rf", [34, 35, 44, 45])},
            {"segment": "potential_loyalist", "when": _cells("rf", [42, 43, 52, 53])},
            {"segment": "new_customers", "when": _cells("rf", [51])},
            {"segment": "promising", "when": _cells("rf", [41])},
            {"segment": "need_attention", "when": _cells("rf", [33])},
            {"segment": "about_to_sleep", "when": _cells("rf", [31, 32])},
            {"segment": "at_risk", "when": _cells("rf", [13, 14, 23, 24])},
            {"segment": "cant_lose", "when": _cells("rf", [15, 25])},
            {"segment": "hibernating"},
        ],
    },
    "lifecycle": {
        "name": "lifecycle",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "active", "when": _cmp("recency_days", "<=", 90)},
            {"segment": "sleeping", "when": _cmp("recency_days", "<=", 180)},
            {"segment": "pre_churn", "when": _cmp("recency_days", "<=", 365)},
            {"segment": "churned"},
        ],
    },
    "membership": {
        "name": "membership",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "supreme_vip", "when": _cmp("monetary_rank_pct", "<", 10)},
            {"segment": "vip", "when": _cmp("monetary_rank_pct", "<", 25)},
            {"segment": "senior", "when": _cmp("monetary_rank_pct", "<", 50)},
            {"segment": "ordinary"},
        ],
    },
    "spend_tiers": {
        "name": "spend_tiers",
        "scoring": {"mode": "quantile"},
        "rules": [
            {"segment": "dormant", "when": _cmp("recency_days", ">", 90)},
            {"segment": "super", "when": _cmp("spend_12m", ">", 10000)},
            {"segment": "high_value", "when": _cmp("spend_12m", ">", 5000)},
            {"segment": "ordinary"},
        ],
    },
    "behaviour": {
        "name": "behaviour",
        "scoring": {"mode": "quantile"},
        "rules": [
            {
                "segment": "loyal",
                "when": _all(
                    _cmp("recency_days", "<", 15),
                    _cmp("frequency", ">=", 4),
                    _cmp("monetary", ">=", 500),
                ),
            },
            {
                "segment": "potential",
                "when": _all(
                    _cmp("recency_days", "<", 30),
                    _cmp("frequency", "between", [2, 3]),
                    _cmp("browse_events_30d", ">=", 3),
                ),
            },
            {
                "segment": "wake_up",
                "when": _all(
                    _cmp("recency_days", ">", 90),
                    _cmp("frequency", "==", 1),
                    _cmp("complaints", ">=", 1),
                ),
            },
            {"segment": "new", "when": _cmp("tenure_days", "<=", 30)},
            {
                "segment": "high_value_at_risk",
                "when": _all(
                    _cmp("recency_days", ">", 60),
                    _cmp("recency_days", "<=", 180),
                    _cmp("monetary", ">=", 500),
                ),
            },
            {"segment": "regular", "when": _cmp("recency_days", "<=", 60)},
            {"segment": "sleeping", "when": _cmp("recency_days", "<=", 180)},
            {"segment": "lost"},
        ],
    },
}

PRESET_NAMES: tuple[str, ...] = tuple(_PRESET_DEFINITIONS)


def preset(name: str) -> Scheme:
    """A fresh copy of the preset scheme `name` (one of PRESET_NAMES)."""
    if name not in _PRESET_DEFINITIONS:
        raise InputError("rfm.scheme.error.not_found", name=name)
    return Scheme.from_dict(copy.deepcopy(_PRESET_DEFINITIONS[name]))


PRESETS: dict[str, Scheme] = {name: preset(name) for name in PRESET_NAMES}
