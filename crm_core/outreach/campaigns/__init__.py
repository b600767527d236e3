"""Campaign results: who got what, who bought after it, what it earned, and whether it
caused anything (the holdout control group).

Definitions (the Campaigns page's help says the same):

- Reference time of a touch: its sent_at; for control rows and touches without sent_at,
  the campaign's started_at.
- Converter: a recipient with at least one paid order with ordered_at in
  [reference time, reference time + window), window in whole days (DEFAULT_WINDOW_DAYS,
  editable per campaign with `save_campaign_window` and per view). Revenue of an arm:
  the amounts of those orders. Orders after the as-of date are not seen.
- Attributed revenue (last touch, as Klaviyo reports it): paid orders carrying the
  campaign's campaign_id, plus paid orders without a campaign id whose customer's latest
  treated touch before the order (control rows were never sent) belongs to the campaign
  and has the order inside its window. Attributed ROI is written 1 : revenue / cost.
- Reported responses: touches an imported file marked as responded (e.g. iFood's
  Response). A campaign with no attributed orders whose file gave a revenue per response
  is measured on responders x that revenue instead (revenue_basis "responses").
- Incremental, from the holdout: uplift = conversion rate of the treated (all variants)
  minus that of the control (share points); incremental conversions = uplift x treated
  recipients; incremental revenue = (revenue per treated recipient - revenue per control
  recipient) x treated recipients; incremental margin = incremental revenue x gross
  margin rate (`gross_margin_rate`, default 30 %); incremental ROI = (incremental margin -
  cost) / cost. Each with a 95 % interval: the uplift's is the unpooled (Wald) interval,
  the revenue's Welch's; the others are those intervals scaled (a monotone transform).
- Verdict: no control group, or significant gain / loss (two-proportion z-test p < 0.05,
  by the sign of the uplift), else no detectable effect.

Modules: `settings` (window, margin rate), `results` (the campaign list), `report` (one
campaign, uplift by group), `setup` (a campaign from a download). Callers import from
`crm_core.outreach.campaigns`. The statistics are in `crm_core.outreach.experiments`.
"""

from __future__ import annotations

from crm_core.outreach.campaigns.report import (
    ARM_COLUMNS,
    COMPARISON_COLUMNS,
    FUNNEL_STEPS,
    GROUP_COLUMNS,
    RECIPIENT_COLUMNS,
    CampaignReport,
    arms_from_recipients,
    campaign_recipients,
    campaign_record,
    campaign_report,
    compare_arms,
    cumulative_conversion,
    funnel,
    planned_control_share,
    recipient_groups,
    responding_segments,
    segment_facts_date,
    uplift_by_group,
)
from crm_core.outreach.campaigns.results import (
    AGGREGATES_KEPT,
    AGGREGATES_KEY,
    ARM_COUNT_COLUMNS,
    ARM_RESULT_COLUMNS,
    CAMPAIGN_COLUMNS,
    REVENUE_FROM_ORDERS,
    REVENUE_FROM_RESPONSES,
    SUMMARY_COLUMNS,
    WARM_UP_TOUCHES,
    Incremental,
    Interval,
    arm_results,
    arm_totals,
    attributed_revenue,
    campaign_revenue,
    campaign_summary,
    filter_summary,
    incremental_figures,
    incremental_from_totals,
    list_campaigns,
    reference_time,
    roi_ratio,
    stored_aggregates,
    verdict,
    warm_up_aggregates,
    with_rates,
)
from crm_core.outreach.campaigns.settings import (
    ALPHA,
    CAMPAIGN_EDITS_KEY,
    CAMPAIGN_WINDOWS_KEY,
    CHANNELS,
    CONTROL,
    DEFAULT_GROSS_MARGIN,
    DEFAULT_WINDOW_DAYS,
    GROSS_MARGIN_KEY,
    MAX_WINDOW_DAYS,
    MIN_GROUP_PER_ARM,
    PRE_PERIOD_DAYS,
    VERDICT_GAIN,
    VERDICT_LOSS,
    VERDICT_NO_CONTROL,
    VERDICT_NONE,
    VERDICTS,
    campaign_windows,
    check_margin_rate,
    check_window,
    gross_margin_rate,
    save_campaign_window,
    save_gross_margin_rate,
    window_of,
)
from crm_core.outreach.campaigns.setup import (
    CAMPAIGN_ID_MAX,
    NAME_MAX,
    create_campaign_from_export,
    export_campaign,
    set_campaign_cost,
)

__all__ = [
    "AGGREGATES_KEPT",
    "AGGREGATES_KEY",
    "ALPHA",
    "ARM_COLUMNS",
    "ARM_COUNT_COLUMNS",
    "ARM_RESULT_COLUMNS",
    "CAMPAIGN_COLUMNS",
    "CAMPAIGN_EDITS_KEY",
    "CAMPAIGN_ID_MAX",
    "CAMPAIGN_WINDOWS_KEY",
    "CHANNELS",
    "COMPARISON_COLUMNS",
    "CONTROL",
    "DEFAULT_GROSS_MARGIN",
    "DEFAULT_WINDOW_DAYS",
    "FUNNEL_STEPS",
    "GROSS_MARGIN_KEY",
    "GROUP_COLUMNS",
    "MAX_WINDOW_DAYS",
    "MIN_GROUP_PER_ARM",
    "NAME_MAX",
    "PRE_PERIOD_DAYS",
    "RECIPIENT_COLUMNS",
    "REVENUE_FROM_ORDERS",
    "REVENUE_FROM_RESPONSES",
    "SUMMARY_COLUMNS",
    "VERDICTS",
    "VERDICT_GAIN",
    "VERDICT_LOSS",
    "VERDICT_NONE",
    "VERDICT_NO_CONTROL",
    "WARM_UP_TOUCHES",
    "CampaignReport",
    "Incremental",
    "Interval",
    "arm_results",
    "arm_totals",
    "arms_from_recipients",
    "attributed_revenue",
    "campaign_recipients",
    "campaign_record",
    "campaign_report",
    "campaign_revenue",
    "campaign_summary",
    "campaign_windows",
    "check_margin_rate",
    "check_window",
    "compare_arms",
    "create_campaign_from_export",
    "cumulative_conversion",
    "export_campaign",
    "filter_summary",
    "funnel",
    "gross_margin_rate",
    "incremental_figures",
    "incremental_from_totals",
    "list_campaigns",
    "planned_control_share",
    "recipient_groups",
    "reference_time",
    "responding_segments",
    "roi_ratio",
    "save_campaign_window",
    "save_gross_margin_rate",
    "segment_facts_date",
    "set_campaign_cost",
    "stored_aggregates",
    "uplift_by_group",
    "verdict",
    "warm_up_aggregates",
    "window_of",
    "with_rates",
]
