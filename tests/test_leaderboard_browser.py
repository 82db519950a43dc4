"""The built leaderboard in a real headless Chromium: every page kind loads without console
errors (over http and from file://), sorting, group filters, the sample viewer's overlay and
stepping, hostile text that runs nothing, and no horizontal overflow at 1400 and 390 px.

Screenshots go to ``$VISANOM_SCREENSHOTS`` when set (else the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, serve, severe_console_messages, skip_reason
from lb_fixtures import write_run2
from test_leaderboard import XSS, write_results

from leaderboard import build_site
from leaderboard.build import build

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

ROW_ORDER = "return Array.from(document.querySelectorAll('table.board')[arguments[0]].tBodies[0].rows, r => r.dataset.model);"
PWN = "window.__pwned=1"
HOSTILE = [
    f"<script>{PWN}</script>",
    f'<img src=x onerror="{PWN}">',
    f"<svg onload={PWN}>",
    f"javascript:{PWN}",
    f"</script><script>{PWN}</script>",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lb")
    return build_site(write_results(root / "results"), root / "site").parent


@pytest.fixture(scope="module")
def full_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A /2 site with every page kind, text and score models, and hostile names and answers."""
    root = tmp_path_factory.mktemp("lb2")
    results = root / "results"
    write_run2(results, "visanombench", "VisAnomReasoner-7B", value=0.7, n=6,
               display={"group": "ours", "paper_row": "VisAnomReasoner-7B"})
    write_run2(results, "visanombench", "IForest", value=0.45, n=6, display={"group": "classical"})
    for k, payload in enumerate(HOSTILE):
        write_run2(results, "visanombench", payload, spec_id=f"hostile{k}", label=payload, answer=payload, n=6,
                   value=0.1 + k / 100,
                   display={"group": payload, "label": payload, "url": f"javascript:{PWN}", "note": payload})
    write_run2(results, "tsb-ad-u", "POLY", kind="score", headline="VUS-PR", value=0.4, n=4, length=5000,
               display={"group": "classical"}, degenerate=(1,))
    write_run2(results, "tsb-ad-u", "Sub-PCA", kind="score", headline="VUS-PR", value=0.42, n=4, length=5000,
               display={"group": "classical"})
    build(results, root / "site")
    return root / "site"


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


def pages(site: Path) -> list[str]:
    return ["index.html", *sorted(p.relative_to(site).as_posix() for p in site.glob("*/*/*.html"))]


def test_sorting_over_http(site: Path, driver: Any) -> None:
    with serve(site) as base:
        driver.get(base + "index.html")
        assert driver.title == "visanom leaderboard"
        assert rows(driver, 0) == ["vlm", "iforest", "random"]
        assert aria_sort(driver, 0)[2] == "descending"  # the headline follows the model column
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
    assert "#s=s-3" in details.find_element(By.CSS_SELECTOR, "a.sample-id").get_attribute("href")  # ids open the viewer
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert severe_console_messages(driver) == []


def test_every_page_kind_loads_clean_over_http_and_file(full_site: Path, driver: Any) -> None:
    kinds = {p.split("/")[0] for p in pages(full_site)}
    assert kinds == {"index.html", "models", "samples", "tasks"}
    with serve(full_site) as base:
        for page in pages(full_site):
            for url in (base + page, (full_site / page).as_uri()):
                driver.get(url)
                assert severe_console_messages(driver) == [], url
                assert driver.execute_script("return window.__pwned") is None, url
                if page.startswith("samples/"):  # the viewer script ran (CSP let our own file through)
                    n = 6 if "visanombench" in page else 4
                    assert driver.execute_script("return document.getElementById('sample-select').options.length") == n


