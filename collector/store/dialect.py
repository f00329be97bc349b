"""The SQL the runs filter grammar (``search.py``) becomes, per engine: SQLite and PostgreSQL.

The parser is written once; at each condition it asks its ``Dialect`` for the SQL of a
comparison, with a ``bind`` callback that adds a value to the bound parameters and
returns the placeholder. Values never reach the SQL text in either dialect.

Both backends store params, env and tags as JSON text (``format/rows.py``). SQLite reads
it with ``json_type``/``json_extract``; PostgreSQL with jsonb operators over
``runwatch_jsonb(text)`` (PostgreSQL migration 1), which is NULL for text that is not
valid JSON (a param logged as NaN), so one odd value never fails a search. The text
form a string is compared with follows the engine for non-strings: numbers as the JSON
wrote them in both, booleans as 1/0 in SQLite and true/false in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Bind = Callable[[Any], str]

# columns of ``runs`` that hold numbers (the others hold text)
NUMERIC_COLUMNS = frozenset(
    {"runs.created_at", "runs.updated_at", "runs.ended_at", "runs.last_event_at", "runs.last_step"}
)


class Dialect(Protocol):
    """The engine-specific SQL of the filter and sort grammar."""

    param: str  # the placeholder of a bound parameter
    everything: str  # a WHERE clause every row satisfies

    def has_tag(self, key: str, bind: Bind) -> str: ...

    def has_env(self, key: str, bind: Bind) -> str: ...

    def compare_column(self, column: str, op: str, value: Any, bind: Bind) -> str:
        """``column op value`` for a column of ``runs`` (``op`` may be ``like`` or ``ilike``).

        Raises ``ValueError`` for a value the engine cannot compare with the column.
        """
        ...

    def compare_param(self, op: str, value: Any, bind: Bind) -> str:
        """A comparison of ``p.value`` (a param's JSON text)."""
        ...

    def compare_env(self, key: str, op: str, value: Any, bind: Bind) -> str: ...

    def param_sort(self, key: str, bind: Bind) -> list[str]:
        """Expressions to order by a param's value; each is followed by the direction."""
        ...


def json_path(key: str) -> str:
    """A SQLite JSON path selecting ``key`` (dots separate levels), quoted so any key is safe."""
    parts = [part.replace('"', '\\"') for part in key.split(".")]
    return "$" + "".join(f'."{part}"' for part in parts)


def like_to_glob(pattern: str) -> str:
    """A case-sensitive GLOB pattern equivalent to the SQL LIKE ``pattern`` (``\\`` escapes)."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "\\")
            out.append(_glob_literal(nxt))
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_glob_literal(char))
    return "".join(out)


def _glob_literal(char: str) -> str:
    return f"[{char}]" if char in "*?[]" else char


class SQLiteDialect:
    """SQLite: ``?`` parameters, JSON1 functions, GLOB for a case-sensitive LIKE."""

    param = "?"
    everything = "1"

    def has_tag(self, key: str, bind: Bind) -> str:
        return f"EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = {bind(key)})"

    def has_env(self, key: str, bind: Bind) -> str:
        return f"(json_type(runs.env, {bind(json_path(key))}) IS NOT NULL)"

    def compare_column(self, column: str, op: str, value: Any, bind: Bind) -> str:
        if op == "like":
            return f"({column} GLOB {bind(like_to_glob(str(value)))})"
        if op == "ilike":
            return f"({column} LIKE {bind(str(value))} ESCAPE '\\')"
        return f"({column} {op} {bind(value)})"

    def compare_param(self, op: str, value: Any, bind: Bind) -> str:
        return self._json_match("p.value", lambda: "'$'", op, value, bind)

    def compare_env(self, key: str, op: str, value: Any, bind: Bind) -> str:
        path = json_path(key)
        return self._json_match("runs.env", lambda: bind(path), op, value, bind)

    def param_sort(self, key: str, bind: Bind) -> list[str]:
        return [f"(SELECT json_extract(p.value, '$') FROM params p WHERE p.run_id = runs.id AND p.key = {bind(key)})"]

    def _json_match(self, column: str, path: Callable[[], str], op: str, value: Any, bind: Bind) -> str:
        """Compare a JSON value: numbers numerically, strings against the text form, booleans exactly.

        ``path()`` returns the SQL of the JSON path, binding it afresh for every use.
        """
        if isinstance(value, bool):
            kind = "true" if value else "false"
            if op == "=":
                return f"(json_type({column}, {path()}) = '{kind}')"
            return f"(json_type({column}, {path()}) IS NOT NULL AND json_type({column}, {path()}) != '{kind}')"
        if isinstance(value, (int, float)):
            return (
                f"(json_type({column}, {path()}) IN ('integer', 'real')"
                f" AND json_extract({column}, {path()}) {op} {bind(value)})"
            )
        text = (
            f"(CASE WHEN json_type({column}, {path()}) IN ('text', 'object', 'array')"
            f" THEN json_extract({column}, {path()}) ELSE CAST(json_extract({column}, {path()}) AS TEXT) END)"
        )
        return self.compare_column(text, op, value, bind)


class PostgresDialect:
    """PostgreSQL: ``%s`` parameters, jsonb operators, LIKE and ILIKE as they are."""

    param = "%s"
    everything = "TRUE"

    def has_tag(self, key: str, bind: Bind) -> str:
        return f"(runwatch_jsonb(runs.tags) @> jsonb_build_array({bind(key)}::text))"

    def has_env(self, key: str, bind: Bind) -> str:
        return f"((runwatch_jsonb(runs.env) #> {bind(key.split('.'))}::text[]) IS NOT NULL)"

    def compare_column(self, column: str, op: str, value: Any, bind: Bind) -> str:
        numeric = column in NUMERIC_COLUMNS
        if op in ("like", "ilike"):
            text = f"CAST({column} AS text)" if numeric else column
            return f"({text} {op.upper()} {bind(str(value))})"
        if numeric:  # SQLite compares a number with a string in its own way; here it must be a number
            return f"({column} {op} {bind(_number(value))})"
        if not isinstance(value, str):  # a text column against a number: compare with its text form
            value = str(int(value)) if isinstance(value, bool) else str(value)
        return f"({column} {op} {bind(value)})"

    def compare_param(self, op: str, value: Any, bind: Bind) -> str:
        return self._json_match(lambda: "runwatch_jsonb(p.value)", op, value, bind)

    def compare_env(self, key: str, op: str, value: Any, bind: Bind) -> str:
        parts = key.split(".")
        return self._json_match(lambda: f"(runwatch_jsonb(runs.env) #> {bind(parts)}::text[])", op, value, bind)

    def param_sort(self, key: str, bind: Bind) -> list[str]:
        """Numbers (and booleans) before strings before objects, as SQLite orders ``json_extract``."""
        value = f"(SELECT runwatch_jsonb(p.value) FROM params p WHERE p.run_id = runs.id AND p.key = {bind(key)})"
        rank = (
            f"(CASE jsonb_typeof({value}) WHEN 'number' THEN 0 WHEN 'boolean' THEN 0 WHEN 'string' THEN 1 ELSE 2 END)"
        )
        return [value, rank, value]

    def _json_match(self, value: Callable[[], str], op: str, literal: Any, bind: Bind) -> str:
        """Compare a jsonb value as SQLite's ``_json_match`` does; ``value()`` binds its path afresh each use.

        NULL (not false) when the key is missing, so ``not`` of a comparison matches what SQLite matches.
        """
        if isinstance(literal, bool):
            kind = "'true'::jsonb" if literal else "'false'::jsonb"
            if op == "=":
                return f"({value()} = {kind})"
            return f"({value()} IS NOT NULL AND {value()} != {kind})"
        if isinstance(literal, (int, float)):
            return (
                f"(CASE WHEN jsonb_typeof({value()}) = 'number' THEN ({value()})::numeric {op} {bind(literal)}::numeric"
                f" WHEN {value()} IS NULL THEN NULL ELSE FALSE END)"
            )
        text = f"({value()} #>> '{{}}')"
        if op in ("like", "ilike"):
            return f"({text} {op.upper()} {bind(str(literal))})"
        return f"({text} {op} {bind(literal)})"


def _number(value: Any) -> int | float:
    """A value compared with a numeric column; ``ValueError`` (the parser names where) when it is none."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{value!r} is not a number; this field compares with numbers") from None


SQLITE = SQLiteDialect()
POSTGRES = PostgresDialect()
