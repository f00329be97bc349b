"""The runs filter and sort grammar, parsed into parameterised SQL of a ``Dialect`` (SQLite, PostgreSQL).

Filter examples::

    params.lr = 0.01 and metrics.val/acc > 0.9
    tags.baseline
    status in (running, lost)
    name like 'resnet%' or (project = 'cifar' and not tags.ablation)
    params.`optimizer name` = 'adam'

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | "(" expr ")" | condition
    condition  := field [op literal | ["not"] "in" "(" literal ("," literal)* ")" | "is" ["not"] "null"]
    op         := = | == | != | <> | < | <= | > | >= | like | ilike | not like | not ilike
    field      := column | params.KEY | metrics.KEY | tags.TAG | env.KEY
    literal    := number | 'string' | "string" | word | true | false | null

Bounded, so no filter can make the engine work without end: at most ``MAX_FILTER``
characters, ``MAX_DEPTH`` levels of parentheses and nots, ``MAX_CONDITIONS`` conditions,
``MAX_IN_VALUES`` values in one ``in``; a sort (``sort.py``) at most ``MAX_SORT_TERMS`` terms. Past one,
a ``FilterError`` names it (the API's 400).

A bare ``tags.X`` means "has tag X"; a bare ``params.X`` / ``metrics.X`` means "has it".
``metrics.X`` compares the latest value. ``like`` is case-sensitive (``%`` and ``_``
wildcards), ``ilike`` is not. Values never reach the SQL text: every literal and key is
a bound parameter, so the filter cannot inject SQL. The parser is written once; the SQL
of each condition comes from the backend's ``dialect.Dialect``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .dialect import SQLITE, Dialect

__all__ = ["Comparison", "FilterError", "Query", "parse_comparison", "parse_filter"]

COLUMNS = {
    "id": "runs.id",
    "name": "runs.name",
    "project": "runs.project",
    "group": "runs.grp",
    "status": "runs.status",
    "notes": "runs.notes",
    "created_at": "runs.created_at",
    "updated_at": "runs.updated_at",
    "ended_at": "runs.ended_at",
    "last_event_at": "runs.last_event_at",
    "step": "runs.last_step",
    "last_step": "runs.last_step",
}
NAMESPACES = ("params", "metrics", "tags", "env")
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "true", "false"}
MAX_FILTER = 4000  # characters of a filter
MAX_DEPTH = 32  # nested parentheses and nots
MAX_CONDITIONS = 64  # conditions in a filter: each is a subquery or two for the engine
MAX_IN_VALUES = 100  # values of one `in (...)`
MAX_SORT_TERMS = 8
MAX_SORT = 1000  # characters of a sort


class FilterError(ValueError):
    """A filter or sort that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, position: int, text: str = "") -> None:
        self.message = message
        self.position = position
        self.text = text
        super().__init__(f"{message} at position {position}")


@dataclass(slots=True)
class Query:
    """SQL fragments with their bound parameters, to go after ``WHERE`` / ``ORDER BY``."""

    sql: str
    args: list[Any] = field(default_factory=list)


