"""Read queries behind the API (SQLite dialect): runs, series, compare, export, alerts, tokens.

Every function takes the ``SQLiteStore`` and runs its SQL on ``store._db`` under
``store._lock``, in short pieces so a long read never holds up the consumer's writes.
Results are JSON-ready: non-finite floats become the strings ``"NaN"``, ``"Infinity"``
and ``"-Infinity"`` (JSON has no literal for them, and ``null`` would hide them).
A PostgreSQL store gets its own module with the same functions.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

from . import chunks, rollups
from .exact import from_columns
from .search import Query, parse_filter, parse_sort

CHUNK = 20_000
MAX_LIST_KEYS = 32
ROLES = ("viewer", "writer", "admin")

RUN_COLUMNS = (
    "id", "project", "name", "grp", "tags", "notes", "status", "created_at", "updated_at", "ended_at",
    "last_event_at", "last_heartbeat_at", "last_step", "env", "exit_info",
)  # fmt: skip


def jnum(value: float | None) -> float | str | None:
    """A float for JSON: finite as is, non-finite as "NaN" / "Infinity" / "-Infinity"."""
    if value is None:
        return None
    if value != value:
        return "NaN"
    if value == math.inf:
        return "Infinity"
    if value == -math.inf:
        return "-Infinity"
    return value


def _read(store: Any, sql: str, args: Sequence[Any] = ()) -> list[Any]:
    with store._lock:
        return store._db.execute(sql, args).fetchall()


def _write(store: Any, sql: str, args: Sequence[Any] = ()) -> int:
    with store._lock:
        return int(store._db.execute(sql, args).rowcount)


def table_exists(store: Any, name: str) -> bool:
    return bool(_read(store, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))


# ------------------------------------------------------------------ runs


def _run_dict(row: Sequence[Any]) -> dict[str, Any]:
    data = dict(zip(RUN_COLUMNS, row, strict=True))
    data["group"] = data.pop("grp")
    data["tags"] = json.loads(data["tags"])
    data["env"] = json.loads(data["env"])
    data["exit_info"] = json.loads(data["exit_info"])
    return data


def resolve_run(store: Any, ref: str) -> str | None:
    """A run id from an id or a unique name."""
    if _read(store, "SELECT 1 FROM runs WHERE id = ?", (ref,)):
        return ref
    rows = _read(store, "SELECT id FROM runs WHERE name = ? LIMIT 2", (ref,))
    return rows[0][0] if len(rows) == 1 else None


def list_runs(
    store: Any, *, filter: str | None = None, sort: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[dict[str, Any]], bool]:
    """A page of runs matching ``filter`` in ``sort`` order, and whether more follow.

    Raises ``FilterError`` for a filter or sort that does not parse.
    """
    where: Query = parse_filter(filter)
    order: Query = parse_sort(sort)
    sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE {where.sql} ORDER BY {order.sql} LIMIT ? OFFSET ?"
    rows = _read(store, sql, [*where.args, *order.args, limit + 1, offset])
    more = len(rows) > limit
    runs = [_run_dict(row) for row in rows[:limit]]
    for run in runs:
        del run["env"]  # detail only: it can be large
    ids = [run["id"] for run in runs]
    if ids:
        marks = ",".join("?" * len(ids))
        by_id = {run["id"]: run for run in runs}
        for run in runs:
            run["metrics"], run["params"], run["metric_count"] = {}, {}, 0
        for run_id, key, last, bits, step in _read(
            store,
            f"SELECT run_id, key, last, last_bits, last_step FROM series WHERE run_id IN ({marks}) ORDER BY run_id, key",
            ids,
        ):
            run = by_id[run_id]
            run["metric_count"] += 1
            if len(run["metrics"]) < MAX_LIST_KEYS:
                run["metrics"][key] = {"last": jnum(from_columns(last, bits)), "step": step}
        for run_id, key, value in _read(
            store, f"SELECT run_id, key, value FROM params WHERE run_id IN ({marks}) ORDER BY run_id, key", ids
        ):
            if len(by_id[run_id]["params"]) < MAX_LIST_KEYS:
                by_id[run_id]["params"][key] = json.loads(value)
    return runs, more


def run_detail(store: Any, run_id: str) -> dict[str, Any] | None:
    """Everything about one run: metadata, params, metric summary, notes, artifacts, alerts, writers."""
    rows = _read(store, f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE id = ?", (run_id,))
    if not rows:
        return None
    run = _run_dict(rows[0])
    run["params"] = {
        k: json.loads(v)
        for k, v in _read(store, "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", (run_id,))
    }
    run["metrics"] = {
        key: {
            "kind": kind,
            "last": jnum(from_columns(last, bits)),
            "step": step,
            "min": jnum(low) if low is not None else None,
            "max": jnum(high) if high is not None else None,
            "count": count,
        }
        for key, kind, last, bits, step, low, high, count in _read(
            store,
            "SELECT key, kind, last, last_bits, last_step, min, max, count FROM series WHERE run_id = ? ORDER BY key",
            (run_id,),
        )
    }
    run["notes_log"] = [
        {"ts": ts, "text": text}
        for ts, text in _read(store, "SELECT ts, text FROM notes WHERE run_id = ? ORDER BY id", (run_id,))
    ]
    run["artifacts"] = [
        {"ts": ts, "name": name, "uri": uri, "size": size, "sha256": sha}
        for ts, name, uri, size, sha in _read(
            store, "SELECT ts, name, uri, size, sha256 FROM artifacts WHERE run_id = ? ORDER BY id", (run_id,)
        )
    ]
    run["user_alerts"] = [
        {"ts": ts, "title": title, "text": text, "level": level}
        for ts, title, text, level in _read(
            store, "SELECT ts, title, text, level FROM user_alerts WHERE run_id = ? ORDER BY id", (run_id,)
        )
    ]
    run["writers"] = [
        {"writer": w, "committed": c, "started_at": at, "env": json.loads(env)}
        for w, c, at, env in _read(
            store,
            "SELECT writer, committed, started_at, env FROM writers WHERE run_id = ? ORDER BY started_at",
            (run_id,),
        )
    ]
    run["alerts"] = alerts(store, run_id=run_id, limit=100)["alerts"]
    return run


# ------------------------------------------------------------------ series


def series(
    store: Any,
    run_id: str,
    keys: Sequence[str] | None = None,
    *,
    max_points: int = 1000,
    from_step: int | None = None,
    to_step: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Each metric of a run in ``[from_step, to_step]``, at most ``max_points`` buckets (0: every point).

    Downsampled buckets keep min, max, last and the NaN count, so spikes and NaNs show.
    """
    sql = "SELECT id, key, count FROM series WHERE run_id = ?"
    args: list[Any] = [run_id]
    if keys:
        sql += f" AND key IN ({','.join('?' * len(keys))})"
        args.extend(keys)
    out: dict[str, dict[str, Any]] = {}
    for sid, key, count in _read(store, sql + " ORDER BY key", args):
        out[key] = _one_series(store, sid, count, max_points, from_step, to_step)
    return out


