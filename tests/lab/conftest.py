"""Fixtures of the lab tests."""

from __future__ import annotations

import pytest

from .labtools import inventory_hosts


@pytest.fixture(scope="module")
def hosts():
    """The hosts inventory/lab describes, by name."""
    return {host.name: host for host in inventory_hosts()}
