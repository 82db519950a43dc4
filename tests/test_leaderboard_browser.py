"""The built leaderboard in a real headless Chromium: sorting works, no console errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, serve, severe_console_messages, skip_reason
from test_leaderboard import XSS, write_results

from leaderboard import build_site
from leaderboard.records import RecordWarning

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

ROW_ORDER = "return Array.from(document.querySelectorAll('table.board')[arguments[0]].tBodies[0].rows, r => r.dataset.model);"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lb")
    with pytest.warns(RecordWarning):
        return build_site(write_results(root / "results"), root / "site").parent


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as drv:
        yield drv


def rows(driver: Any, table: int) -> list[str]:
    return driver.execute_script(ROW_ORDER, table)


def click_header(driver: Any, table: int, label: str) -> None:
    from selenium.webdriver.common.by import By

    board = driver.find_elements(By.CSS_SELECTOR, "table.board")[table]
    buttons = board.find_elements(By.CSS_SELECTOR, "thead th button")
    next(b for b in buttons if b.text.split("\n")[0].strip().startswith(label)).click()


def aria_sort(driver: Any, table: int) -> list[str | None]:
    script = "return Array.from(document.querySelectorAll('table.board')[arguments[0]].tHead.rows[0].cells, c => c.getAttribute('aria-sort'));"
    return driver.execute_script(script, table)


def test_sorting_over_http(site: Path, driver: Any) -> None:
    with serve(site) as base:
        driver.get(base + "index.html")
        assert driver.title == "visanom leaderboard"
        assert rows(driver, 0) == ["vlm", "iforest", "random"]
        assert aria_sort(driver, 0)[2] == "descending"
        click_header(driver, 0, "MODEL")
        assert rows(driver, 0) == ["iforest", "random", "vlm"]  # labels: iforest, random, VLM Reasoner
        assert aria_sort(driver, 0)[1] == "ascending" and aria_sort(driver, 0)[2] is None
        click_header(driver, 0, "MODEL")
        assert rows(driver, 0) == ["vlm", "random", "iforest"]
        click_header(driver, 0, "F1")  # not the current column: its default (descending)
        assert rows(driver, 0) == ["vlm", "iforest", "random"]
        click_header(driver, 0, "F1")  # ascending; the undefined value stays last
        assert rows(driver, 0) == ["iforest", "vlm", "random"]
        assert rows(driver, 1) == ["iforest", "vlm", "random"]  # other tables untouched
        assert severe_console_messages(driver) == []


def test_file_url_styles_sorting_and_failures(site: Path, driver: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    driver.get((site / "index.html").as_uri())
    board = driver.find_element(By.CSS_SELECTOR, "table.board")
    assert board.value_of_css_property("border-collapse") == "collapse"  # stylesheet loaded
    click_header(driver, 1, "VUS-PR")
    assert rows(driver, 1) == ["random", "vlm", "iforest"]
    details = board.find_element(By.CSS_SELECTOR, "details.failures")
    details.find_element(By.TAG_NAME, "summary").click()
    errors = [e.text for e in details.find_elements(By.CSS_SELECTOR, ".error")]
    assert errors[0] == XSS  # shown as text, never run
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert severe_console_messages(driver) == []
