"""A digest as each channel shows it: plain text, HTML email, Slack Block Kit.

The notifiers hand a message whose ``digest`` is set to these instead of their alert
layout; the webhook sends the report itself (``alert.digest`` in its JSON). Names and
params come from training code, so they pass through ``one_line`` and each format's
own escaping, as alerts do.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from alerts._text import one_line
from alerts.digest_report import DigestReport, DigestRun
from alerts.notifiers.base import AlertMessage, format_value

__all__ = ["digest_blocks", "digest_email", "digest_text"]

_MAX_PARAM = 80  # characters of one param value shown


def digest_text(report: DigestReport) -> str:
    """The digest as plain text (the email's text part, ``runwatch digest preview``)."""
    lines = [one_line(report.title), one_line(f"Period: {_period(report)}")]
    if report.scope:
        lines.append(one_line(f"Scope: {report.scope}"))
    lines += ["", f"New best runs ({report.metric}, {report.mode}):"]
    lines += [f"  {_line(run)}" for run in report.best] or ["  none"]
    if report.more_best:
        lines.append(f"  ... and {report.more_best} more")
    if report.previous_best is not None:
        lines.append(f"Previous best: {_line(report.previous_best)}")
    if report.params_diff:
        lines += ["", "Params of the best run against the previous best:"]
        lines += [f"  {one_line(key)}: {_param(old)} -> {_param(new)}" for key, old, new in report.params_diff]
    lines += ["", "Failed or lost:"]
    lines += [f"  {_line(run)}" for run in report.ended_badly] or ["  none"]
    if report.more_ended_badly:
        lines.append(f"  ... and {report.more_ended_badly} more")
    return "\n".join(lines) + "\n"


def digest_email(message: AlertMessage, *, sender: str, recipients: list[str]) -> EmailMessage:
    """A multipart/alternative email of a digest: the text, then an HTML table per section."""
    assert message.digest is not None
    report = DigestReport.from_dict(message.digest)
    email = EmailMessage()
    email["Subject"] = one_line(report.title)[:250]
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Date"] = formatdate(report.end, localtime=False)
    email["Message-ID"] = make_msgid(domain="runwatch")
    email["X-Runwatch-Digest"] = one_line(f"{report.name} {report.period_key}")
    email.set_content(digest_text(report))
    email.add_alternative(_html(report), subtype="html")
    return email


def digest_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    """Block Kit: a header, the new best runs, the params diff, the failed or lost runs."""
    assert message.digest is not None
    report = DigestReport.from_dict(message.digest)
    best = "\n".join(_slack_run(run) for run in report.best) or "none"
    if report.more_best:
        best += f"\n… and {report.more_best} more"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": one_line(report.title)[:150], "emoji": True}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(_period(report))[:3000]}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*New best {_mrkdwn(report.metric)}*\n{best}"[:3000]}},
    ]
    if report.previous_best is not None:
        text = f"*Previous best*\n{_slack_run(report.previous_best)}"
        if report.params_diff:
            diff = "\n".join(
                f"`{_mrkdwn(k)}`: {_mrkdwn(_param(a))} → {_mrkdwn(_param(b))}" for k, a, b in report.params_diff
            )
            text += f"\n*Params changed*\n{diff}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    bad = "\n".join(_slack_run(run) for run in report.ended_badly) or "none"
    if report.more_ended_badly:
        bad += f"\n… and {report.more_ended_badly} more"
    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Failed or lost*\n{bad}"[:3000]}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"runwatch · `{_mrkdwn(message.id)}`"}]})
    return blocks


def _period(report: DigestReport) -> str:
    return f"{_when(report.start)} – {_when(report.end)}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _line(run: DigestRun) -> str:
    where = f" {run.link}" if run.link else ""
    return one_line(f"{run.name} ({run.project}, {run.status}) {format_value(run.value)}{where}")


def _param(value: Any) -> str:
    text = "(absent)" if value is None else value if isinstance(value, str) else json.dumps(value, default=str)
    return one_line(text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…")


def _mrkdwn(text: str) -> str:
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_run(run: DigestRun) -> str:
    name = _mrkdwn(run.name)
    if run.link:
        name = f"<{_mrkdwn(run.link).replace('|', '%7C')}|{name}>"
    return f"• {name} ({_mrkdwn(run.project)}, {_mrkdwn(run.status)}) {format_value(run.value)}"


def _html(report: DigestReport) -> str:
    e = html.escape

    def run_row(run: DigestRun) -> str:
        name = e(one_line(run.name))
        if run.link:
            name = f'<a href="{e(one_line(run.link), quote=True)}">{name}</a>'
        cells = (name, e(one_line(run.project)), e(one_line(run.status)), e(format_value(run.value)))
        return "<tr>" + "".join(f"<td style='padding-right:12px'>{c}</td>" for c in cells) + "</tr>"

    def table(runs: list[DigestRun], more: int) -> str:
        if not runs:
            return "<p>none</p>"
        rows = "".join(run_row(r) for r in runs)
        tail = f"<p>… and {more} more</p>" if more else ""
        return f"<table><tr><th align='left'>Run</th><th align='left'>Project</th><th align='left'>Status</th><th align='left'>{e(report.metric)}</th></tr>{rows}</table>{tail}"

    parts = [
        f"<h2>{e(one_line(report.title))}</h2>",
        f"<p>{e(_period(report))}"
        + (f"<br>Scope: <code>{e(one_line(report.scope))}</code>" if report.scope else "")
        + "</p>",
        f"<h3>New best runs ({e(report.metric)}, {e(report.mode)})</h3>",
        table(report.best, report.more_best),
    ]
    if report.previous_best is not None:
        parts += ["<h3>Previous best</h3>", table([report.previous_best], 0)]
    if report.params_diff:
        rows = "".join(
            f"<tr><td><code>{e(one_line(k))}</code></td><td>{e(_param(a))}</td><td>{e(_param(b))}</td></tr>"
            for k, a, b in report.params_diff
        )
        parts.append(
            f"<h3>Params changed</h3><table><tr><th>Param</th><th>Previous</th><th>Best</th></tr>{rows}</table>"
        )
    parts += ["<h3>Failed or lost</h3>", table(report.ended_badly, report.more_ended_badly)]
    return "<!doctype html><html><body style='font-family:sans-serif'>" + "".join(parts) + "</body></html>"