# ------------------------------------------------------------------ tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w./:-]))
  | (?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<bq>`(?:[^`]|``)*`)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][\w./:-]*(?:\.(?=[`"']))?)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num | str | bq | op | punct | word | end
    text: str
    pos: int
    value: Any = None


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1]
    if quote == "`":
        return body.replace("``", "`")
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            snippet = text[pos]
            if snippet in "'\"`":
                raise FilterError(f"unterminated quote {snippet}", pos, text)
            raise FilterError(f"unexpected character {snippet!r}", pos, text)
        kind = match.lastgroup or ""
        raw = match.group()
        if kind != "ws":
            if kind == "num":
                value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            elif kind in ("str", "bq"):
                value = _unquote(raw)
            else:
                value = raw
            tokens.append(Token(kind, raw, pos, value))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# ------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text: str, dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens = tokenize(text)
        self.i = 0
        self.args: list[Any] = []
        self.depth = 0
        self.conditions = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _is_kw(self, word: str, offset: int = 0) -> bool:
        tok = self.tokens[min(self.i + offset, len(self.tokens) - 1)]
        return tok.kind == "word" and tok.text.lower() == word

    def _take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def _fail(self, message: str, tok: Token | None = None) -> FilterError:
        tok = tok or self.tok
        found = "end of filter" if tok.kind == "end" else repr(tok.text)
        return FilterError(f"{message}, found {found}", tok.pos, self.text)

    def _expect_punct(self, char: str) -> None:
        if self.tok.kind == "punct" and self.tok.text == char:
            self.i += 1
            return
        raise self._fail(f"expected {char!r}")

    # grammar
    def parse(self) -> str:
        sql = self._or()
        if self.tok.kind != "end":
            raise self._fail("expected 'and', 'or' or the end of the filter")
        return sql

    def _or(self) -> str:
        parts = [self._and()]
        while self._is_kw("or"):
            self.i += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._not()]
        while self._is_kw("and"):
            self.i += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self) -> str:
        nested = self._is_kw("not") or (self.tok.kind == "punct" and self.tok.text == "(")
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise FilterError(
                    f"nested more than {MAX_DEPTH} levels deep (parentheses and nots)", self.tok.pos, self.text
                )
        try:
            if self._is_kw("not"):
                self.i += 1
                return f"(NOT {self._not()})"
            if self.tok.kind == "punct" and self.tok.text == "(":
                self.i += 1
                inner = self._or()
                self._expect_punct(")")
                return inner
        finally:
            if nested:
                self.depth -= 1
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise FilterError(f"more than {MAX_CONDITIONS} conditions", self.tok.pos, self.text)
        return self._condition()

    def _field(self) -> tuple[str, str | None, Token]:
        """(namespace or column name, key, token) of the field at the cursor."""
        tok = self.tok
        if tok.kind != "word" or tok.text.lower() in _KEYWORDS:
            raise self._fail("expected a field such as name, status, params.lr, metrics.loss or tags.baseline")
        self.i += 1
        text = tok.text
        head, dot, rest = text.partition(".")
        head_l = head.lower()
        if not dot:
            if head_l in COLUMNS:
                return head_l, None, tok
            if head_l in NAMESPACES:
                raise FilterError(f"{head} needs a key, as in {head}.name", tok.pos + len(text), self.text)
            raise FilterError(f"unknown field {head!r}", tok.pos, self.text)
        if head_l not in NAMESPACES:
            raise FilterError(f"unknown field {head!r} (use params., metrics., tags. or env.)", tok.pos, self.text)
        if not rest:  # params.`quoted key`
            quoted = self.tok
            if quoted.kind not in ("bq", "str"):
                raise self._fail("expected a key after " + text)
            self.i += 1
            rest = quoted.value
        if not rest:
            raise FilterError("empty key", tok.pos, self.text)
        return head_l, rest, tok

    def _literal(self) -> Any:
        tok = self.tok
        if tok.kind == "num" or tok.kind == "str":
            self.i += 1
            return tok.value
        if tok.kind == "word":
            lower = tok.text.lower()
            if lower in ("and", "or", "not", "in", "like", "ilike", "is"):
                raise self._fail("expected a value")
            self.i += 1
            if lower == "true":
                return True
            if lower == "false":
                return False
            if lower == "null":
                return None
            return tok.text  # bare word: status in (running, lost)
        raise self._fail("expected a value")

    def _condition(self) -> str:
        ns, key, ftok = self._field()
        tok = self.tok
        # bare field: presence
        if tok.kind == "end" or (tok.kind == "punct" and tok.text == ")") or self._is_kw("and") or self._is_kw("or"):
            return self._presence(ns, key, ftok)
        if self._is_kw("is"):
            self.i += 1
            negate = self._is_kw("not")
            if negate:
                self.i += 1
            if not self._is_kw("null"):
                raise self._fail("expected 'null'")
            self.i += 1
            sql = self._presence(ns, key, ftok) if key is not None else f"{COLUMNS[ns]} IS NOT NULL"
            return sql if negate else f"(NOT {sql})"
        negate = False
        if self._is_kw("not") and (self._is_kw("in", 1) or self._is_kw("like", 1) or self._is_kw("ilike", 1)):
            negate = True
            self.i += 1
        if self._is_kw("in"):
            self.i += 1
            self._expect_punct("(")
            values = [self._literal()]
            while self.tok.kind == "punct" and self.tok.text == ",":
                self.i += 1
                if len(values) == MAX_IN_VALUES:
                    raise FilterError(f"more than {MAX_IN_VALUES} values in one 'in (...)'", self.tok.pos, self.text)
                values.append(self._literal())
            self._expect_punct(")")
            sql = "(" + " OR ".join(self._compare(ns, key, ftok, "=", v) for v in values) + ")"
        elif self._is_kw("like") or self._is_kw("ilike"):
            op = self._take().text.lower()
            ptok = self.tok
            pattern = self._literal()
            if not isinstance(pattern, str):
                raise FilterError(f"{op} needs a quoted pattern", ptok.pos, self.text)
            sql = self._compare(ns, key, ftok, op, pattern)
        elif tok.kind == "op":
            self.i += 1
            sql = self._compare(ns, key, ftok, _OPS[tok.text], self._literal())
        else:
            raise self._fail("expected an operator (=, !=, <, <=, >, >=, in, like, ilike, is)")
        return f"(NOT {sql})" if negate else sql

    # SQL builders: every value is a bound parameter
    def _bind(self, value: Any) -> str:
        self.args.append(value)
        return self.dialect.param

    def _presence(self, ns: str, key: str | None, tok: Token) -> str:
        if key is None:
            raise FilterError(f"{ns} needs an operator", tok.pos + len(tok.text), self.text)
        if ns == "tags":
            return self.dialect.has_tag(key, self._bind)
        if ns == "params":
            return f"EXISTS (SELECT 1 FROM params p WHERE p.run_id = runs.id AND p.key = {self._bind(key)})"
        if ns == "metrics":
            return f"EXISTS (SELECT 1 FROM series s WHERE s.run_id = runs.id AND s.key = {self._bind(key)})"
        return self.dialect.has_env(key, self._bind)

    def _compare(self, ns: str, key: str | None, tok: Token, op: str, value: Any) -> str:
        if ns == "tags":
            raise FilterError("tags are tested by presence: tags.NAME or not tags.NAME", tok.pos, self.text)
        if value is None:
            raise FilterError("compare with null using 'is null' / 'is not null'", tok.pos, self.text)
        if key is None:
            try:
                return self.dialect.compare_column(COLUMNS[ns], op, value, self._bind)
            except ValueError as exc:
                raise FilterError(str(exc), tok.pos, self.text) from None
        if ns == "metrics":
            if isinstance(value, (str, bool)):
                raise FilterError("metrics compare with numbers", tok.pos, self.text)
            k = self._bind(key)
            return f"EXISTS (SELECT 1 FROM series s WHERE s.run_id = runs.id AND s.key = {k} AND s.last {op} {self._bind(value)})"
        if isinstance(value, bool) and op not in ("=", "!="):
            raise FilterError("booleans compare with = or !=", 0)
        if ns == "params":
            k = self._bind(key)
            inner = self.dialect.compare_param(op, value, self._bind)
            return f"EXISTS (SELECT 1 FROM params p WHERE p.run_id = runs.id AND p.key = {k} AND {inner})"
        return self.dialect.compare_env(key, op, value, self._bind)

    def comparison(self) -> Comparison:
        """The whole text as one ``field op literal`` (``parse_comparison``)."""
        namespace, key, field_token = self._field()
        if self.tok.kind != "op":
            raise self._fail("expected a comparison operator (=, !=, <, <=, >, >=)")
        op = _OPS[self._take().text]
        value = self._literal()
        if self.tok.kind != "end":
            raise self._fail("expected the end of the requirement (one comparison each)")
        if namespace == "tags":
            raise FilterError("tags cannot be compared (a requirement needs a value)", field_token.pos, self.text)
        if value is None:
            raise FilterError("a requirement compares with a value, not null", field_token.pos, self.text)
        if namespace == "metrics" and (isinstance(value, (str, bool))):
            raise FilterError("metrics compare with numbers", field_token.pos, self.text)
        return Comparison(self.text.strip(), namespace, key, op, value)


