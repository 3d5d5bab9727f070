"""Component naming rules, free of heavy imports (the CLI uses them at start-up)."""

import re

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
"""Component and plugin names: lowercase kebab-case."""

KIND_PLURALS = {
    "architecture": "architectures",
    "loss": "losses",
    "dataset": "datasets",
    "mitigation": "mitigations",
    "metric": "metrics",
}
PLURAL_TO_KIND = {v: k for k, v in KIND_PLURALS.items()}
