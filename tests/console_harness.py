"""Real-browser fixtures for the console tests: headless Chromium driven by Selenium through the
system ``chromedriver`` (Debian's ``chromium`` + ``chromium-driver``), against a real
``geodispatch serve`` process on 127.0.0.1.

Tests skip, with the reason, only when no browser or driver exists on the machine (``.ci/run``
installs them where it can).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def browser_paths() -> tuple[str, str]:
    """(browser binary, chromedriver), or skip the test saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]')")
    binary = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if Path(p).exists()), None
    )
    if binary is None or driver is None:
        pytest.skip("no Chromium and chromedriver on this machine (apt-get install chromium chromium-driver)")
    return binary, driver


class Browser:
    """One headless Chromium with its own profile; records the network and console logs."""

    def __init__(self, width: int = 1400, height: int = 900) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        binary, driver = browser_paths()
        self.profile = tempfile.mkdtemp(prefix="gd-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                    "--disable-extensions", "--disable-default-apps", "--metrics-recording-only",
                    "--disable-features=Translate,MediaRouter,OptimizationHints", f"--user-data-dir={self.profile}",
                    f"--window-size={width},{height}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(driver))
        self.driver.set_script_timeout(30)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    # ------------------------------------------------------------------ helpers
    def find(self, testid: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def find_all(self, testid: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]'))

    def wait(self, condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Poll ``condition`` every 20 ms until it returns a truthy value."""
        deadline = time.monotonic() + timeout
        last_exc: Exception | None = None
        while time.monotonic() < deadline:
            try:
                value = condition()
                if value:
                    return value
            except Exception as exc:  # stale elements while the DOM re-renders
                last_exc = exc
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" ({last_exc})" if last_exc else ""))

    def click(self, testid: str, timeout: float = 10.0) -> None:
        """Click the element (again if the DOM re-rendered it under us)."""
        def attempt() -> bool:
            self.find(testid).click()
            return True

        self.wait(attempt, timeout, f"a clickable {testid}")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def login(self, url: str, key: str) -> None:
        self.driver.get(url + "/console")
        self.find("key-input").send_keys(key)
        self.find("key-submit").click()
        try:
            self.wait(lambda: self.js("return window.geodispatchConsole && window.geodispatchConsole.ready === true"),
                      60, "the console to load after login")
        except AssertionError as exc:
            shown = self.error_text()
            raise AssertionError(f"{exc}; error shown: {shown!r}; console: {self.console_errors()}") from None

    def units(self) -> dict[str, str]:
        """unit id -> status shown."""
        return dict(self.js("return [...document.querySelectorAll('[data-testid=unit-row]')]"
                            ".map(r => [r.dataset.unitId, r.dataset.status])"))

    def error_text(self) -> str:
        return str(self.js("const e = document.querySelector('[data-testid=error]');"
                           "return e.hidden ? '' : e.innerText"))

    def requested_hosts(self) -> set[str]:
        """Hosts of every request the page made (from Chromium's performance log)."""
        hosts = set()
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if url.startswith(("http:", "https:", "ws:", "wss:")):
                    hosts.add(urlsplit(url).netloc)
        return hosts

    def console_errors(self) -> list[dict[str, Any]]:
        return [e for e in self.driver.get_log("browser") if e.get("level") == "SEVERE"]


@pytest.fixture
def browser_factory() -> Iterator[Callable[[], Browser]]:
    """Make browsers; every one is closed after the test."""
    made: list[Browser] = []

    def make() -> Browser:
        b = Browser()
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def reset_dispatch_state(url: str, admin_key: str) -> None:
    """Cancel every open incident and make every unit available again (between browser tests)."""
    import httpx
    from api_harness import auth

    with httpx.Client(base_url=url, headers=auth(admin_key), timeout=30) as client:
        for inc in client.get("/incidents").json():
            client.patch(f"/incidents/{inc['id']}", json={"status": "cancelled"})
        for unit in client.get("/units").json():
            if unit["status"] != "available":
                client.patch(f"/units/{unit['id']}", json={"status": "available"})
