"""Every test gets its own store: the CLI stores runs by default, and a test must
neither read runs another test left nor write into the working folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_store(tmp_path_factory, monkeypatch):
    path = tmp_path_factory.mktemp("store") / "descend.sqlite"
    monkeypatch.setenv("DESCEND_STORE", str(path))
    return path
