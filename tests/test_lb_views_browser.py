"""The analysis pages in headless Chromium: what a person sees (boxes, computed style), keyboard
reach, no console errors, hostile names that run nothing, and the outcome -> viewer link.

Screenshots at 1400 and 390 px go to ``$VISANOM_SCREENSHOTS`` when set (else the test's tmp folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, serve, severe_console_messages, skip_reason
from lb_views_fixtures import write_analysis_results
from test_leaderboard_browser import HOSTILE

from leaderboard.build import build

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
PAGES = ("ranks.html", "outcomes.html", "paired.html", "resolution.html")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("views-b")
    build(write_analysis_results(root / "results", HOSTILE), root / "site")
    return root / "site"


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with chromium() as drv:
        yield drv


def task_dir(site: Path, task: str) -> str:
    return next(f"tasks/{p.name}" for p in (site / "tasks").iterdir() if p.name.startswith(task))


def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("VISANOM_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def box(driver: Any, css: str) -> dict[str, float]:
    return driver.execute_script(
        "var e = document.querySelector(arguments[0]); if (!e) return null;"
        "var r = e.getBoundingClientRect(), s = getComputedStyle(e);"
        "return {w: r.width, h: r.height, x: r.left, display: s.display, visibility: s.visibility};", css)


def test_pages_render_visibly_without_errors_or_script(site: Path, driver: Any, tmp_path: Path) -> None:
    out = shots(tmp_path)
    with serve(site) as base:
        pair = next((site / task_dir(site, "tsb-ad-u") / "paired").iterdir()).name
        urls = [f"{task_dir(site, t)}/{p}" for t in ("tsb-ad-u", "visanombench") for p in PAGES]
        urls.append(f"{task_dir(site, 'tsb-ad-u')}/paired/{pair}")
        for width in (1400, 390):
            driver.set_window_size(width, 1000)
            for url in urls:
                driver.get(base + url)
                assert severe_console_messages(driver) == [], url
                assert driver.execute_script("return window.__pwned") is None, url
                table = box(driver, "table.board") or box(driver, "p.empty")  # score models: no images
                assert table and table["h"] > 15 and table["visibility"] == "visible", url
                assert (box(driver, "table.board") is None) == ("tsb-ad-u" in url and url.endswith("resolution.html"))
                assert driver.execute_script("return document.documentElement.scrollWidth") <= width, url
                name = re.sub(r"[^a-z0-9.-]+", "_", url.lower())
                driver.save_screenshot(str(out / f"views-{width}-{name}.png"))
            driver.get(base + f"{task_dir(site, 'tsb-ad-u')}/ranks.html")
            svg = box(driver, "svg.cd")
            assert svg["w"] >= min(560, width - 60) and svg["h"] > 100
            labels = driver.execute_script(
                "return Array.from(document.querySelectorAll('svg.cd .cd-item text')).map(t => {"
                "var r = t.getBoundingClientRect(); return [t.textContent, r.width > 0 && r.height > 0]; });")
            assert len(labels) == 5 and all(seen for _, seen in labels)
            assert driver.execute_script("return document.querySelector('svg.cd desc').textContent").count("average rank") == 5


def test_keyboard_reaches_the_nav_and_the_outcome_cells_with_visible_focus(site: Path, driver: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.set_window_size(1400, 1000)
    with serve(site) as base:
        driver.get(base + f"{task_dir(site, 'visanombench')}/outcomes.html")
        seen = []
        for _ in range(60):
            ActionChains(driver).send_keys(Keys.TAB).perform()
            info = driver.execute_script(
                "var e = document.activeElement, s = getComputedStyle(e);"
                "return [e.tagName, e.getAttribute('href') || '', s.outlineStyle, s.outlineWidth];")
            seen.append(info)
            if "?outcome=" in info[1]:
                break
        hrefs = [s[1] for s in seen]
        assert any(h.endswith("ranks.html") for h in hrefs)
        assert "?outcome=" in hrefs[-1], hrefs
        assert seen[-1][2] != "none" and seen[-1][3] != "0px"  # a visible focus ring


def test_outcome_cell_opens_the_viewer_on_exactly_those_samples(site: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.set_window_size(1400, 1000)
    with serve(site) as base:
        driver.get(base + f"{task_dir(site, 'visanombench')}/outcomes.html")
        link = driver.find_element(By.CSS_SELECTOR, "td.outcome a[href*='?outcome=missed']")
        want = int(re.search(r"\((\d+)\)", link.text).group(1))
        link.click()
        position = driver.find_element(By.ID, "position").text
        assert position == f"1 of {want}"
        note = driver.find_element(By.CSS_SELECTOR, "p.notice")
        assert note.is_displayed() and "missed" in note.text
        options = driver.execute_script("return document.getElementById('sample-select').options.length")
        assert options == want
        assert severe_console_messages(driver) == []
