"""Audiences: target lists built from segments, tags and filters; the contact policy
applied to them; their downloads and the record of every download.

- `facts`: `AudienceFacts`, what an audience is evaluated on, one row per customer
  (`audience_facts` assembles them, `load_audience_facts` reads them from the store);
- `selection`: the `Audience` definition, `select_members`, `audience_size`;
- `contacts`: marketing contacts per customer read from the store (the frequency cap's
  input) and `preview_audience`, an audience with the contact policy applied (the rules
  are `crm_core.outreach.policy`, re-exported here);
- `files`: a download's columns and bytes (CSV with a BOM, or XLSX; masked, formulas
  neutralised);
- `downloads`: `export_audience` / `export_trigger` write the file and record the export
  in one transaction;
- `records`: the export records and `redownload_export`.

Callers import from `crm_core.outreach.audiences`; the modules behind it may move.
"""

from __future__ import annotations

from crm_core.outreach.audiences.contacts import (
    contact_counts,
    contacts_statement,
    export_marker,
    list_signature,
    preview_audience,
    recent_contacts,
    same_list_exports,
)
from crm_core.outreach.audiences.downloads import (
    FOR_REVIEW,
    FOR_SENDING,
    MAX_HOLDOUT_SHARE,
    PURPOSES,
    Holdout,
    audience_filters,
    check_holdout_share,
    draw_holdout,
    earlier_trigger_exports,
    export_audience,
    export_list,
    export_trigger,
    record_export,
)
from crm_core.outreach.audiences.facts import (
    AudienceFacts,
    SegmentAssignment,
    assign_all_customers,
    audience_facts,
    load_audience_facts,
    scheme_by_id,
    valid_emails,
    valid_mobiles,
)
from crm_core.outreach.audiences.files import (
    DEFAULT_EXPORT_COLUMNS,
    EXPORT_COLUMNS,
    FILE_FORMATS,
    PREDICTION_EXPORT_COLUMNS,
    ExportedFile,
    check_columns,
    check_format,
    column_header,
    export_frame,
    render_file,
    segment_action,
)
from crm_core.outreach.audiences.records import (
    EXPORT_LIST_COLUMNS,
    ExportRecord,
    export_details,
    export_member_ids,
    export_record,
    exports_table,
    list_exports,
    record_scheme,
    record_window,
    redownload_export,
)
from crm_core.outreach.audiences.selection import (
    RANGE_FIELDS,
    TAG_MODES,
    Audience,
    AudienceSize,
    audience_file_stem,
    audience_size,
    select_members,
)
from crm_core.outreach.policy import (
    PolicyResult,
    apply_policy,
    channel_label,
    exclusion_summary,
    exclusion_table,
)
from crm_core.outreach.triggers import TRIGGER_EXTRA_COLUMNS, trigger_extra

__all__ = [
    "DEFAULT_EXPORT_COLUMNS",
    "EXPORT_COLUMNS",
    "EXPORT_LIST_COLUMNS",
    "FILE_FORMATS",
    "FOR_REVIEW",
    "FOR_SENDING",
    "MAX_HOLDOUT_SHARE",
    "PREDICTION_EXPORT_COLUMNS",
    "PURPOSES",
    "RANGE_FIELDS",
    "TAG_MODES",
    "TRIGGER_EXTRA_COLUMNS",
    "Audience",
    "AudienceFacts",
    "AudienceSize",
    "ExportRecord",
    "ExportedFile",
    "Holdout",
    "PolicyResult",
    "SegmentAssignment",
    "apply_policy",
    "assign_all_customers",
    "audience_facts",
    "audience_file_stem",
    "audience_filters",
    "audience_size",
    "channel_label",
    "check_columns",
    "check_format",
    "check_holdout_share",
    "column_header",
    "contact_counts",
    "contacts_statement",
    "draw_holdout",
    "earlier_trigger_exports",
    "exclusion_summary",
    "exclusion_table",
    "export_audience",
    "export_details",
    "export_frame",
    "export_list",
    "export_marker",
    "export_member_ids",
    "export_record",
    "export_trigger",
    "exports_table",
    "list_exports",
    "list_signature",
    "load_audience_facts",
    "preview_audience",
    "recent_contacts",
    "record_export",
    "record_scheme",
    "record_window",
    "redownload_export",
    "render_file",
    "same_list_exports",
    "scheme_by_id",
    "segment_action",
    "select_members",
    "trigger_extra",
    "valid_emails",
    "valid_mobiles",
]
