"""The moderators' and researchers' export: games, messages, verdicts and reports.

Off unless ADMIN_TOKEN is set (there is no default); the caller sends it as
`Authorization: Bearer <token>`, compared in constant time.

- `/api/admin/export`: everything as one JSON document, each game with its messages
  and verdicts nested.
- `/api/admin/export/<table>.<csv|json>`: one table (games, messages, verdicts,
  reports), one row per record, streamed, for spreadsheets and pandas. Text that a
  spreadsheet would run as a formula (starting with = + - @) gets a leading quote.
"""
from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine, Table, select

from ..extensions import db
from ..models import Game, Message, Report, Verdict
from ..spreadsheet import csv_chunks

bp = Blueprint("admin", __name__, url_prefix="/api/admin")
TABLES = {"games": Game, "messages": Message, "verdicts": Verdict, "reports": Report}


@bp.before_request
def require_token() -> None:
    token = current_app.config["ADMIN_TOKEN"]
    if not token:
        abort(404)  # no token configured: the export does not exist
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        abort(401)


@bp.get("/export")
def export() -> ResponseReturnValue:
    """Every game with its messages and verdicts, and all reports, as one JSON document."""
    games = db.session.scalars(select(Game).order_by(Game.id)).all()
    reports = db.session.scalars(select(Report).order_by(Report.id)).all()
    return jsonify(games=[g.to_dict(with_messages=True) for g in games],
                   reports=[r.to_dict() for r in reports])


@bp.get("/export/<table>.<fmt>")
def export_table(table: str, fmt: str) -> ResponseReturnValue:
    """One table, a row per record, as CSV or a JSON array."""
    model = TABLES.get(table)
    if model is None or fmt not in ("csv", "json"):
        abort(404, description=f"Export one of {', '.join(TABLES)} as .csv or .json.")
    columns = [c.name for c in model.__table__.columns]
    rows = _rows(db.engine, model.__table__)
    body = csv_chunks(columns, rows) if fmt == "csv" else _json(rows)
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={table}.{fmt}"})


def _rows(engine: Engine, table: Table) -> Iterator[dict[str, Any]]:
    """The table's rows, oldest first, read in chunks on a connection of their own (the
    response streams after the request's session is gone); times in ISO 8601 UTC."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=500).execute(select(table).order_by(table.c.id))
        for row in result.mappings():
            yield {k: v.isoformat() + "Z" if isinstance(v, datetime) else v for k, v in row.items()}


def _json(rows: Iterator[dict]) -> Iterator[str]:
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps(row, ensure_ascii=False)
    yield "]\n"
