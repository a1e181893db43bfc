"""The dashboard in a real browser: headless Debian Chromium driven by Selenium loads the page while
a pipeline runs, sees the operator rows update live, and takes a screenshot.

Skips (saying why) where Chromium, its driver or Selenium is not installed (.ci/run installs them)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Any

import pytest

import streamdata as sd
from _obs_util import wait_until

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra has it)")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip(f"headless Chromium needs {CHROMIUM} and {CHROMEDRIVER} (Debian: apt-get install chromium "
                "chromium-driver; .ci/run does)", allow_module_level=True)

RUNTIME_INIT = {"num_cpus": 2, "include_dashboard": True, "dashboard_port": 0}


def _slow(batch: dict, release: str = "") -> dict:
    """The first half of the rows pass; the second half wait for ``release`` (so the page is
    sure to see the operator running with some rows, then with more)."""
    time.sleep(0.05)
    if int(batch["id"][0]) >= 2000:
        deadline = time.monotonic() + 120
        while not os.path.exists(release) and time.monotonic() < deadline:
            time.sleep(0.02)
    return batch


@pytest.fixture
def browser(tmp_path: Any) -> Any:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="sd-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1800"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception as exc:  # noqa: BLE001 - a browser that cannot start here is a skip, said why
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"headless Chromium could not start: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


#: read in the page in one step (the live sections are swapped every second)
_READ_ROWS = """
for (const ds of document.querySelectorAll('div.dataset')) {
  if (arguments[0] && !ds.querySelector('h3').textContent.includes('RUNNING')) continue;
  for (const row of ds.querySelectorAll('table.operators tbody tr')) {
    if ((row.dataset.key || '').includes('MapBatches(_slow)')) return row.cells[1].textContent;
  }
}
return null;"""


def _rows_of_map(driver: Any, running_only: bool) -> int | None:
    text = driver.execute_script(_READ_ROWS, running_only)
    return None if text is None else int(text.replace(",", ""))


def test_the_page_updates_operator_rows_while_a_pipeline_runs(runtime: dict, browser: Any,
                                                              tmp_path: Any) -> None:
    release = str(tmp_path / "release")
    ds = sd.range(4000, override_num_blocks=40).map_batches(_slow, fn_kwargs={"release": release})
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(ds.materialize()), daemon=True)
    runner.start()
    browser.get(runtime["dashboard_url"] + "/")
    first = wait_until(lambda: (n := _rows_of_map(browser, True)) is not None and n > 0 and (n,),
                       timeout=60, what="the running MapBatches(_slow) operator with rows on the page")[0]
    assert first <= 2000  # the second half is held back
    open(release, "w").close()
    # once released, the rest may finish between two refreshes: the row count of the (by then
    # perhaps finished) operator must still grow on the page without a reload
    later = wait_until(lambda: (n := _rows_of_map(browser, False)) is not None and n > first and (n,),
                       timeout=60, what=f"its rows to grow past {first} without reloading the page")[0]
    assert first < later <= 4000
    shot_dir = tempfile.mkdtemp(prefix="sd-dashboard-shot-")
    shot = os.path.join(shot_dir, "dashboard.png")
    assert browser.save_screenshot(shot)
    assert os.path.getsize(shot) > 1000
    print(f"dashboard screenshot: {shot}")
    runner.join(timeout=120)
    assert done and done[0].count() == 4000
    wait_until(lambda: "FINISHED" in browser.execute_script("return document.querySelector('div.dataset h3')"
                                                             ".textContent"),
               timeout=30, what="the page to show the dataset FINISHED")
