"""Landing: `<landing>/<source>/<period>/<any name>.<csv|xlsx|xls|dbf|parquet>` -> schema `raw`.

The package by responsibility: `discovery` (find deliveries, tell changed ones), `read` (one
file as text), `stage` (a delivery's files into one staging table), `parse` (SQL that types,
hashes and judges the values), `deliver` (one delivery replaced atomically; `land`, the entry
point), `schema` (the raw tables), `report` (what happened).

The layout of what this writes is fixed in docs/architecture.md ("Raw schema"); the columns come
from `contract.raw_columns`. Everything row-level happens inside DuckDB, set-based:

1. each file is read as text (every column VARCHAR) into a temporary table whose rowid follows
   the file order, and its physical line numbers are computed there (`stage`).
   CSV files with the same header are read together, one multi-file read per batch
   (`stage_batch`, GB18030 ones transcoded first): DuckDB's start-up cost per read is most of
   the time of a small file, and a province delivers thousands. Files with malformed rows,
   empty lines or newlines inside values are left to the per-file path;
2. the rows of one delivery (source x period) -- the per-file rows stacked in one table, each
   batch's rows read where they were staged -- are de-duplicated by one GROUP BY over every
   contract column (first file, line wins);
3. one SELECT trims and parses every column once (try_strptime / TRY_CAST / IN-list) and builds
   the quarantine reason; the inserts hash identifiers with HMAC-SHA-256 written in SQL and
   check the GB 11643 check digit;
4. the old delivery is deleted and the new one inserted in one transaction, with one
   raw.load_audit row per file and the delivery's fingerprint in raw.deliveries.

CSV dialect: RFC 4180 quoting; the delimiter (, ; tab |) is taken from the header line and given
to DuckDB, as are quote and escape, so its reader does not sniff each file (see csv_delimiter).
GB18030/GBK CSV files are transcoded to UTF-8 in Python (streamed, 8 MB chunks) before DuckDB
reads them: DuckDB 1.4.4's `read_csv(encoding='GB18030')` silently corrupts a multi-byte
character that straddles its internal buffer boundary (duckdb/duckdb-encodings#19, fixed
upstream by duckdb/duckdb#25100) -- reproduced here on a 1M-row file.
"""

from orchestration.land.deliver import land
from orchestration.land.discovery import (
    FORMATS,
    LOADER_VERSION,
    Delivery,
    discover,
    file_digest,
    file_signature,
    fingerprint,
)
from orchestration.land.parse import (
    DATE_FORMATS,
    TIMESTAMP_FORMATS,
    gb11643_sql,
    hmac_sql,
    identifier_sql,
    strptime_sql,
    trimmed_sql,
)
from orchestration.land.read import (
    csv_delimiter,
    header_line,
    sniff_encoding,
    transcode_to_utf8,
)
from orchestration.land.report import (
    DeliveryResult,
    FileRejected,
    FileResult,
    LandingError,
    LandingReport,
)
from orchestration.land.schema import AUDIT_COLUMNS, create_raw_schema

__all__ = [
    "AUDIT_COLUMNS", "DATE_FORMATS", "FORMATS", "LOADER_VERSION", "TIMESTAMP_FORMATS", "Delivery",
    "DeliveryResult", "FileRejected", "FileResult", "LandingError", "LandingReport",
    "create_raw_schema", "csv_delimiter", "discover", "file_digest", "file_signature",
    "fingerprint", "gb11643_sql", "header_line", "hmac_sql", "identifier_sql", "land",
    "sniff_encoding", "strptime_sql", "transcode_to_utf8", "trimmed_sql",
]  # fmt: skip