def test_group_filter_hides_rows_and_bars(full_site: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    driver.get((full_site / "index.html").as_uri())
    # visible as a reader sees it: a laid-out box, not the elements' JS `hidden` property
    seen = "const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0;"
    visible = f"return Array.from(document.querySelectorAll('#board-visanombench tbody tr')).filter(e => {{ {seen} }}).map(r => r.dataset.group);"
    before = driver.execute_script(visible)
    assert "classical" in before and "ours" in before
    box = driver.find_element(By.CSS_SELECTOR, "[data-filter-for='board-visanombench']")
    box.find_element(By.CSS_SELECTOR, "input[value='classical']").click()
    after = driver.execute_script(visible)
    assert "classical" not in after and after.count("ours") == before.count("ours")
    bars = f"return Array.from(document.querySelectorAll('#task-visanombench svg g.bar rect')).filter(e => {{ {seen} }}).length;"
    assert driver.execute_script(bars) == 6  # 7 measured rows, the classical one hidden
    box.find_element(By.CSS_SELECTOR, "input[value='@reported']").click()
    assert not driver.execute_script(
        f"return Array.from(document.querySelectorAll('#board-visanombench tbody tr[data-reported]')).filter(e => {{ {seen} }})")
    assert severe_console_messages(driver) == []


def test_viewer_overlay_and_stepping(full_site: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    page = next(p for p in pages(full_site) if p.startswith("samples/visanombench"))
    driver.get((full_site / page).as_uri() + "#s=s0002")
    title = driver.find_element(By.ID, "sample-title")
    assert title.text == "s0002"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plot rect.gt")) == 2  # on the plot image and the series strip
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plot rect.pred")) == 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plot svg image")) == 1  # a failed load is a SEVERE console entry
    driver.find_element(By.ID, "next").click()
    assert title.text == "s0003" and driver.current_url.endswith("#s=s0003")
    driver.find_element(By.ID, "prev").click()
    driver.find_element(By.ID, "prev").click()
    assert title.text == "s0001"
    assert "two index tags" in driver.find_element(By.ID, "issues").text
    # across models on the same sample: the compare page, then another model's viewer
    driver.find_element(By.ID, "compare-link").click()
    assert driver.find_element(By.ID, "sample-title").text == "s0001"
    links = driver.find_elements(By.CSS_SELECTOR, "#compare-body .model a")
    assert len(links) == 7
    links[1].click()
    assert driver.find_element(By.ID, "sample-title").text == "s0001"
    assert severe_console_messages(driver) == []


def test_score_viewer_draws_curves_and_threshold(full_site: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    page = next(p for p in pages(full_site) if p.startswith("samples/tsb-ad-u"))
    driver.get((full_site / page).as_uri())
    assert driver.find_elements(By.CSS_SELECTOR, "#plot path.series") and driver.find_elements(By.CSS_SELECTOR, "#plot path.score")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plot line.threshold")) == 1
    assert len(driver.find_elements(By.CSS_SELECTOR, "#plot rect.gt")) == 2  # the band on both curves
    assert severe_console_messages(driver) == []


def test_hostile_text_is_shown_as_text(full_site: Path, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    hostile_pages = [p for p in pages(full_site) if p.startswith("samples/visanombench")]
    shown = set()
    for page in hostile_pages:
        driver.get((full_site / page).as_uri())
        shown.add(driver.find_element(By.ID, "answer").text)
        assert driver.execute_script("return window.__pwned") is None
    assert set(HOSTILE) <= shown
    driver.get((full_site / "index.html").as_uri())
    names = {e.text.removesuffix(" i") for e in driver.find_elements(By.CSS_SELECTOR, "#board-visanombench .model-name")}
    assert set(HOSTILE) <= names
    assert driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']") == []
    assert driver.execute_script("return window.__pwned") is None


@pytest.mark.parametrize("width", [1400, 390])
def test_screenshots_without_horizontal_overflow(full_site: Path, driver: Any, width: int, tmp_path: Path) -> None:
    out = Path(os.environ.get("VISANOM_SCREENSHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 1000)
    try:
        for page in pages(full_site):
            driver.get((full_site / page).as_uri())
            inner = driver.execute_script("return window.innerWidth")
            body = driver.execute_script("return document.body.scrollWidth")
            assert body <= inner, f"{page} at {width}px: body {body}px wider than the viewport {inner}px"
            driver.save_screenshot(str(out / f"{width}-{page.replace('/', '_')}.png"))
    finally:
        driver.set_window_size(1400, 1000)
