"""The integrations cost nothing until used: importing them never imports a framework.

Runs in the default suite (no marker), where no framework is installed, and the frameworks are
also blocked here, so it says the same in the integrations venv.
"""

from __future__ import annotations

import json

from tests.helpers import run_python

FRAMEWORKS = ["torch", "transformers", "lightning", "pytorch_lightning", "keras", "jax", "optuna", "sklearn"]

SCRIPT = f"""
import importlib.abc, json, sys

FRAMEWORKS = {FRAMEWORKS!r}

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FRAMEWORKS:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None

sys.meta_path.insert(0, Blocked())
import emitter, emitter.integrations
from emitter.integrations import hf, keras, lightning, optuna, sklearn
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)
errors = {{}}
for module, name in [(hf, "RunwatchCallback"), (keras, "RunwatchCallback"), (lightning, "RunwatchLogger")]:
    try:
        getattr(module, name)
    except ModuleNotFoundError as error:
        errors[module.__name__] = error.name
try:
    hf.NoSuchThing
except AttributeError as error:
    errors["attribute"] = str(error)
callback = optuna.RunwatchCallback(project="p")  # a plain class: no framework needed to build it
print(json.dumps({{"loaded": loaded, "errors": errors, "optuna": repr(callback)}}))
"""


def test_importing_the_integrations_imports_no_framework_and_using_one_names_what_is_missing(emitter_env):
    done = run_python(SCRIPT, emitter_env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    assert report["errors"] == {
        "emitter.integrations.hf": "transformers",
        "emitter.integrations.keras": "keras",
        "emitter.integrations.lightning": "lightning",
        "attribute": "module 'emitter.integrations.hf' has no attribute 'NoSuchThing'",
    }
    assert report["optuna"] == "<RunwatchCallback project='p' runs=0>"
