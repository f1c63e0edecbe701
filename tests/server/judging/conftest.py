"""Every test here runs twice: on SQLite (the embedded default) and on PostgreSQL."""
from __future__ import annotations

from typing import Any

import pytest

from postgres import on_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, settings) -> dict[str, Any]:
    if request.param == "sqlite":
        return settings
    return on_postgres(settings, request.getfixturevalue("postgres_url"))
