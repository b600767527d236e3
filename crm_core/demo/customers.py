"""Demo customers: who signs up when, how many orders each will place
(`OrderCountModel`), and the customers frame.

Customers sign up at a growing rate; each has a channel, a home province and city, a
Chinese name, a mobile number, sometimes an e-mail address, a birthday, a gender ('F'/'M',
sometimes unknown) and opt-outs per contact channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core.demo.helpers import STR_DTYPE, choice, digits, random_stream, strings
from crm_core.demo.reference import (
    CATEGORY_SHARES,
    CHANNEL_WEIGHTS,
    CITIES,
    EMAIL_DOMAIN_WEIGHTS,
    EMAIL_DOMAINS,
    FEMALE_GIVEN,
    MALE_GIVEN,
    PHONE_PREFIXES,
    SURNAMES,
)
from crm_core.demo.timeline import Calendar
from crm_core.store import models


@dataclass(frozen=True)
class OrderCountModel:
    """How many orders (any status, refunds not counted) each customer places.

    never_buyer_share: share of customers who sign up (some browse) but never order.
    one_time_share: share who order exactly once by construction.
    The rest repeat: after the first order they keep ordering at a personal rate
    (orders per year, lognormal with log-sd `rate_sigma`, i.e. a heavy tail of very
    frequent buyers) for an active life after the first order that is exponential with
    mean `active_years_mean` years, or until the history ends. Rates are scaled so that
    the mean number of orders per customer is `mean_orders`. A repeat customer whose
    draw gives no further order also buys once, so the share of single-purchase
    customers ends up somewhat above `one_time_share / (1 - never_buyer_share)`;
    customers whose first order would fall after the end date never buy.
    max_orders caps one customer's orders.
    """

    mean_orders: float = 10.0
    never_buyer_share: float = 0.06
    one_time_share: float = 0.46
    rate_sigma: float = 1.0
    active_years_mean: float = 1.5
    max_orders: int = 600


@dataclass
class Customers:
    """Per-customer arrays (index = customer number - 1, in signup order)."""

    signup: np.ndarray  # tau
    channel: np.ndarray  # index into models.CHANNELS
    gender: np.ndarray  # 0 F, 1 M, -1 unknown
    favourite: np.ndarray  # index into CATEGORIES
    has_email: np.ndarray
    has_wecom: np.ndarray  # reachable on WeCom (added as a contact)
    opt_out: dict[str, np.ndarray]  # by contact channel
    first_order: np.ndarray  # tau, inf for customers who never order
    active_end: np.ndarray  # tau of the last possible order
    order_count: np.ndarray


def draw_customers(n: int, seed: int, cal: Calendar, model: OrderCountModel) -> Customers:
    """Attributes and order counts of `n` customers, numbered in signup order."""
    rng = random_stream(seed, 1)
    signup = np.sort(cal.sample_signups(rng.random(n)))
    channel = choice(rng, CHANNEL_WEIGHTS, n)
    gender = np.where(rng.random(n) < 0.62, 0, 1)
    gender[rng.random(n) < 0.04] = -1
    favourite = choice(rng, CATEGORY_SHARES, n)
    # Mothers lean to mother-and-baby, men to menswear.
    baby = (gender == 0) & (rng.random(n) < 0.25)
    favourite[baby] = np.where(rng.random(int(baby.sum())) < 0.6, 4, 5)
    menswear = (gender == 1) & (rng.random(n) < 0.15)
    favourite[menswear] = 8
    has_email = rng.random(n) < 0.38
    has_wecom = (channel == 2) | (rng.random(n) < 0.3)
    opt_out = {
        "sms": rng.random(n) < 0.04,
        "email": has_email & (rng.random(n) < 0.03),
        "wecom": has_wecom & (rng.random(n) < 0.02),
    }
    buyer_type = choice(
        rng,
        np.array(
            [
                model.never_buyer_share,
                model.one_time_share,
                1.0 - model.never_buyer_share - model.one_time_share,
            ]
        ),
        n,
    )
    delay = np.select(
        [channel == 1, channel == 2],
        [rng.uniform(0.002, 0.02, n), rng.exponential(2.0, n)],
        np.where(rng.random(n) < 0.35, rng.uniform(0.002, 0.03, n), rng.exponential(4.0, n)),
    )
    first_order = np.where(buyer_type > 0, signup + delay, np.inf)
    first_order[first_order >= cal.days] = np.inf
    buyer = np.isfinite(first_order)
    repeater = buyer & (buyer_type == 2)
    life = rng.exponential(model.active_years_mean * 365.0, n)
    active_end = np.where(repeater, np.minimum(first_order + life, cal.days), first_order)
    rate = rng.lognormal(0.0, model.rate_sigma, n)
    span_years = np.where(repeater, active_end - np.where(buyer, first_order, 0.0), 0.0) / 365.0
    weight = rate * span_years
    extra_target = max(model.mean_orders * n - buyer.sum(), 0.0)
    cap = model.max_orders - 1
    lo, hi = 0.0, 1.0
    while np.minimum(hi * weight, cap).sum() < extra_target and hi < 1e9:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if np.minimum(mid * weight, cap).sum() < extra_target:
            lo = mid
        else:
            hi = mid
    extra = np.minimum(rng.poisson(np.minimum(hi * weight, cap)), cap)
    order_count = np.where(buyer, 1 + extra, 0)
    return Customers(
        signup=signup,
        channel=channel,
        gender=gender,
        favourite=favourite,
        has_email=has_email,
        has_wecom=has_wecom,
        opt_out=opt_out,
        first_order=first_order,
        active_end=active_end,
        order_count=order_count,
    )


def customer_frame(
    people: Customers, seed: int, cal: Calendar, id_series: pd.Series
) -> pd.DataFrame:
    """The customers frame: names, phones, e-mails, birthdays, cities and opt-outs of
    `people`, with ids `id_series`."""
    n = len(people.signup)
    rng = random_stream(seed, 2)
    surname_weights = np.array([s[2] for s in SURNAMES])
    surname = choice(rng, surname_weights, n)
    female = people.gender == 0
    male = people.gender == 1
    unknown_female = (people.gender == -1) & (rng.random(n) < 0.6)
    use_female = female | unknown_female
    given_pool = np.where(use_female, 0, 1)
    g1 = rng.integers(0, len(FEMALE_GIVEN), n)
    g2 = rng.integers(0, len(FEMALE_GIVEN), n)
    two_chars = rng.random(n) < 0.65
    given_chars = [[c for c, _ in FEMALE_GIVEN], [c for c, _ in MALE_GIVEN]]
    given_pinyin = [[p for _, p in FEMALE_GIVEN], [p for _, p in MALE_GIVEN]]
    table_chars = np.array(given_chars, dtype=object)
    table_pinyin = np.array(given_pinyin, dtype=object)
    empty = pd.Series("", index=range(n), dtype=STR_DTYPE)
    first = pd.Series(table_chars[given_pool, g1], dtype=STR_DTYPE)
    second = pd.Series(table_chars[given_pool, g2], dtype=STR_DTYPE).where(two_chars, empty)
    name = strings(surname, [s[0] for s in SURNAMES]) + first + second

    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)]
    phone_number = prefix * 100_000_000 + rng.integers(0, 100_000_000, n)
    for _ in range(20):  # redraw the rare duplicates
        _, first_index = np.unique(phone_number, return_index=True)
        duplicate = np.ones(n, dtype=bool)
        duplicate[first_index] = False
        if not duplicate.any():
            break
        phone_number[duplicate] = prefix[duplicate] * 100_000_000 + rng.integers(
            0, 100_000_000, int(duplicate.sum())
        )
    phone = digits(phone_number, 11)

    domain = choice(rng, EMAIL_DOMAIN_WEIGHTS, n)
    qq_number = pd.Series(rng.integers(10_000, 3_999_999_999, n)).astype(STR_DTYPE)
    py_first = pd.Series(table_pinyin[given_pool, g1], dtype=STR_DTYPE)
    py_second = pd.Series(table_pinyin[given_pool, g2], dtype=STR_DTYPE).where(two_chars, empty)
    separator = strings(choice(rng, np.array([0.7, 0.2, 0.1]), n), ["", ".", "_"])
    suffix = pd.Series(rng.integers(1, 10_000, n)).astype(STR_DTYPE)
    suffix = suffix.where(rng.random(n) < 0.6, empty)
    pinyin_local = (
        strings(surname, [s[1] for s in SURNAMES]) + separator + py_first + py_second + suffix
    )
    local = qq_number.where(domain == 0, pinyin_local)
    email = local + "@" + strings(domain, list(EMAIL_DOMAINS))
    email = email.where(~email.duplicated(), local + id_series.str.slice(1) + "@" + "163.com")
    email = email.where(people.has_email, np.nan)

    age_years = rng.normal(np.where(male, 35.0, 33.0), 9.0)
    age_years = np.where(age_years < 18.0, rng.uniform(18.0, 25.0, n), age_years)
    age_years = np.where(age_years > 72.0, rng.uniform(60.0, 72.0, n), age_years)
    birth_day = np.datetime64(cal.end_date, "D") - np.round(age_years * 365.25).astype(
        "timedelta64[D]"
    )
    birthday = pd.Series(birth_day.astype("datetime64[us]"), dtype="datetime64[us]")
    birthday = birthday.where(rng.random(n) >= 0.1)

    city = choice(rng, np.array([c[2] for c in CITIES]), n)
    signup_seconds = cal.seconds(people.signup)
    return pd.DataFrame(
        {
            "customer_id": id_series,
            "name": name,
            "phone": phone,
            "email": email,
            "gender": strings(people.gender, ["F", "M"]),
            "birthday": birthday,
            "province": strings(city, [c[0] for c in CITIES]),
            "city": strings(city, [c[1] for c in CITIES]),
            "channel": strings(people.channel, list(models.CHANNELS)),
            "signup_at": cal.timestamps(signup_seconds),
            "opt_out_sms": people.opt_out["sms"],
            "opt_out_email": people.opt_out["email"],
            "opt_out_wecom": people.opt_out["wecom"],
            "is_placeholder": np.zeros(n, dtype=bool),
            "merged_into": pd.Series(np.nan, index=range(n), dtype=STR_DTYPE),
        }
    )
