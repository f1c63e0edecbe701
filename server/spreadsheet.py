"""CSV for spreadsheets: the one writer of every CSV download (exports, study results).

Text a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) gets a leading quote: CSV injection.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_CHARS = 64 * 1024


def spreadsheet_safe(value: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(columns: list[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A header and the rows, made safe, in chunks of about 64 kB for streaming."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
        if buffer.tell() > CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