def parse_filter(text: str | None, dialect: Dialect = SQLITE) -> Query:
    """``WHERE`` SQL and arguments for a filter string; an empty filter matches every run."""
    if text is None or not text.strip():
        return Query(dialect.everything)
    if len(text) > MAX_FILTER:
        raise FilterError(f"filter longer than {MAX_FILTER} characters", MAX_FILTER, text)
    parser = _Parser(text, dialect)
    sql = parser.parse()
    return Query(sql, parser.args)


# ------------------------------------------------------------------ one comparison, outside SQL


@dataclass(frozen=True, slots=True)
class Comparison:
    """One ``field op literal`` condition of the grammar, for code that checks a run it holds (``runwatch gate``)."""

    text: str  # as written
    namespace: str  # a column (``status``, ``step``...) or ``params`` / ``metrics`` / ``env``
    key: str | None  # the key of a namespace; None for a column
    op: str  # = != < <= > >=
    value: Any

    @property
    def field(self) -> str:
        return self.namespace if self.key is None else f"{self.namespace}.{self.key}"


def parse_comparison(text: str) -> Comparison:
    """Parse ``metrics.val/acc >= 0.9`` with the filter grammar's tokens, fields, operators and literals.

    Only a single comparison: no ``and``/``or``, presence tests, ``in`` or ``like``. Raises
    ``FilterError`` naming the position, like a filter does.
    """
    if len(text) > MAX_FILTER:
        raise FilterError(f"requirement longer than {MAX_FILTER} characters", MAX_FILTER, text)
    return _Parser(text, SQLITE).comparison()
