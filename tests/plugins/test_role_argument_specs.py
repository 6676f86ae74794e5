"""Every role's argument specs list exactly its defaults, with the same default values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


ROLES = sorted(path.parent.parent.name for path in ROOT.glob("roles/*/defaults/main.yml"))


def test_every_role_is_checked():
    assert {"local_lab", "wheelhouse", "wirebench", "python_servers", "native_redis"} <= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((ROOT / f"roles/{role}/defaults/main.yml").read_text())
    specs = yaml.safe_load((ROOT / f"roles/{role}/meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(defaults)
    for name, value in defaults.items():
        assert name.startswith(f"{role}_")
        assert options[name]["default"] == value, name
        assert "type" in options[name] and options[name].get("description"), name
