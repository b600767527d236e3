"""Upload: read a file -> map its columns -> validate its values -> load it.

    table = read_file("orders.csv")                       # CSV/XLSX, encoding detected
    mapping = suggest_mapping(table.frame, "orders")      # editable {column: field}
    checked = validate(table.frame, "orders", mapping, ImportOptions(day_first=True),
                       bad_lines=table.bad_lines)         # good rows + rejects
    result = load(engine, checked, table_read=table)      # one transaction, upsert

or all at once: `import_file(engine, "orders.csv", "orders")`.
"""

from crm_core.ingest.duplicates import (
    duplicates_shown_to,
    likely_duplicate_customers,
    merge_customers,
)
from crm_core.ingest.entities import ENTITIES, ENTITY_NAMES, EntitySpec, Field, entity_spec
from crm_core.ingest.history import import_history, import_rejects, rejects_csv
from crm_core.ingest.load import ImportResult, TableCounts, import_file, load, upsert
from crm_core.ingest.mapping import (
    check_mapping,
    find_template,
    list_templates,
    load_mapping_file,
    save_template,
    suggest_mapping,
)
from crm_core.ingest.read import TableRead, read_file, read_table, sheet_names
from crm_core.ingest.validate import REASONS, ImportOptions, Validated, derive_ids, validate

__all__ = [
    "ENTITIES",
    "ENTITY_NAMES",
    "REASONS",
    "EntitySpec",
    "Field",
    "ImportOptions",
    "ImportResult",
    "TableCounts",
    "TableRead",
    "Validated",
    "check_mapping",
    "derive_ids",
    "duplicates_shown_to",
    "entity_spec",
    "find_template",
    "import_file",
    "import_history",
    "import_rejects",
    "likely_duplicate_customers",
    "list_templates",
    "load",
    "load_mapping_file",
    "merge_customers",
    "read_file",
    "read_table",
    "rejects_csv",
    "save_template",
    "sheet_names",
    "suggest_mapping",
    "upsert",
    "validate",
]