def _reader(store: Any) -> chunks.Read:
    """``chunks``' way to run a read query on the store (under its lock)."""
    return lambda sql, args: _read(store, sql, args)


def _step_bounds(store: Any, sid: int) -> tuple[int | None, int | None]:
    return chunks.step_bounds(_reader(store), sid)


def _raw(store: Any, sid: int, lo: int, hi: int) -> Iterator[tuple[int, float, float]]:
    """``(step, ts, value)`` of every point with lo <= step <= hi, in step order (then writer, seq)."""
    return chunks.points(_reader(store), sid, lo, hi)


def _rollups_complete(store: Any, sid: int, count: int, top: int) -> bool:
    """Whether the rollups hold every point (false for points stored before they existed).

    Counted at the series' coarsest kept level ``top``: one row, or a few at the last level.
    """
    row = _read(store, "SELECT sum(count) FROM rollups WHERE series = ? AND level = ?", (sid, top))
    return (row[0][0] or 0) == count


def _one_series(
    store: Any, sid: int, count: int, max_points: int, from_step: int | None, to_step: int | None
) -> dict[str, Any]:
    low, high = _step_bounds(store, sid)
    empty = {"steps": [], "values": [], "count": 0, "downsampled": False}
    if low is None or high is None:
        return empty
    lo = low if from_step is None else max(low, from_step)
    hi = high if to_step is None else min(high, to_step)
    if lo > hi:
        return empty
    if max_points > 0:
        n = chunks.count_between(_reader(store), sid, lo, hi)
    if max_points <= 0 or n <= max_points:
        steps: list[int] = []
        values: list[Any] = []
        for step, _ts, value in _raw(store, sid, lo, hi):
            steps.append(step)
            values.append(jnum(value))
        return {"steps": steps, "values": values, "count": len(steps), "downsampled": False}
    return _downsample(store, sid, count, max_points, lo, hi, (low, high))


