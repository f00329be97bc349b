"""Every store Protocol in ``collector.store.base`` is implemented by every backend (SQLite, PostgreSQL).

The Protocols are found by walking the module, so a Protocol added later is checked
without touching this file; the backends are those of the ``store`` fixture
(``tests/stores.py``: ``BACKENDS``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from collector.store import base

pytestmark = pytest.mark.every_backend


def _protocols() -> dict[str, type[Any]]:
    """The Protocol classes defined in ``store.base`` (not the ones it imports)."""
    return {
        name: obj
        for name, obj in vars(base).items()
        if inspect.isclass(obj) and getattr(obj, "_is_protocol", False) and obj.__module__ == base.__name__
    }


def _members(protocol: type[Any]) -> dict[str, Any]:
    """What a Protocol (and the Protocols it extends) asks for: name → its declaration."""
    members: dict[str, Any] = {}
    for klass in reversed(protocol.__mro__):
        if not getattr(klass, "_is_protocol", False) or klass.__module__ == "typing":
            continue
        members.update({name: None for name in getattr(klass, "__annotations__", {})})
        members.update(
            {name: value for name, value in vars(klass).items() if not name.startswith("_") or name == "__call__"}
        )
    return members


def _parameters(function: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def _store_parts(store: Any) -> Iterator[tuple[str, Any, type[Any]]]:
    """(where, object, protocol): the store itself and each noun it exposes."""
    yield "store", store, base.Store
    for name, declared in _members(base.Store).items():
        if isinstance(declared, property) and declared.fget is not None:
            protocol = inspect.signature(declared.fget).return_annotation
            yield f"store.{name}", getattr(store, name), getattr(base, protocol)


@pytest.fixture
def backend(store: Any) -> Any:
    return store


def test_the_protocols_are_found() -> None:
    assert {"Store", "RunStore", "SeriesStore", "AlertStore", "TokenStore", "SilenceStore", "DeadLetterStore"} <= set(
        _protocols()
    )


def test_every_protocol_but_the_write_hook_is_reachable_from_the_store(backend: Any) -> None:
    reached = {protocol.__name__ for _, _, protocol in _store_parts(backend)}
    assert reached == set(_protocols()) - {"WriteHook"}


def test_the_backend_implements_every_method_with_the_same_parameters(backend: Any) -> None:
    problems = []
    for where, part, protocol in _store_parts(backend):
        for name, declared in _members(protocol).items():
            if not hasattr(part, name):
                problems.append(f"{where} lacks {name} ({protocol.__name__})")
            elif inspect.isfunction(declared):
                wanted = _parameters(declared)[1:]  # without self
                got = _parameters(getattr(part, name))
                if got != wanted:
                    problems.append(f"{where}.{name}{got} differs from {protocol.__name__}.{name}{wanted}")
    assert problems == []


def test_the_outbox_the_alerts_package_defines_is_part_of_the_alert_store(backend: Any) -> None:
    from alerts import OutboxStore

    assert OutboxStore in base.AlertStore.__mro__
    for name in ("add_deliveries", "claim_due", "mark_sent", "mark_retry", "mark_failed"):
        assert callable(getattr(backend.alerts, name))
