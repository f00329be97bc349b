"""The ``runwatch`` command line: one module per family of commands.

- ``serve.py``: ``serve``, ``collect``, ``api``, ``demo`` (running the service);
- ``migrate.py``: ``migrate`` (the database schema, as a deploy step);
- ``runs.py``: ``runs``, ``show``, ``tail`` (what the runs are doing);
- ``data.py``: ``sync``, ``export``, ``dead-letters`` (data in and out);
- ``artifacts.py``: ``artifacts``, ``download`` (stored files, models, images);
- ``alerts.py``: ``rules check``, ``alerts``, ``silence`` (alerting);
- ``tokens.py``: ``token`` (API access);
- ``digest.py``: ``digest preview`` (scheduled summaries of new best runs);
- ``gate.py``: ``gate`` (CI/CD: pass or fail on a run's metrics);
- ``model.py``: ``model promote``, ``model history`` (stages of model artifacts);
- ``audit.py``: ``audit`` (who changed what).
"""

from __future__ import annotations

import logging

import click

from .alerts import alerts, rules, silence
from .artifacts import artifacts, download
from .audit import audit
from .data import dead_letters, export, sync
from .digest import digest
from .gate import gate
from .migrate import migrate
from .model import model
from .runs import runs, show, tail
from .serve import api, collect, demo, serve
from .tokens import token

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """runwatch: know right now what your training jobs are doing.

    \b
    Start everything on this machine (embedded Redis, SQLite, dashboard):
        runwatch serve
    Then, in training code:
        import emitter
        run = emitter.init(project="resnet", config={"lr": 3e-4})
        run.log({"loss": 0.31}, step=1)
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


COMMANDS = (serve, collect, api, demo, migrate, runs, show, tail, sync, export, dead_letters, artifacts, download)
for command in (*COMMANDS, rules, alerts, silence, token, gate, model, audit, digest):
    main.add_command(command)
