"""How the embedded PostgreSQL copes with running as root (no server started)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from waasp.embedded import EmbeddedServerError, postgres


@pytest.fixture(autouse=True)
def fresh_prefix_cache() -> Iterator[None]:
    """Forget the cached answer before and after, so no test sees another's."""
    postgres.unprivileged_prefix.cache_clear()
    yield
    postgres.unprivileged_prefix.cache_clear()


def test_non_root_runs_postgres_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ordinary user needs no wrapper."""
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert postgres.unprivileged_prefix() == ()


def test_root_without_user_namespaces_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """As root with no way into a user namespace, the error says what to do instead."""
    monkeypatch.setattr("os.geteuid", lambda: 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(EmbeddedServerError, match="WAASP_DATABASE_URL"):
        postgres.unprivileged_prefix()
