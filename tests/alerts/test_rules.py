"""The rules file: the issue's example parses; every mistake is named by line, rule and field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from alerts.channels import ConsoleChannel, EmailChannel, SlackChannel, WebhookChannel
from alerts.errors import RuleError
from alerts.rules import RuleKind, parse_duration
from alerts.rules_file import load_rules, parse_rules

EXAMPLE = """\
channels:
  ml-team:  {type: slack, webhook_url: ${SLACK_WEBHOOK_URL}}
  ml-bot:   {type: slack, token: ${SLACK_BOT_TOKEN}, channel: "#training"}
  oncall:   {type: email, smtp_url: "smtp://user:${SMTP_PASSWORD}@smtp.example.com:587", from: runwatch@example.com, to: [oncall@example.com]}
  hooks:    {type: webhook, url: https://example.com/hook}
rules:
  - {name: loss-nan,   metric: loss, condition: nonfinite, severity: critical, notify: [ml-team, oncall]}
  - {name: diverging,  metric: loss, condition: "> 10", for: 3, notify: [ml-team]}
  - {name: good-enough, metric: val/acc, condition: ">= 0.95", notify: [ml-team]}
  - {name: plateau,    metric: val/loss, condition: no_improvement, mode: min, patience: 20}
  - {name: new-best,   metric: val/acc, condition: new_best, mode: max}
  - {name: finished,   on: status, status: [finished, failed, killed], notify: [ml-team]}
  - {name: lost,       on: heartbeat_lost, after: 60s, severity: critical}
  - {name: stalled,    on: no_progress, after: 15m}
  - {name: from-code,  on: user_alert}          # run.alert(...) in training code
defaults: {repeat_interval: 1h, send_resolved: true}
"""

SECRETS = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T1/B1/webhooksecret123",
    "SLACK_BOT_TOKEN": "xoxb-botsecret456",
    "SMTP_PASSWORD": "smtp-secret-789",
}


def error_of(text: str, env: dict[str, str] | None = None) -> RuleError:
    with pytest.raises(RuleError) as info:
        parse_rules(text, source="alerts.yaml", env=SECRETS if env is None else env)
    return info.value


def assert_no_secret(text: str) -> None:
    for secret in SECRETS.values():
        assert secret not in text


def test_the_issue_example_parses_into_every_rule_kind() -> None:
    ruleset = parse_rules(EXAMPLE, source="alerts.yaml", env=SECRETS)

    assert [r.kind for r in ruleset.rules] == [
        RuleKind.NONFINITE,
        RuleKind.THRESHOLD,
        RuleKind.THRESHOLD,
        RuleKind.NO_IMPROVEMENT,
        RuleKind.NEW_BEST,
        RuleKind.STATUS,
        RuleKind.HEARTBEAT_LOST,
        RuleKind.NO_PROGRESS,
        RuleKind.USER_ALERT,
    ]
    diverging = ruleset.rule("diverging")
    assert diverging.condition is not None
    assert (diverging.condition.op, diverging.condition.threshold, diverging.points_needed) == (">", 10.0, 3)
    assert ruleset.rule("lost").after == 60.0
    assert ruleset.rule("stalled").after == 900.0
    assert ruleset.rule("finished").statuses == {"finished", "failed", "killed"}
    assert ruleset.defaults.repeat_interval == 3600.0 and ruleset.defaults.send_resolved is True


def test_channels_of_every_type_with_secrets_from_the_environment() -> None:
    ruleset = parse_rules(EXAMPLE, env=SECRETS)

    team, bot, oncall, hooks = (ruleset.channels[n] for n in ("ml-team", "ml-bot", "oncall", "hooks"))
    assert isinstance(team, SlackChannel) and team.webhook_url is not None
    assert team.webhook_url.get_secret_value() == SECRETS["SLACK_WEBHOOK_URL"]
    assert isinstance(bot, SlackChannel) and bot.token is not None
    assert bot.token.get_secret_value() == SECRETS["SLACK_BOT_TOKEN"]
    assert bot.channel == "#training"
    assert isinstance(oncall, EmailChannel)
    target = oncall.target()
    assert (target.host, target.port, target.username, target.ssl) == ("smtp.example.com", 587, "user", False)
    assert target.password is not None and target.password.get_secret_value() == SECRETS["SMTP_PASSWORD"]
    assert oncall.from_ == "runwatch@example.com" and oncall.to == ["oncall@example.com"]
    assert isinstance(hooks, WebhookChannel)


def test_secrets_never_appear_in_repr_str_or_describe() -> None:
    ruleset = parse_rules(EXAMPLE, env=SECRETS)

    assert_no_secret(repr(ruleset))
    assert_no_secret(str(ruleset))
    assert_no_secret(str(ruleset.describe()))
    oncall = ruleset.channels["oncall"]
    assert isinstance(oncall, EmailChannel)
    assert_no_secret(repr(oncall.target()))


def test_a_rule_without_notify_goes_to_every_channel_or_to_defaults_notify() -> None:
    ruleset = parse_rules(EXAMPLE, env=SECRETS)
    assert ruleset.notify_for(ruleset.rule("plateau")) == ("ml-team", "ml-bot", "oncall", "hooks")
    assert ruleset.notify_for(ruleset.rule("loss-nan")) == ("ml-team", "oncall")

    narrowed = parse_rules(
        EXAMPLE.replace("send_resolved: true}", "send_resolved: true, notify: [ml-bot]}"), env=SECRETS
    )
    assert narrowed.notify_for(narrowed.rule("plateau")) == ("ml-bot",)


def test_no_channels_at_all_means_a_console_channel() -> None:
    ruleset = parse_rules("rules: [{name: nan, metric: loss, condition: nonfinite}]")

    assert isinstance(ruleset.channels["console"], ConsoleChannel)
    assert ruleset.notify_for(ruleset.rule("nan")) == ("console",)


def test_an_empty_file_is_an_empty_rule_set() -> None:
    ruleset = parse_rules("")
    assert ruleset.rules == () and list(ruleset.channels) == ["console"]


def test_on_is_a_key_not_a_yaml_boolean() -> None:
    ruleset = parse_rules("rules:\n  - name: done\n    on: status\n")
    assert ruleset.rule("done").kind == RuleKind.STATUS


def test_selectors_match_project_and_run_name_globs_and_require_all_tags() -> None:
    rule = parse_rules(
        "rules: [{name: r, metric: loss, condition: nonfinite, project: 'vision-*', run_name: 'sweep-?', tags: [prod, gpu]}]"
    ).rule("r")

    assert rule.selects("vision-resnet", "sweep-1", {"prod", "gpu", "extra"})
    assert not rule.selects("nlp", "sweep-1", {"prod", "gpu"})
    assert not rule.selects("vision-resnet", "sweep-12", {"prod", "gpu"})
    assert not rule.selects("vision-resnet", "sweep-1", {"prod"})
    assert not rule.selects(None, None, set())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("60s", 60),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("2d", 172800),
        (90, 90),
        ("never", math.inf),
    ],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_env_defaults_and_dollar_escapes() -> None:
    ruleset = parse_rules("rules: [{name: r, on: user_alert, description: 'cost $$5 in ${REGION:-eu-west}'}]", env={})
    assert ruleset.rule("r").description == "cost $5 in eu-west"


def test_load_rules_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text("rules:\n  - {name: r, metric: loss, condition: '>> 10'}\n")

    with pytest.raises(RuleError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path}:2: rule 'r': field 'condition': cannot parse '>> 10'")

    (tmp_path / "ok.yaml").write_text("rules: [{name: r, on: user_alert}]\n")
    assert load_rules(tmp_path / "ok.yaml").rule("r").kind == RuleKind.USER_ALERT


# --------------------------------------------------------------------- errors


def test_a_bad_condition_names_line_rule_and_field() -> None:
    error = error_of(EXAMPLE.replace('condition: "> 10"', 'condition: ">> 10"'))

    assert str(error).startswith("alerts.yaml:8: rule 'diverging': field 'condition': cannot parse '>> 10'")
    assert (error.file, error.line, error.rule, error.field) == ("alerts.yaml", 8, "diverging", "condition")


def test_an_unknown_channel_in_notify_is_an_error() -> None:
    error = error_of(EXAMPLE.replace("for: 3, notify: [ml-team]", "for: 3, notify: [ml-teem]"))

    assert str(error) == (
        "alerts.yaml:8: rule 'diverging': field 'notify': unknown channel 'ml-teem' "
        "(configured: ml-team, ml-bot, oncall, hooks)"
    )


def test_invalid_yaml_names_the_line() -> None:
    error = error_of("rules:\n  - {name: a, metric: loss\n  - {name: b}\n")

    assert error.line == 3
    assert str(error).startswith("alerts.yaml:3: invalid YAML:")


def test_a_missing_environment_variable_is_named_without_leaking_other_secrets() -> None:
    env = dict(SECRETS)
    del env["SLACK_BOT_TOKEN"]
    error = error_of(EXAMPLE, env)

    assert (
        str(error) == "alerts.yaml:3: channel 'ml-bot': field 'token': environment variable SLACK_BOT_TOKEN is not set"
    )
    assert_no_secret(str(error))


def test_every_problem_is_reported_not_just_the_first() -> None:
    error = error_of(EXAMPLE, env={})

    assert [(e.channel, e.field, e.line) for e in error.errors] == [
        ("ml-team", "webhook_url", 2),
        ("ml-bot", "token", 3),
        ("oncall", "smtp_url", 4),
    ]
    assert len(str(error).splitlines()) == 3


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("{name: r, metric: loss, condition: '> 1', fro: 3}", "rule 'r': field 'fro': unknown field"),
        ("{name: r, metric: loss}", "rule 'r': field 'condition': required with 'metric'"),
        ("{name: r, condition: nonfinite}", "rule 'r': field 'metric': required (or give 'on:' for an event rule)"),
        ("{name: r, metric: l, condition: no_improvement, mode: min}", "rule 'r': field 'patience': required"),
        ("{name: r, metric: l, condition: new_best}", "rule 'r': field 'mode': required with condition new_best"),
        (
            "{name: r, metric: l, condition: new_best, mode: up}",
            "rule 'r': field 'mode': Input should be 'min' or 'max'",
        ),
        ("{name: r, metric: l, condition: '> 1', for: 0}", "rule 'r': field 'for': Input should be greater than"),
        ("{name: r, on: heartbeat_lost}", "rule 'r': field 'after': required with 'on: heartbeat_lost'"),
        ("{name: r, on: no_progress, after: soon}", "rule 'r': field 'after': cannot parse duration 'soon'"),
        ("{name: r, on: heartbeat_lost, after: 1m, metric: loss}", "rule 'r': field 'metric': not allowed with"),
        ("{name: r, on: status, status: [done]}", "rule 'r': field 'status': Input should be 'running'"),
        ("{name: r, on: explode}", "rule 'r': field 'on': Input should be 'status'"),
        ("{name: r, on: user_alert, severity: loud}", "rule 'r': field 'severity': Input should be 'info'"),
        ("{metric: loss, condition: nonfinite}", "rule '#1': field 'name': required"),
    ],
)
def test_rule_mistakes_are_named(rule: str, message: str) -> None:
    error = error_of(f"rules:\n  - {rule}\n")

    assert str(error).startswith(f"alerts.yaml:2: {message}")


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("{type: slak, webhook_url: x}", "channel 'c': field 'type': unknown channel type 'slak'"),
        ("{type: slack}", "channel 'c': needs webhook_url, or token and channel"),
        ("{type: slack, token: ${SLACK_BOT_TOKEN}}", "channel 'c': a token needs a channel"),
        ("{type: email, smtp_url: 'http://x', from: a@b.c, to: [d@e.f]}", "channel 'c': field 'smtp_url': must start"),
        (
            "{type: email, smtp_url: 'smtp://x', from: a@b.c, to: []}",
            "channel 'c': field 'to': List should have at least 1",
        ),
        ("{type: webhook, url: ftp://x}", "channel 'c': field 'url': must be an http:// or https:// URL"),
    ],
)
def test_channel_mistakes_are_named_without_secrets(channel: str, message: str) -> None:
    error = error_of(f"channels:\n  c: {channel}\nrules: []\n")

    assert str(error).startswith(f"alerts.yaml:2: {message}")
    assert_no_secret(str(error))


def test_a_secret_in_a_rejected_value_is_not_echoed() -> None:
    error = error_of("channels:\n  c: {type: webhook, url: 'ftp://${SLACK_BOT_TOKEN}@x'}\n")
    assert_no_secret(str(error))


def test_duplicate_keys_and_rule_names_are_errors() -> None:
    duplicate_key = error_of("rules:\n  - name: r\n    on: user_alert\n    on: status\n")
    assert str(duplicate_key) == "alerts.yaml:4: rule 'r': field 'on': duplicate key 'on'"

    duplicate_name = error_of("rules:\n  - {name: r, on: user_alert}\n  - {name: r, on: status}\n")
    assert str(duplicate_name) == "alerts.yaml:3: rule 'r': field 'name': duplicate rule name 'r'"


def test_an_unknown_top_level_key_is_an_error() -> None:
    error = error_of("channels: {}\nrulez: []\n")
    assert str(error) == "alerts.yaml:2: field 'rulez': unknown field"


def test_the_example_in_the_docs_is_valid() -> None:
    docs = Path(__file__).parents[2] / "docs" / "alerts.md"
    example = docs.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]

    ruleset = parse_rules(example, source="docs/alerts.md", env=SECRETS)
    assert ruleset.rule("prod-nan").tags == ["prod"]


# ------------------------------------------------------------------ targets

# 169.254.169.254 (cloud metadata) as a resolver reads it, and its neighbours
METADATA = [
    "169.254.169.254",
    "2852039166",
    "0xA9FEA9FE",
    "0xa9.0xfe.0xa9.0xfe",
    "0251.0376.0251.0376",
    "169.254.43518",
    "169.254.169.254.",
    "[::ffff:169.254.169.254]",
    "[::ffff:a9fe:a9fe]",
    "[64:ff9b::a9fe:a9fe]",
    "[2002:a9fe:a9fe::1]",
    "[::a9fe:a9fe]",
    "[fe80::1]",
    "169.254.1.1",
    "[fd00:ec2::254]",
    "metadata.google.internal",
    "0.0.0.0",
    "224.0.0.1",
    "999.1.1.1",
]
PRIVATE = ["10.0.0.5", "0x0a000005", "192.168.1.10", "172.16.0.1", "100.64.0.1", "[fd12::1]", "[::ffff:10.0.0.5]"]
LOOPBACK = ["127.0.0.1", "127.1", "2130706433", "[::1]", "[::ffff:127.0.0.1]", "localhost"]


def channels_at(host: str, extra: str = "") -> str:
    """One channel of each kind that sends over the network, all pointed at ``host``."""
    return f"""\
channels:
  hook: {{type: slack, webhook_url: "http://{host}:8080/services/T/B/hooksecret"{extra}}}
  bot:  {{type: slack, token: xoxb-1, channel: "#c", api_url: "https://{host}/api/"{extra}}}
  mail: {{type: email, smtp_url: "smtp://u:mailsecret@{host}:25", from: a@b.c, to: [d@e.f]{extra}}}
  web:  {{type: webhook, url: "https://{host}/hook?key=websecret"{extra}}}
"""


@pytest.mark.parametrize("host", METADATA)
def test_metadata_and_link_local_targets_are_refused_in_every_spelling_whatever_is_allowed(host: str) -> None:
    for text in (channels_at(host), channels_at(host, ", allow_private_targets: true")):
        error = error_of(text)

        assert [(e.channel, e.field) for e in error.errors] == [
            ("hook", "webhook_url"),
            ("bot", "api_url"),
            ("mail", "smtp_url"),
            ("web", "url"),
        ]
        assert all("refused target" in e.message for e in error.errors), str(error)
        for secret in ("hooksecret", "mailsecret", "websecret"):
            assert secret not in str(error)


@pytest.mark.parametrize("host", PRIVATE)
def test_private_targets_need_allow_private_targets_on_the_channel_or_the_file(host: str) -> None:
    error = error_of(channels_at(host))
    assert len(error.errors) == 4 and all("allow_private_targets: true" in e.message for e in error.errors)

    on_each = parse_rules(channels_at(host, ", allow_private_targets: true"))
    for_all = parse_rules("allow_private_targets: true\n" + channels_at(host))
    assert list(on_each.channels) == list(for_all.channels) == ["hook", "bot", "mail", "web"]


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_targets_are_allowed_for_local_receivers_and_tests(host: str) -> None:
    assert list(parse_rules(channels_at(host)).channels) == ["hook", "bot", "mail", "web"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://hooks.slack.com/x", "gopher://x:70/", "httpx://hooks.slack.com/", "//x/y"]
)
def test_slack_urls_must_be_http_or_https(url: str) -> None:
    for channel in (
        f"{{type: slack, webhook_url: '{url}'}}",
        f"{{type: slack, token: t, channel: c, api_url: '{url}'}}",
    ):
        error = error_of(f"channels:\n  c: {channel}\n")
        assert "must be an http:// or https:// URL" in str(error)


def test_yaml_schema_and_semantic_problems_are_all_reported_in_one_pass_in_file_order() -> None:
    error = error_of("""\
channels:
  hook: {type: slack, webhook_url: "ftp://hooks.example.com/x"}
  bot:  {type: slack, token: "${NOT_SET}", channel: "#c"}
rules:
  - {name: a, metric: loss, condition: ">> 10"}
  - {name: b, metric: loss, condition: nonfinite, notify: [hook, nowhere]}
  - {name: c, on: heartbeat_lost}
  - {name: b, on: user_alert, severity: loud}
  - {name: d, metric: loss, condition: nonfinite, notify: [bot]}
defaults: {repeat_interval: soon, notify: [elsewhere]}
""")

    assert [(e.line, e.channel or e.rule, e.field) for e in error.errors] == [
        (2, "hook", "webhook_url"),  # schema
        (3, "bot", "token"),  # YAML: the variable is not set
        (5, "a", "condition"),  # schema
        (6, "b", "notify"),  # semantic: 'nowhere' (a channel that failed validation is still a channel)
        (7, "c", "after"),  # semantic
        (8, "b", "severity"),  # schema
        (8, "b", "name"),  # semantic: the duplicate, although the rule itself did not validate
        (10, None, "defaults.repeat_interval"),  # schema
        (10, None, "defaults.notify.0"),  # semantic
    ]
    assert len(str(error).splitlines()) == 9
