"""YAML loading that remembers where every value came from and expands ``${VAR}``.

Rule errors must name a line, so the document is composed into nodes first and a
map ``path → line`` is kept beside the plain data. YAML 1.1 reads ``on``/``off``/
``yes``/``no`` as booleans, which would turn the ``on:`` key of a rule into ``True``;
this loader only knows ``true``/``false``.

``${VAR}`` (and ``${VAR:-default}``; ``$$`` for a literal ``$``) is replaced by a
placeholder before parsing — the braces would otherwise end a flow mapping
(``{type: slack, webhook_url: ${URL}}``) — and expanded in the parsed strings, so a
secret's characters can never change the document's structure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from alerts.errors import RuleError

Path = tuple[str | int, ...]

_OPEN, _CLOSE, _DOLLAR = "\ue000", "\ue001", "\ue002"
_ENV_IN_TEXT = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}\n]*)?\}")
_PLACEHOLDER = re.compile(f"{_OPEN}([^{_CLOSE}]*){_CLOSE}|{_DOLLAR}")


class _Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are only ``true``/``false`` (YAML 1.2 style)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class Document:
    """Plain data from a YAML text, with the line of every path in it."""

    def __init__(self, data: Any, lines: dict[Path, int], problems: list[tuple[Path, str]]) -> None:
        self.data = data
        self.lines = lines
        self.problems = problems  # (path, message): duplicate keys, unset variables

    def line(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that exists."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


def load(text: str, source: str, env: Mapping[str, str]) -> Document:
    """Parse ``text``; raise ``RuleError`` for bad YAML, report other problems by path."""
    protected = _ENV_IN_TEXT.sub(_protect, text)
    loader = _Loader(protected)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {}, [])
        lines: dict[Path, int] = {}
        problems: list[tuple[Path, str]] = []
        _walk(node, (), lines, problems)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise RuleError(f"invalid YAML: {problem}", file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise RuleError(f"invalid YAML: {exc}", file=source) from None
    finally:
        loader.dispose()
    data = _expand(data, (), env, problems)
    return Document(data, lines, problems)


def _protect(match: re.Match[str]) -> str:
    if match.group(0) == "$$":
        return _DOLLAR
    return f"{_OPEN}{match.group(1)}{match.group(2) or ''}{_CLOSE}"


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], problems: list[tuple[Path, str]]) -> None:
    """Record the line of every value and reject duplicate keys (PyYAML keeps the last)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(((*path, key), f"duplicate key {key!r}"))
                lines.setdefault((*path, key), key_node.start_mark.line + 1)
            seen.add(key)
            _walk(value_node, (*path, key), lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, problems)


def _expand(value: Any, path: Path, env: Mapping[str, str], problems: list[tuple[Path, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _expand(v, (*path, str(k)), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*path, i), env, problems) for i, v in enumerate(value)]
    if not isinstance(value, str) or not (_OPEN in value or _DOLLAR in value):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == _DOLLAR:
            return "$"
        name, _, default = match.group(1).partition(":-")
        if name in env:
            return env[name]
        if ":-" in match.group(1):
            return default
        problems.append((path, f"environment variable {name} is not set"))
        return ""

    return _PLACEHOLDER.sub(substitute, value)
