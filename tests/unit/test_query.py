"""Query parameters: read from the OpenAPI document, unknown and repeated ones refused — no
I/O."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from waasp.api.openapi import OPENAPI
from waasp.api.query import QUERY_PARAMETERS, check_query, documented_query
from waasp.api.routes import ROUTES
from waasp.runtime.dashboard import MONITOR_ROUTES, HttpError
from waasp.runtime.dashboard import QUERY_PARAMETERS as RUNTIME_QUERY


def test_every_route_is_documented() -> None:
    """Each (path, method) of the route table has an operation in the OpenAPI document, so
    its query parameters are known (an undocumented route would take none)."""
    missing = [
        (path, method)
        for path, methods in ROUTES.items()
        for method in methods
        if (path, method) not in QUERY_PARAMETERS
    ]
    assert not missing


def test_documented_query_reads_path_and_operation_parameters() -> None:
    """Path-level and operation-level query parameters both count; path parameters do not."""
    found = documented_query(OPENAPI)
    assert found[("/api/v1/check/{sender_id}", "GET")] == {"channel"}
    assert found[("/api/v1/contacts/{sender_id}", "DELETE")] == {"channel"}
    audit = {"sender_id", "action", "channel", "since", "limit", "offset"}
    assert found[("/api/v1/audit", "GET")] == audit
    contacts = {"trust_level", "channel", "search", "limit", "offset"}
    assert found[("/api/v1/contacts", "GET")] == contacts
    assert found[("/api/v1/check", "POST")] == frozenset()


def test_a_typo_is_refused_naming_it() -> None:
    """`chanel` for `channel` is a 400 naming the typo and listing what is allowed."""
    with pytest.raises(HttpError) as caught:
        check_query(MultiDict(chanel="email"), frozenset({"channel"}))
    assert caught.value.status == 400
    assert caught.value.details == {
        "field": "chanel",
        "unknown": ["chanel"],
        "allowed": ["channel"],
    }


def test_every_unknown_parameter_is_named() -> None:
    """Several unknown parameters are all named, sorted."""
    with pytest.raises(HttpError) as caught:
        check_query(MultiDict([("trust", "x"), ("limit", "1"), ("channel", "")]), frozenset())
    assert caught.value.details["unknown"] == ["channel", "limit", "trust"]


def test_a_repeated_parameter_is_refused() -> None:
    """`?channel=a&channel=b` is ambiguous, so a 400 naming channel."""
    with pytest.raises(HttpError, match="at most once") as caught:
        check_query(MultiDict([("channel", "a"), ("channel", "b")]), frozenset({"channel"}))
    assert caught.value.status == 400 and caught.value.details["field"] == "channel"


def test_known_parameters_pass() -> None:
    """Documented parameters, each once, pass."""
    check_query(MultiDict(channel="sms", limit="5"), frozenset({"channel", "limit"}))


def test_the_standalone_dashboard_takes_the_documented_parameters() -> None:
    """The runtime's dashboard refuses unknown parameters from its own table; it names, per
    monitoring route, exactly what the WAASP API's OpenAPI document does."""
    for path, methods in MONITOR_ROUTES.items():
        for method in methods:
            runtime_side = RUNTIME_QUERY.get(path, frozenset())
            assert runtime_side == QUERY_PARAMETERS[(path, method)], (path, method)
