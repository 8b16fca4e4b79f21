"""The decision table, the SQL generated from it, the token file, the OpenAPI document."""

from __future__ import annotations

import stat
from pathlib import Path

from waasp.api.openapi import OPENAPI
from waasp.api.routes import ROUTES
from waasp.db.repositories.contacts import CHECK_SQL
from waasp.models import DECISIONS, AuditAction, TrustLevel, decide
from waasp.token import load_or_create_token, obtain_token


def test_decision_table() -> None:
    """sovereign/trusted allowed, limited allowed as limited, blocked and unknown refused."""
    assert decide(TrustLevel.SOVEREIGN).allowed and decide(TrustLevel.TRUSTED).allowed
    assert decide(TrustLevel.LIMITED).allowed
    assert decide(TrustLevel.LIMITED).action is AuditAction.LIMITED
    assert not decide(TrustLevel.BLOCKED).allowed
    assert decide(None).action is AuditAction.BLOCKED and not decide(None).allowed
    assert set(DECISIONS) == {*TrustLevel, None}


def test_check_sql_covers_every_decision() -> None:
    """The check SQL embeds every trust level's action and reason (one source of truth)."""
    for level, decision in DECISIONS.items():
        if level is not None:
            assert f"WHEN '{level.value}' THEN '{decision.action.value}'" in CHECK_SQL
        assert f"'{decision.reason}'" in CHECK_SQL


def test_token_created_once_with_mode_0600(tmp_path: Path) -> None:
    """The first call creates a 0600 token file; later calls read the same token."""
    data_dir = tmp_path / "data"
    token, created = obtain_token(data_dir)
    assert created and len(token) >= 32
    assert stat.S_IMODE((data_dir / "api_token").stat().st_mode) == 0o600
    assert obtain_token(data_dir) == (token, False)
    assert load_or_create_token(data_dir) == token


def test_openapi_lists_every_route() -> None:
    """Every route of the table is described in the OpenAPI document, method included."""
    for path, methods in ROUTES.items():
        described = OPENAPI["paths"][path]
        assert {m.lower() for m in methods} <= set(described)
