"""MLflow's ``search_runs`` filter and ``order_by``, translated into runwatch's runs grammar.

MLflow::    metrics.acc > 0.9 and params.lr = '0.01' and tags.team = 'vision'
            and attributes.status = 'FINISHED' and run_name LIKE 'resnet%'
runwatch::  metrics.`acc` > 0.9 and params.`lr` = '0.01' and params.`mlflow.tags/team` = 'vision'
            and status = 'finished' and name like 'resnet%'

The translation is token by token: entities are renamed (tags live under ``mlflow.tags/``
params, see ``entities``), status values lower-cased, times converted from milliseconds.
runwatch's parser then checks the result, so a filter MLflow would refuse is refused too
(a 400 ``INVALID_PARAMETER_VALUE`` naming the filter).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .entities import TAG_PREFIX, USER_PARAM
from .errors import invalid

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<entity>[A-Za-z_]+)\.(?P<key>`[^`]*`|"[^"]*"|[\w.\-/:]+)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    | (?P<op>!=|<=|>=|<>|==|=|<|>|\(|\)|,)
    | (?P<word>[A-Za-z_][\w]*)
    )""",
    re.VERBOSE,
)
_ATTRIBUTES = {
    "run_id": "id",
    "run_name": "name",
    "status": "status",
    "start_time": "created_at",
    "created": "created_at",
    "end_time": "ended_at",
    "user_id": f"params.`{USER_PARAM}`",
}
_ATTRIBUTE_ENTITIES = {"attributes", "attribute", "attr", "run"}
_METRICS = {"metrics", "metric"}
_PARAMS = {"params", "param", "parameters", "parameter"}
_TAGS = {"tags", "tag"}
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null"}
_SORT_ALIASES = {"start_time": "created_at", "end_time": "ended_at", "run_name": "name", "status": "status"}


def _unquote(key: str) -> str:
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "`\"'":
        return key[1:-1]
    return key


def _quoted(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    raise invalid(f"Unsupported value {text[:100]!r}: it holds both kinds of quotes")


def _field(entity: str, key: str) -> str:
    entity = entity.lower()
    if entity in _METRICS:
        return f"metrics.`{key}`"
    if entity in _PARAMS:
        return f"params.`{key}`"
    if entity in _TAGS:
        return f"params.`{TAG_PREFIX}{key}`"
    if entity in _ATTRIBUTE_ENTITIES and key in _ATTRIBUTES:
        return _ATTRIBUTES[key]
    raise invalid(f"Invalid attribute key '{entity}.{key}' in the filter")


def translate_filter(text: str, projects: Sequence[str]) -> str:
    """The runwatch filter for an MLflow filter over the given experiments' projects."""
    out: list[str] = []
    field = ""
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None:
            raise invalid(f"Invalid filter {text[:200]!r}: cannot read it at character {position}")
        position = match.end()
        if match.group("entity"):
            field = _field(match.group("entity"), _unquote(match.group("key")))
            out.append(field)
        elif match.group("string"):
            value = _unquote(match.group("string"))
            if field == "status":
                value = value.lower()
            out.append(_quoted(value))
        elif match.group("number"):
            number = match.group("number")
            out.append(str(float(number) / 1000) if field in ("created_at", "ended_at") else number)
        elif match.group("op"):
            out.append(match.group("op"))
        else:
            word = match.group("word")
            if word.lower() in _KEYWORDS:
                out.append(word.lower())
            elif word in _ATTRIBUTES:
                field = _ATTRIBUTES[word]
                out.append(field)
            else:
                raise invalid(f"Invalid filter {text[:200]!r}: unknown word {word!r}")
    user = " ".join(out)
    scope = ""
    if projects:
        scope = "project in (" + ", ".join(_quoted(p) for p in projects) + ")"
    if scope and user:
        return f"{scope} and ({user})"
    return scope or user


def translate_order(order_by: Sequence[str]) -> str | None:
    """``metrics.acc DESC``, ``attributes.start_time ASC`` … as runwatch's sort (default: newest first)."""
    terms = []
    for item in order_by:
        parts = item.strip().rsplit(None, 1)
        direction = ""
        if len(parts) == 2 and parts[1].upper() in ("ASC", "DESC"):
            direction = "-" if parts[1].upper() == "DESC" else ""
            item = parts[0]
        else:
            item = item.strip()
        entity, _, key = item.partition(".")
        if not key:
            entity, key = "attributes", entity
        key = _unquote(key)
        if entity.lower() in _ATTRIBUTE_ENTITIES:
            if key not in _SORT_ALIASES:
                raise invalid(f"Invalid order_by {item[:100]!r}")
            terms.append(direction + _SORT_ALIASES[key])
        else:  # runwatch's sort takes a key as written, without backticks
            terms.append(direction + _field(entity, key).replace("`", ""))
    return ", ".join(terms) if terms else None
