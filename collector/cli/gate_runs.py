"""Where ``runwatch gate`` reads runs: the store the settings name, or a runwatch API (``--url``, a viewer token).

A CI runner rarely holds the tracker's database; it can hold a URL and a token. Both sources
give the same ``RunRecord`` (the API's run detail, its ``"NaN"`` spellings parsed back), so the
gate decides the same way either way.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import click
import httpx

from emitter.events import parse_json_number

from ..store import Store
from ..store.records import MetricSummary, RunRecord
from ..store.search import FilterError

API_TIMEOUT = 30.0  # seconds per request to the API


class GateError(click.ClickException):
    """A usage or lookup problem: exit code 2, so a CI log tells it from a failed requirement (1)."""

    exit_code = 2


class RunSource(Protocol):
    def run(self, ref: str) -> RunRecord:
        """The run with this id or unique name; a ``GateError`` when there is none."""
        ...

    def search(self, filter: str, sort: str | None = None, limit: int = 1) -> list[str]:
        """Ids of runs matching a runs filter, in ``sort`` order; a ``GateError`` for a filter that does not parse."""
        ...


class StoreRuns:
    """Runs from the store (``runwatch runs``/``show`` read the same)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def run(self, ref: str) -> RunRecord:
        run = self._store.runs.get(ref)
        if run is None:
            named = len(self._store.runs.named(ref))
            raise GateError(
                f"{named} runs are named {ref!r}: give the id" if named > 1 else f"no run with id or name {ref!r}"
            )
        return run

    def search(self, filter: str, sort: str | None = None, limit: int = 1) -> list[str]:
        try:
            found, _ = self._store.runs.search(filter=filter, sort=sort, limit=limit)
        except FilterError as exc:
            raise GateError(f"--best-of: {exc}") from None
        return [str(run["id"]) for run in found]


class ApiRuns:
    """Runs from a runwatch API: ``GET /api/v1/runs/{ref}`` and ``GET /api/v1/runs?filter=&sort=``."""

    def __init__(self, url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=API_TIMEOUT)
        self._url = url

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        try:
            return self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise GateError(f"the runwatch API at {self._url} did not answer: {exc}") from None

    def _refused(self, response: httpx.Response) -> GateError:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        if isinstance(detail, dict):
            detail = detail.get("error", detail)
        return GateError(f"the runwatch API answered {response.status_code}: {str(detail)[:300]}")

    def run(self, ref: str) -> RunRecord:
        response = self._get(f"/api/v1/runs/{quote(ref, safe='')}")
        if response.status_code == 404:
            raise GateError(f"no run with id or name {ref!r} (or the name is not unique) at {self._url}")
        if response.status_code != 200:
            raise self._refused(response)
        return record_from_detail(response.json())

    def search(self, filter: str, sort: str | None = None, limit: int = 1) -> list[str]:
        params = {"filter": filter, "limit": limit, **({"sort": sort} if sort else {})}
        response = self._get("/api/v1/runs", params)
        if response.status_code == 400:
            raise GateError(f"--best-of: {self._refused(response).message}")
        if response.status_code != 200:
            raise self._refused(response)
        return [str(run["id"]) for run in response.json()["runs"]]


def _number(value: Any) -> float | None:
    return None if value is None else float(parse_json_number(value))


def record_from_detail(detail: dict[str, Any]) -> RunRecord:
    """The API's run detail as the record the store would give."""
    metrics = {
        key: MetricSummary(
            key,
            float(parse_json_number(m["last"])),
            int(m["step"]),
            _number(m.get("min")),
            _number(m.get("max")),
            int(m.get("count", 0)),
        )
        for key, m in (detail.get("metrics") or {}).items()
    }
    return RunRecord(
        id=detail["id"],
        project=detail["project"],
        name=detail["name"],
        group=detail.get("group"),
        tags=list(detail.get("tags") or []),
        notes=detail.get("notes") or "",
        status=detail["status"],
        created_at=detail["created_at"],
        updated_at=detail["updated_at"],
        ended_at=detail.get("ended_at"),
        last_event_at=detail.get("last_event_at"),
        last_heartbeat_at=detail.get("last_heartbeat_at"),
        last_step=detail.get("last_step"),
        env=detail.get("env") or {},
        exit_info=detail.get("exit_info") or {},
        params=detail.get("params") or {},
        metrics=metrics,
    )