def _downsample(
    store: Any, sid: int, count: int, max_points: int, lo: int, hi: int, bounds: tuple[int, int]
) -> dict[str, Any]:
    """Buckets of the range from the coarsest rollup level no wider than a bucket wants."""
    span = hi - lo + 1
    wanted = -(-span // max_points)  # the narrowest bucket that gives at most max_points buckets
    level = 0
    top = rollups.top_level(*bounds)  # levels above are not kept (a range never wants them anyway)
    if wanted >= rollups.width(1) and _rollups_complete(store, sid, count, top):
        level = max(lvl for lvl in range(1, top + 1) if rollups.width(lvl) <= wanted)
    w = rollups.width(level) if level else 1
    base = (lo // w) * w
    bucket = w * -(-(hi - base + 1) // (max_points * w))
    aggs: dict[int, list[Any]] = {}

    def fold(target: int, agg: list[Any]) -> None:
        found = aggs.get(target)
        if found is None:
            aggs[target] = agg
        else:
            rollups.merge(found, agg)

    def fold_raw(a: int, b: int) -> None:
        for step, _ts, value in _raw(store, sid, a, b):
            fold((step - base) // bucket, rollups.point_aggregate(step, value))

    if level:
        first = -(-lo // w)  # first bucket entirely inside [lo, hi]
        last = (hi + 1) // w - 1
        if first <= last:
            if lo < first * w:
                fold_raw(lo, first * w - 1)
            rows = _read(
                store,
                "SELECT bucket, count, nans, min, max, last_step, last, last_bits FROM rollups"
                " WHERE series = ? AND level = ? AND bucket BETWEEN ? AND ? ORDER BY bucket",
                (sid, level, first, last),
            )
            for b, *agg in rows:
                fold((b * w - base) // bucket, agg)
            if (last + 1) * w <= hi:
                fold_raw((last + 1) * w, hi)
        else:
            fold_raw(lo, hi)
    else:
        fold_raw(lo, hi)
    steps, values, lows, highs, nans, counts = [], [], [], [], [], []
    for target in sorted(aggs):
        n, nan, low, high, step, last_value, last_bits = aggs[target]
        steps.append(step)
        values.append(jnum(from_columns(last_value, last_bits)))
        lows.append(jnum(math.nan if low is None else low))
        highs.append(jnum(math.nan if high is None else high))
        nans.append(nan)
        counts.append(n)
    return {
        "steps": steps,
        "values": values,
        "min": lows,
        "max": highs,
        "nans": nans,
        "counts": counts,
        "count": sum(counts),
        "downsampled": True,
        "bucket_steps": bucket,
        "level": level,
    }


# ------------------------------------------------------------------ compare and export


def compare(
    store: Any, run_ids: Sequence[str], keys: Sequence[str] | None = None, *, max_points: int = 1000
) -> dict[str, Any]:
    """Params side by side (``differs`` marks keys whose values are not all equal) and the series of ``keys``."""
    runs = []
    for run_id in run_ids:
        detail = _read(store, "SELECT id, name, project, status FROM runs WHERE id = ?", (run_id,))
        if detail:
            rid, name, project, status = detail[0]
            runs.append({"id": rid, "name": name, "project": project, "status": status})
    ids = [run["id"] for run in runs]
    params: dict[str, dict[str, Any]] = {}
    for run_id in ids:
        for key, value in _read(store, "SELECT key, value FROM params WHERE run_id = ?", (run_id,)):
            params.setdefault(key, {})[run_id] = value
    table = []
    for key in sorted(params):
        values = params[key]
        differs = len(values) != len(ids) or len(set(values.values())) > 1
        table.append({"key": key, "values": {rid: json.loads(v) for rid, v in values.items()}, "differs": differs})
    if keys is None:
        counts: dict[str, int] = {}
        for run_id in ids:
            for (key,) in _read(store, "SELECT key FROM series WHERE run_id = ? AND kind = 'metrics'", (run_id,)):
                counts[key] = counts.get(key, 0) + 1
        keys = sorted(counts, key=lambda k: (-counts[k], k))[:8]
    return {
        "runs": runs,
        "params": table,
        "keys": list(keys),
        "series": {run_id: series(store, run_id, keys, max_points=max_points) for run_id in ids},
    }


def export_csv(store: Any, run_id: str) -> Iterator[str]:
    """Every point of a run as CSV lines: step, ts, key, value (Python repr: exact, nan/inf included)."""
    yield "step,ts,key,value\r\n"
    for sid, key in _read(store, "SELECT id, key FROM series WHERE run_id = ? ORDER BY key", (run_id,)):
        quoted = _csv_field(key)
        lines: list[str] = []
        for step, ts, value in _raw(store, sid, -(2**63), 2**63 - 1):
            lines.append(f"{step},{ts!r},{quoted},{value!r}\r\n")
            if len(lines) >= CHUNK:
                yield "".join(lines)
                lines = []
        if lines:
            yield "".join(lines)


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n') or text[:1] in ("=", "+", "-", "@"):
        return '"' + text.replace('"', '""') + '"'
    return text


# ------------------------------------------------------------------ alerts and dead letters

#: Columns of the alert engine's ``alerts`` table (sqlite_0003_alerts.sql); any subset is shown as is,
#: ``value`` and ``payload`` (JSON text) are decoded.
ALERT_COLUMNS = ("id", "rule", "run_id", "state", "kind", "severity", "title", "text", "metric", "value", "step",
                 "at", "payload")  # fmt: skip
_JSON_COLUMNS = ("value", "payload")


def alerts(store: Any, *, run_id: str | None = None, limit: int = 200, state: str | None = None) -> dict[str, Any]:
    """Rule alerts (the engine's ``alerts`` table, when it exists) and alerts raised by runs, newest first."""
    rule_alerts: list[dict[str, Any]] = []
    if table_exists(store, "alerts"):
        columns = [row[1] for row in _read(store, "PRAGMA table_info(alerts)")]
        where, args = [], []
        if run_id is not None and "run_id" in columns:
            where.append("a.run_id = ?")
            args.append(run_id)
        if state is not None and "state" in columns:
            where.append("a.state = ?")
            args.append(state)
        order = "a.at DESC, a.rowid DESC" if "at" in columns else "a.rowid DESC"
        name = ", r.name AS run_name" if "run_id" in columns else ""
        join = " LEFT JOIN runs r ON r.id = a.run_id" if "run_id" in columns else ""
        sql = f"SELECT a.*{name} FROM alerts a{join}" + (" WHERE " + " AND ".join(where) if where else "")
        names = columns + (["run_name"] if name else [])
        for row in _read(store, f"{sql} ORDER BY {order} LIMIT ?", [*args, limit]):
            item: dict[str, Any] = {}
            for column, value in zip(names, row, strict=False):
                if isinstance(value, bytes):
                    continue
                if column in _JSON_COLUMNS and isinstance(value, str):
                    try:
                        value = json.loads(value)
                    except ValueError:
                        pass
                item[column] = jnum(value) if isinstance(value, float) else value
            rule_alerts.append(item)
    sql = (
        "SELECT u.id, u.run_id, r.name, u.ts, u.title, u.text, u.level FROM user_alerts u"
        " LEFT JOIN runs r ON r.id = u.run_id"
    )
    args2: list[Any] = []
    if run_id is not None:
        sql += " WHERE u.run_id = ?"
        args2.append(run_id)
    user = [
        {"id": i, "run_id": r, "run_name": n, "ts": ts, "title": t, "text": x, "level": lv}
        for i, r, n, ts, t, x, lv in _read(store, sql + " ORDER BY u.id DESC LIMIT ?", [*args2, limit])
    ]
    return {"alerts": rule_alerts, "user_alerts": user}


def dead_letters(store: Any, *, limit: int = 100) -> dict[str, Any]:
    from ..deadletter import describe

    total = _read(store, "SELECT count(*) FROM dead_letters")[0][0]
    return {"total": total, "items": [describe(letter) for letter in store.dead_letters(limit)]}


# ------------------------------------------------------------------ tokens


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Any, role: str, name: str, now: float) -> tuple[int, str]:
    """A new token for ``role``: returns ``(id, token)``; only its hash is stored."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = f"rw_{secrets.token_urlsafe(32)}"
    with store._lock:
        cursor = store._db.execute(
            "INSERT INTO api_tokens (name, role, hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, role, hash_token(token), token[:9], now),
        )
    return int(cursor.lastrowid), token


def verify_token(store: Any, token: str, now: float) -> tuple[int, str, str] | None:
    """``(id, role, name)`` of a valid, unrevoked token, else None; records its use (at most once a minute)."""
    rows = _read(
        store,
        "SELECT id, role, name, last_used_at FROM api_tokens WHERE hash = ? AND revoked_at IS NULL",
        (hash_token(token),),
    )
    if not rows:
        return None
    token_id, role, name, used = rows[0]
    if used is None or now - used > 60:
        _write(store, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
    return token_id, role, name


def list_tokens(store: Any) -> list[dict[str, Any]]:
    return [
        {"id": i, "name": n, "role": r, "prefix": p, "created_at": c, "last_used_at": u, "revoked_at": x}
        for i, n, r, p, c, u, x in _read(
            store, "SELECT id, name, role, prefix, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id"
        )
    ]


def revoke_token(store: Any, token_id: int, now: float) -> bool:
    return (
        _write(store, "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id)) > 0
    )


def run_projects(store: Any, run_ids: Sequence[str]) -> dict[str, str]:
    """Project of each known run (the live hub routes project subscriptions with it)."""
    if not run_ids:
        return {}
    marks = ",".join("?" * len(run_ids))
    return dict(_read(store, f"SELECT id, project FROM runs WHERE id IN ({marks})", list(run_ids)))


# ------------------------------------------------------------------ silences


def create_silence(
    store: Any,
    *,
    rule: str | None,
    run_id: str | None,
    project: str | None,
    starts_at: float,
    ends_at: float,
    comment: str,
    created_by: str,
    now: float,
) -> int:
    with store._lock:
        cursor = store._db.execute(
            "INSERT INTO silences (rule, run_id, project, starts_at, ends_at, comment, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (rule, run_id, project, starts_at, ends_at, comment, created_by, now),
        )
    return int(cursor.lastrowid)


def list_silences(store: Any, now: float, *, include_ended: bool = False) -> list[dict[str, Any]]:
    """Silences newest first; by default only those not yet over (active or scheduled)."""
    where = "" if include_ended else "WHERE ends_at > ? AND expired_at IS NULL"
    rows = _read(
        store,
        "SELECT id, rule, run_id, project, starts_at, ends_at, comment, created_by, created_at, expired_at"
        f" FROM silences {where} ORDER BY id DESC",
        () if include_ended else (now,),
    )
    names = (
        "id",
        "rule",
        "run_id",
        "project",
        "starts_at",
        "ends_at",
        "comment",
        "created_by",
        "created_at",
        "expired_at",
    )
    out = []
    for row in rows:
        item = dict(zip(names, row, strict=True))
        item["active"] = item["expired_at"] is None and item["starts_at"] <= now < item["ends_at"]
        out.append(item)
    return out


def expire_silence(store: Any, silence_id: int, now: float) -> bool:
    return (
        _write(
            store,
            "UPDATE silences SET expired_at = ? WHERE id = ? AND expired_at IS NULL AND ends_at > ?",
            (now, silence_id, now),
        )
        > 0
    )
