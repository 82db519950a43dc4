"""Shared fixtures."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))


HAS_TSBAD = importlib.util.find_spec("TSB_AD") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``detectors`` need tsb-ad: skipped, with the reason, where it is absent (numpy 2)."""
    if HAS_TSBAD:
        return
    skip = pytest.mark.skip(reason="needs tsb-ad (the detectors extra; numpy<2 environment, `make setup`)")
    for item in items:
        if "detectors" in item.keywords:
            item.add_marker(skip)


@pytest.fixture()
def cache_path(tmp_path: Path) -> Path:
    """A fresh cache file per test."""
    return tmp_path / "cache.sqlite"


@pytest.fixture(scope="session")
def chat_server() -> Iterator:
    """One fake chat-completions / messages server on 127.0.0.1 for the whole session."""
    from fake_chat_server import FakeChatServer

    with FakeChatServer() as server:
        yield server


@pytest.fixture()
def srv(chat_server):
    """The fake chat server, reset (no queued faults, no latency) for this test."""
    chat_server.reset()
    chat_server.latency_s = 0.0
    chat_server.answer = None  # a test may script answers (answer(image_b64, prompt) -> text)
    return chat_server


@pytest.fixture(autouse=True)
def _browser_starts_blank(request: pytest.FixtureRequest) -> None:
    """A test that uses the module's shared browser starts on a blank page, so its first
    ``driver.get`` is a full page load whichever test ran before it in this process (a URL that
    differs from the open page only in its ``#fragment`` is a same-document navigation, whose
    ``hashchange`` handler may run after ``get`` returns)."""
    if "driver" in request.fixturenames:
        request.getfixturevalue("driver").get("about:blank")
