"""The store's tables (SQLAlchemy 2.x declarative).

Natural keys from the shop's own systems (customer_id, order_id, ticket_id, ...) are the
primary keys, so an upload can upsert by them and a re-upload changes nothing.
Money is NUMERIC(14,2) in the shop's currency; timestamps are the shop's local time
(naive). Use the `Table` objects exported at the bottom for Core statements.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(14, 2)

ShopId = String(64).with_variant(String(64, collation="C"), "postgresql")
"""An id from the shop's systems (customer, order, event, ticket, campaign, response).
Compared and sorted byte by byte on both databases: SQLite always does, and PostgreSQL's
"C" collation does too, where the server's locale collation (e.g. en_US.UTF-8 or
C.UTF-8) builds an index of 10M order ids about 1.7x slower. Every id column has it, so
ids sort the same on both databases and a join of two id columns compares them in the
collation their indexes are built in."""

ORDER_STATUSES = ("paid", "unpaid", "cancelled", "refunded")
CHANNELS = ("online", "store", "wecom")
CONTACT_CHANNELS = ("sms", "email", "wecom")
EVENT_TYPES = ("browse", "cart", "favourite")
TICKET_TYPES = ("logistics", "quality", "return", "consultation")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
ROLES = ("admin", "analyst", "viewer")
FIRST_VARIANT = "A"  # the variant a treated touch gets when the file names none
CONTROL_VARIANT = "control"  # the variant of a holdout (is_control) touch


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Customer(Base):
    """A shop customer. phone and email are personal data (masked by role)."""

    __tablename__ = "customers"

    customer_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    gender: Mapped[str | None] = mapped_column(String(8))
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    province: Mapped[str | None] = mapped_column(String(32))
    city: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))  # online / store / wecom
    signup_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    opt_out_sms: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    opt_out_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    opt_out_wecom: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    is_placeholder: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default="0"
    )  # created from an order of an unknown customer
    merged_into: Mapped[str | None] = mapped_column(ShopId)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)


class Order(Base):
    """An order. status is one of ORDER_STATUSES.

    A purchase is an order with status 'paid'. A row with status 'refunded' records money
    given back to the customer (amount > 0, dated ordered_at = when the refund was
    recorded, refund_of = the paid order it reverses when known); it reduces the
    customer's net value and is not a purchase.
    """

    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", onupdate="CASCADE"), nullable=False
    )
    ordered_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str | None] = mapped_column(String(16))
    discount: Mapped[Decimal] = mapped_column(Money, default=0, server_default="0")
    category: Mapped[str | None] = mapped_column(String(64))
    paid_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    refund_of: Mapped[str | None] = mapped_column(ShopId)
    campaign_id: Mapped[str | None] = mapped_column(ShopId)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        Index("ix_orders_customer_status_time", "customer_id", "status", "ordered_at", "amount"),
        # date-range aggregates (period KPIs, monthly revenue) read this index alone. With
        # a plain index on ordered_at, 10M orders stored in no time order (PostgreSQL):
        # monthly revenue over 24 months 14.9 s instead of 1.9 s, new versus returning
        # customers 31.5 s instead of 5.2 s; building it takes about 6 s (after a first
        # import's commit, in the background: bulk.bulk_transaction).
        Index("ix_orders_time_status_customer", "ordered_at", "status", "customer_id", "amount"),
        # the few orders that carry a campaign id: attributed revenue per campaign
        Index(
            "ix_orders_campaign",
            "campaign_id",
            "status",
            "amount",
            sqlite_where=text("campaign_id IS NOT NULL"),
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
    )


class OrderLine(Base):
    """One line of an order (line-level exports); amount = quantity * unit_price."""

    __tablename__ = "order_lines"

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.order_id", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(64))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3), nullable=False)
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)


class Event(Base):
    """A behaviour event: browse, cart or favourite."""

    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", onupdate="CASCADE"), nullable=False
    )
    event_type: Mapped[str] = mapped_column(String(16), nullable=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    category: Mapped[str | None] = mapped_column(String(64))
    sku: Mapped[str | None] = mapped_column(String(64))
    import_batch_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # covering for per-customer event counts in a time range (customer_features)
        Index("ix_events_customer_time_type", "customer_id", "occurred_at", "event_type"),
    )


class Ticket(Base):
    """A service ticket. csat is 1-5 (None when not rated); times in shop local time."""

    __tablename__ = "tickets"

    ticket_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", onupdate="CASCADE"), nullable=False
    )
    ticket_type: Mapped[str] = mapped_column(String(16), nullable=False)
    priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    channel: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    is_complaint: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    order_id: Mapped[str | None] = mapped_column(ShopId)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(16))  # TICKET_STATUSES
    agent: Mapped[str | None] = mapped_column(String(64))  # who handled it
    reason: Mapped[str | None] = mapped_column(String(255))  # e.g. a return reason

    __table_args__ = (Index("ix_tickets_customer_time", "customer_id", "created_at"),)


class Campaign(Base):
    """A marketing campaign on one channel; cost is the total spend in shop currency."""

    __tablename__ = "campaigns"

    campaign_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)  # sms / email / wecom
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cost: Mapped[Decimal] = mapped_column(Money, default=0, server_default="0")
    cost_per_contact: Mapped[Decimal | None] = mapped_column(Money)
    revenue_per_response: Mapped[Decimal | None] = mapped_column(Money)
    description: Mapped[str | None] = mapped_column(Text)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)
    export_id: Mapped[int | None] = mapped_column(Integer)  # the list it was created from

    __table_args__ = (Index("ix_campaigns_export", "export_id", unique=True),)


class CampaignTouch(Base):
    """One customer in one campaign: the variant sent ('A', 'B', ...) or 'control' for
    the holdout group (is_control, never sent); sent/opened/clicked times when known."""

    __tablename__ = "campaign_touches"

    campaign_id: Mapped[str] = mapped_column(
        ForeignKey("campaigns.campaign_id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", onupdate="CASCADE"), primary_key=True
    )
    variant: Mapped[str] = mapped_column(
        String(16), default=FIRST_VARIANT, server_default=FIRST_VARIANT
    )
    is_control: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    clicked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    responded: Mapped[bool | None] = mapped_column(Boolean)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_campaign_touches_customer_sent", "customer_id", "sent_at"),)


class SurveyResponse(Base):
    """A survey answer: nps is 0-10 (likelihood to recommend), csat 1-5; either may be None."""

    __tablename__ = "survey_responses"

    response_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_id", onupdate="CASCADE"), nullable=False
    )
    responded_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    nps: Mapped[int | None] = mapped_column(SmallInteger)
    csat: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    import_batch_id: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (Index("ix_survey_responses_customer_time", "customer_id", "responded_at"),)


class SegmentScheme(Base):
    """One saved version of a segment scheme: ordered rules as JSON (see segments.py)."""

    __tablename__ = "segment_schemes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    definition: Mapped[dict] = mapped_column(JSON, nullable=False)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("name", "version"),)


class Export(Base):
    """A downloaded target list: who, when, what, and (in export_members) exactly whom."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    as_of: Mapped[dt.date] = mapped_column(Date, nullable=False)
    scheme_id: Mapped[int | None] = mapped_column(ForeignKey("segment_schemes.id"))
    channel: Mapped[str | None] = mapped_column(String(16))
    filters: Mapped[dict] = mapped_column(JSON, nullable=False)
    policy: Mapped[dict] = mapped_column(JSON, nullable=False)
    columns: Mapped[list] = mapped_column(JSON, nullable=False)
    file_format: Mapped[str] = mapped_column(String(8), nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    is_marketing: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")


class ExportMember(Base):
    __tablename__ = "export_members"

    export_id: Mapped[int] = mapped_column(
        ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    """Held out as control: not in the file, not contacted."""

    __table_args__ = (Index("ix_export_members_customer", "customer_id"),)


class PredictionRun(Base):
    """One fit of the prediction models (see crm_core.predict.runs): the day it scores,
    the churn horizon, the data it saw, the fitted parameters and backtest, who ran it."""

    __tablename__ = "prediction_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_by: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    as_of: Mapped[dt.date] = mapped_column(Date, nullable=False)
    horizon_days: Mapped[int] = mapped_column(Integer, nullable=False)
    data_version: Mapped[str | None] = mapped_column(String(64))
    customers: Mapped[int] = mapped_column(Integer, nullable=False)  # customers scored
    orders: Mapped[int] = mapped_column(Integer, nullable=False)  # paid orders read
    churn_scorer: Mapped[str] = mapped_column(String(16), nullable=False)  # model / recency
    details: Mapped[dict] = mapped_column(JSON, nullable=False)  # parameters, backtest


class CustomerPrediction(Base):
    """A customer's scores from one prediction run."""

    __tablename__ = "customer_predictions"

    run_id: Mapped[int] = mapped_column(
        ForeignKey("prediction_runs.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(ShopId, primary_key=True)
    probability_alive: Mapped[float | None] = mapped_column(Float)
    purchases_30d: Mapped[float | None] = mapped_column(Float)
    purchases_90d: Mapped[float | None] = mapped_column(Float)
    purchases_365d: Mapped[float | None] = mapped_column(Float)
    next_order_date: Mapped[dt.date | None] = mapped_column(Date)
    expected_order_value: Mapped[float | None] = mapped_column(Float)
    clv_12m: Mapped[float | None] = mapped_column(Float)
    churn_risk: Mapped[float | None] = mapped_column(Float)
    churn_drivers: Mapped[str | None] = mapped_column(String(255))


class ImportBatch(Base):
    """One upload: file, entity, outcome counts, who and when."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    file_name: Mapped[str] = mapped_column(String(255), nullable=False)
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    rows_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    accepted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    inserted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    customers_created: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    mapping: Mapped[dict | None] = mapped_column(JSON)
    # a re-upload that changed nothing: the batch whose stored rejects are this one's
    rejects_of: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)


class ImportReject(Base):
    """A row of an upload that could not be used, with its reason (kept for download)."""

    __tablename__ = "import_rejects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), nullable=False, index=True
    )
    row_number: Mapped[int] = mapped_column(Integer, nullable=False)  # file line / sheet row
    column_name: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(64), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict] = mapped_column(JSON, nullable=False)


class MappingTemplate(Base):
    """A saved column mapping for one source and entity, reused on the next upload."""

    __tablename__ = "mapping_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    entity: Mapped[str] = mapped_column(String(32), nullable=False)
    mapping: Mapped[dict] = mapped_column(JSON, nullable=False)
    options: Mapped[dict | None] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)

    __table_args__ = (UniqueConstraint("name", "entity"),)


class User(Base):
    """A person who signs in. role is one of ROLES; password_hash is argon2."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class SignInAttempt(Base):
    """One try to sign in: when, the username typed (normalised, cut to 64 characters),
    the client (IP address, or 'local'), and its outcome: ok, failed, locked (the
    failure that locked the account or the client) or refused (tried while locked)."""

    __tablename__ = "sign_in_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    client: Mapped[str] = mapped_column(String(64), nullable=False)
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    locks: Mapped[str | None] = mapped_column(String(16))  # account / client, when locked

    __table_args__ = (
        Index("ix_sign_in_attempts_username_at", "username", "at"),
        Index("ix_sign_in_attempts_client_at", "client", "at"),
    )


class UserSession(Base):
    """A browser session started by a sign-in (crm_core.sessions): the SHA-256 of its
    id (the browser holds the id, signed), whose it is, when it started and expires, and
    when it ended (sign-out, deactivation, new password)."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False)
    client: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_user_sessions_username", "username"),)


class StoredFrame(Base):
    """A frame computed from the store and kept for the data version it was computed at
    (crm_core.store.frames): its name, key (version and parameters), rows and Parquet
    bytes."""

    __tablename__ = "stored_frames"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    key: Mapped[str] = mapped_column(String(512), nullable=False)
    data_version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    row_count: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)

    __table_args__ = (UniqueConstraint("name", "key", name="uq_stored_frames_name_key"),)


class Setting(Base):
    """A key/value setting of the store (data version, contact policy, ...); value is text
    (JSON for structured values)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)


metadata = Base.metadata
customers = Customer.__table__
orders = Order.__table__
order_lines = OrderLine.__table__
events = Event.__table__
tickets = Ticket.__table__
campaigns = Campaign.__table__
campaign_touches = CampaignTouch.__table__
survey_responses = SurveyResponse.__table__
segment_schemes = SegmentScheme.__table__
exports = Export.__table__
export_members = ExportMember.__table__
import_batches = ImportBatch.__table__
import_rejects = ImportReject.__table__
mapping_templates = MappingTemplate.__table__
users = User.__table__
sign_in_attempts = SignInAttempt.__table__
user_sessions = UserSession.__table__
stored_frames = StoredFrame.__table__
settings = Setting.__table__
prediction_runs = PredictionRun.__table__
customer_predictions = CustomerPrediction.__table__
