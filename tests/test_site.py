"""The documentation site as a reader meets it, in a real browser (headless Chromium, Debian's
`chromium` and `chromium-driver`, which `make browser` installs): every board column on screen at a
laptop's width, every report figure loaded, navigation that leads where it says, typeset formulas,
the API's fields and signatures."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
WIDTH, HEIGHT = 1440, 900  # a laptop's window
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no headless Chromium here: `make browser` installs Debian's chromium and chromium-driver (root and apt)",
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built as `make test` builds it, served over HTTP; yields its address."""
    folder = tmp_path_factory.mktemp("site")
    mkdocs = [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(folder)]
    built = subprocess.run(mkdocs, cwd=ROOT, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(argument)
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def visit(browser, url: str) -> None:
    """Open `url` and wait until its page and everything it loads are in (at most 20 s)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    ready = (
        "return document.readyState === 'complete' && document.querySelector('footer') !== null"
        " && [...document.images].every(image => image.complete)"
    )
    here = url.rstrip("/") + "/"
    WebDriverWait(browser, 20).until(lambda driver: driver.current_url == here and driver.execute_script(ready))


def heading(browser) -> str:
    return browser.execute_script("return document.querySelector('article h1').textContent").strip("¶ \n")


HIDDEN_COLUMNS = """
return [...document.querySelectorAll('article table')].map(table => ({
  overflow: table.scrollWidth - table.clientWidth,
  columns: table.querySelectorAll('thead th').length,
  offscreen: [...table.querySelectorAll('thead th')]
    .filter(th => th.getBoundingClientRect().right > window.innerWidth + 0.5).map(th => th.textContent),
}));
"""


@pytest.mark.parametrize("board", sorted(path.stem for path in (ROOT / "leaderboards").glob("*.md")))
def test_every_board_column_is_on_screen(site, browser, board):
    visit(browser, f"{site}/leaderboards/{board}/")
    tables = browser.execute_script(HIDDEN_COLUMNS)
    assert tables and tables[0]["columns"] >= 5, tables
    for table in tables:
        assert table["overflow"] <= 0 and not table["offscreen"], (board, table)


def report_pages() -> list[str]:
    return sorted(path.parent.name for path in (ROOT / "reports").glob("*/index.md"))


@pytest.mark.parametrize("report", report_pages())
def test_every_report_figure_loads(site, browser, report):
    visit(browser, f"{site}/reports/{report}/")
    figures = browser.execute_script(
        "return [...document.querySelectorAll('article img')].map(img => [img.src, img.complete && img.naturalWidth])"
    )
    referenced = re.findall(r"\]\(([^)\s]+\.png)\)", (ROOT / "reports" / report / "index.md").read_text())
    assert len(figures) == len(referenced) > 0
    assert all(width and width > 100 for _, width in figures), figures
    for table in browser.execute_script(HIDDEN_COLUMNS):
        assert table["overflow"] <= 0, (report, table)


def test_the_home_page_names_the_leaderboards_and_its_links_lead_to_them(site, browser):
    from selenium.webdriver.common.by import By

    visit(browser, site)
    text = browser.find_element(By.TAG_NAME, "article").text
    assert "make demo" in text and "quick start" in text.lower()
    browser.find_element(By.LINK_TEXT, "Every method on the brain phantom").click()
    assert heading(browser).startswith("Leaderboard: brain-phantom")
    visit(browser, site)
    browser.find_element(By.LINK_TEXT, "Per subject in 3-D").click()
    assert heading(browser).startswith("Volume board: brain-phantom-volumes")


def test_navigation_reaches_the_quick_start_and_one_page_per_method(site, browser):
    from selenium.webdriver.common.by import By

    visit(browser, site)
    browser.find_element(By.CSS_SELECTOR, "nav.md-nav--primary a[href$='quickstart/']").click()
    assert heading(browser) == "Quick start"
    for method in ("ddpm", "thor", "anoddpm", "autoddpm", "pddpm", "dae", "andi", "cddpm", "ldm", "intensity"):
        visit(browser, f"{site}/methods/{method}/")
        titles = browser.execute_script("return [...document.querySelectorAll('article h2')].map(h => h.id)")
        assert "departures-from-the-released-code" in titles, (method, titles)  # the README, shipped beside the code
    visit(browser, f"{site}/methods/")
    browser.find_element(By.LINK_TEXT, "thor").click()
    assert heading(browser) == "THOR"


def test_formulas_are_typeset_and_lists_render_as_lists(site, browser):
    visit(browser, f"{site}/evaluation/")
    sizes = browser.execute_script(
        "return [...document.querySelectorAll('article math')].map(m => m.getBoundingClientRect().height)"
    )
    assert len(sizes) >= 6 and min(sizes) > 8, sizes  # laid out by the browser's MathML, not shown as text
    text = browser.execute_script("return document.querySelector('article').innerText")
    assert "\\(" not in text and "\\frac" not in text
    items = browser.execute_script("return [...document.querySelectorAll('article li')].map(li => li.innerText)")
    assert any(item.startswith("thor-compat (the paper's Table 2)") for item in items)
    assert any(item.startswith("standard: connected components") for item in items)


def test_the_api_page_shows_dataclass_fields_and_the_contracts_signatures(site, browser):
    visit(browser, f"{site}/api/")
    text = browser.execute_script("return document.querySelector('article').innerText")
    assert "predict(batch: Batch) -> Prediction" in text
    ids = set(browser.execute_script("return [...document.querySelectorAll('article [id]')].map(e => e.id)"))
    fields = ("case_id", "image", "mask", "subject_id", "slice_index", "brain_mask")
    assert {f"anobench.api.Case.{field}" for field in fields} <= ids
    assert {"anobench.api.Prediction.nfe", "anobench.api.Prediction.network_seconds"} <= ids
