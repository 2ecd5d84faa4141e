# ruff: noqa: F811  (pytest fixtures imported from the harnesses are parameters of the tests)
"""The 112 operator's console in a real headless Chromium against a real ``geodispatch serve``.

Login (good key, bad key), create by typing and by clicking the map, the recommendation shown
equals the API's (ids and ETAs), dispatch, a second browser seeing the change within 1 s, a race
between two browsers on one unit, the lifecycle to closed, a call at sea, the unit key, key
revocation, server restart, no request leaving the server's host, no errors in the console.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_harness import SOURCE, ServerProcess, auth, fleet, make_keys, scenario  # noqa: F401
from console_harness import Browser, browser_factory, browser_paths, reset_dispatch_state  # noqa: F401

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """One server for the module: the synthetic regency with its whole fleet, one key per role."""
    from geodispatch.scenario import load_scenario

    browser_paths()  # skip before starting anything when there is no browser
    db = f"sqlite:///{tmp_path_factory.mktemp('console') / 'dispatch.db'}"
    keys = make_keys(db, "psc-01-amb-1")
    server = ServerProcess(SOURCE, db).start()
    try:
        with httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=30) as client:
            for body in fleet(load_scenario(SOURCE)):
                assert client.post("/units", json=body).status_code == 201
        yield server, keys
    finally:
        server.stop()


@pytest.fixture
def api(served: tuple[ServerProcess, dict[str, str]]) -> Iterator[httpx.Client]:
    server, keys = served
    with httpx.Client(base_url=server.url, headers=auth(keys["dispatcher"]), timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def _close_open_incidents(served: tuple[ServerProcess, dict[str, str]]) -> Iterator[None]:
    """Every test starts with the whole fleet available and no open incident."""
    yield
    server, keys = served
    reset_dispatch_state(server.url, keys["admin"])


SCREENSHOT_ENV = "GEODISPATCH_CONSOLE_SCREENSHOT"
"""Set to a path (the README uses ``docs/console.png``) to have the typing test write its screenshot there."""


def _screenshot(b: Browser, tmp_path: Path) -> Path:
    """The new call with its recommendation, route lines and the units list, framed on the routes."""
    b.driver.set_window_size(1920, 1200)  # a 112 centre's full-HD screen: call and situation side by side
    b.js("const gd = window.geodispatchConsole, layers = gd.map._layers, bounds = L.latLngBounds([]);"
         "Object.values(layers).forEach(l => { if (l instanceof L.Polyline && l.options.pane === 'routes')"
         " bounds.extend(l.getBounds()); });"
         "gd.map.fitBounds(bounds.pad(0.25), {animate: false});")
    time.sleep(1.5)  # the minor roads of the new view
    shot = tmp_path / "console.png"
    assert b.driver.save_screenshot(str(shot)), "the browser took no screenshot"
    return shot


def _publish(shot: Path, dest: Path) -> None:
    """Move the screenshot into place atomically (a reader never sees half a PNG)."""
    import shutil

    from geodispatch.output import atomic_file

    with atomic_file(dest if dest.is_absolute() else REPO / dest, suffix=".png") as part:
        shutil.copyfile(shot, part)


def _station(scenario: Any, type_: str) -> Any:
    return next(s for s in scenario.stations if s.type == type_)


def _type_point(b: Browser, lon: float, lat: float, type_: str = "medis", priority: int = 1) -> None:
    from selenium.webdriver.support.ui import Select

    for testid, value in (("incident-lon", lon), ("incident-lat", lat)):
        field = b.find(testid)
        field.clear()
        field.send_keys(f"{value:.6f}")
    Select(b.find("incident-type")).select_by_value(type_)
    Select(b.find("incident-priority")).select_by_value(str(priority))


def _rec_units(b: Browser) -> list[tuple[str, float]]:
    rows = b.js("return [...document.querySelectorAll('[data-testid=rec-unit]')]"
                ".map(r => [r.dataset.unitId, r.dataset.etaS])")
    return [(u, float(e)) for u, e in rows]


def _create(b: Browser) -> int:
    """Click create, wait for the recommendation, return the new incident's id."""
    rows = "return [...document.querySelectorAll('[data-testid=incident-row]')].map(r => r.dataset.incidentId)"
    before = set(b.js(rows))
    b.find("incident-create").click()
    new = b.wait(lambda: set(b.js(rows)) - before, 30, "the new incident's row")
    b.wait(lambda: b.find_all("rec-unit"), 10, "the recommendation")
    return int(next(iter(new)))


# ---------------------------------------------------------------- login
def test_login_good_and_bad_key(served: tuple[ServerProcess, dict[str, str]], browser_factory: Any) -> None:
    server, keys = served
    b = browser_factory()
    b.driver.get(server.url + "/console")
    assert b.js("return document.documentElement.lang") == "id"
    b.wait(lambda: b.find("key-input").is_displayed(), 20, "the login form")
    b.find("key-input").send_keys("gdk_00000000_thisisnotavalidkeyatallreally")
    b.find("key-submit").click()
    text = b.wait(b.error_text, 10, "the error for a bad key")
    assert "Kunci API salah" in text
    assert b.js("return sessionStorage.getItem('geodispatch.key')") is None
    assert not b.find("incident-create").is_displayed()
    b.find("key-input").clear()
    b.login(server.url, keys["dispatcher"])
    assert b.find("role").get_attribute("data-role") == "dispatcher"
    assert b.error_text() == ""
    assert b.js("return sessionStorage.getItem('geodispatch.key')") == keys["dispatcher"]
    assert keys["dispatcher"] not in b.driver.current_url
    units = b.units()
    assert len(units) == len(fleet(__import__("geodispatch.scenario").scenario.load_scenario(SOURCE)))
    assert set(units.values()) == {"available"}
    # the island's speedboat and ferry: dashed lines on the map, as on the coverage maps
    dashed = ("let n = 0; window.geodispatchConsole.map.eachLayer((l) => {"
              " if (l instanceof L.Polyline && l.options.dashArray === '8 6') n++; }); return n")
    assert b.wait(lambda: b.js(dashed) == 2, 10, "the two dashed sea crossings")


# ---------------------------------------------------------------- create, recommend, dispatch, close
def test_create_by_typing_recommendation_dispatch_and_close(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any,
    tmp_path: Path,
) -> None:
    server, keys = served
    b = browser_factory()
    b.login(server.url, keys["dispatcher"])
    s = _station(scenario, "damkar")
    _type_point(b, s.lon + 0.004, s.lat + 0.002, "kebakaran", 1)
    incident_id = _create(b)
    shown = _rec_units(b)
    stored = api.get(f"/incidents/{incident_id}").json()
    assert stored["type"] == "kebakaran" and stored["priority"] == 1
    assert stored["lon"] == pytest.approx(s.lon + 0.004, abs=1e-6)
    rec = stored["recommendation"]
    assert [u for u, _ in shown] == rec["unit_ids"] and len(shown) == 3
    assert [e for _, e in shown] == rec["etas_s"]
    # the API answers the same for a new incident at the same place (same units, same ETAs)
    again = api.post("/incidents", json={"type": "kebakaran", "priority": 1, "lon": s.lon + 0.004,
                                         "lat": s.lat + 0.002}).json()
    assert again["recommendation"]["unit_ids"] == rec["unit_ids"]
    assert again["recommendation"]["etas_s"] == rec["etas_s"]
    api.patch(f"/incidents/{again['id']}", json={"status": "cancelled"})
    # route lines drawn for each recommended unit
    drawn = b.wait(lambda: b.js("return window.geodispatchConsole.routes"), 10, "the route lines")
    assert drawn == rec["unit_ids"]
    shot = _screenshot(b, tmp_path) if os.environ.get(SCREENSHOT_ENV) else None
    b.click("dispatch-confirm")
    b.wait(lambda: all(b.units()[u] == "dispatched" for u in rec["unit_ids"]), 10, "the units to show dispatched")
    row = f"document.querySelector('[data-testid=incident-row][data-incident-id=\"{incident_id}\"]')"
    b.wait(lambda: b.js(f"return {row}.dataset.status") == "dispatched", 10, "the incident to show dispatched")
    for unit_id in rec["unit_ids"]:
        assert api.get(f"/units/{unit_id}").json()["incident_id"] == incident_id
    for step in ("en_route", "on_scene", "closed"):
        b.click(f"incident-{step}")
        b.wait(lambda st=step: api.get(f"/incidents/{incident_id}").json()["status"] == st, 10, f"status {step}")
    b.wait(lambda: not b.js(f"return {row}"), 10, "the closed incident to leave the list")
    b.wait(lambda: all(b.units()[u] == "available" for u in rec["unit_ids"]), 10, "the units to be available again")
    entries = b.wait(lambda: b.find_all("timeline-entry"), 10, "the timeline")
    assert len(entries) >= 5  # created, dispatched, en route, on scene, closed
    assert b.error_text() == ""
    assert b.requested_hosts() == {f"127.0.0.1:{server.port}"}
    assert b.console_errors() == []
    if shot is not None:  # only a passing test replaces the README's picture
        _publish(shot, Path(os.environ[SCREENSHOT_ENV]))


def test_create_by_clicking_the_map(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    server, keys = served
    b = browser_factory()
    b.login(server.url, keys["dispatcher"])
    s = _station(scenario, "psc")
    b.js("window.geodispatchConsole.map.setView([arguments[1], arguments[0]], 15, {animate: false})", s.lon, s.lat)
    x, y = b.js("const p = window.geodispatchConsole.map.latLngToContainerPoint([arguments[1], arguments[0]]);"
                "return [p.x, p.y]", s.lon + 0.002, s.lat)
    map_el = b.driver.find_element("id", "map")
    size = map_el.size
    ActionChains(b.driver).move_to_element_with_offset(map_el, int(x - size["width"] / 2),
                                                       int(y - size["height"] / 2)).click().perform()
    lon = float(b.wait(lambda: b.find("incident-lon").get_attribute("value"), 5, "lon filled by the click"))
    lat = float(b.find("incident-lat").get_attribute("value"))
    assert lon == pytest.approx(s.lon + 0.002, abs=1e-4) and lat == pytest.approx(s.lat, abs=1e-4)  # a few px
    incident_id = _create(b)
    stored = api.get(f"/incidents/{incident_id}").json()
    assert (stored["lon"], stored["lat"]) == (pytest.approx(lon, abs=1e-6), pytest.approx(lat, abs=1e-6))
    assert [u for u, _ in _rec_units(b)] == stored["recommendation"]["unit_ids"]
    assert b.console_errors() == []


def test_call_at_sea_is_explained(served: tuple[ServerProcess, dict[str, str]], browser_factory: Any) -> None:
    server, keys = served
    b = browser_factory()
    b.login(server.url, keys["dispatcher"])
    region = httpx.get(server.url + "/region", headers=auth(keys["dispatcher"])).json()
    west, south = region["bbox"][:2]
    _type_point(b, west - 2.0, south - 2.0)  # open sea, outside the regency
    b.find("incident-create").click()
    text = b.wait(b.error_text, 10, "the 422 explanation")
    assert "di luar wilayah" in text and "outside the region" in text  # words, then the API's detail
    assert b.find_all("incident-row") == []


# ---------------------------------------------------------------- two operators
def test_second_browser_sees_the_change_within_a_second_and_a_race_is_explained(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any
) -> None:
    server, keys = served
    a, b = browser_factory(), browser_factory()
    a.login(server.url, keys["dispatcher"])
    b.login(server.url, keys["dispatcher"])
    s = _station(scenario, "psc")
    # both operators take a call at the same place: both are recommended the same ambulance
    for browser in (a, b):
        _type_point(browser, s.lon + 0.003, s.lat + 0.001, "medis", 1)
    inc_a = _create(a)
    b.wait(lambda: b.js(f"return !!document.querySelector('[data-testid=incident-row][data-incident-id=\"{inc_a}\"]')"),
           1.0, "operator B to see operator A's new incident")
    inc_b = _create(b)
    unit = _rec_units(a)[0][0]
    assert _rec_units(b)[0][0] == unit
    a.click("dispatch-confirm")
    a.wait(lambda: a.units()[unit] == "dispatched", 10, "A's own dispatch")
    # B sees the unit change pushed by the server within 1 s of A's screen showing it
    b.wait(lambda: b.units()[unit] == "dispatched", 1.0, "operator B to see the unit dispatched")
    # B confirms its (now stale) recommendation: 409, explained in words, a fresh one offered
    b.click("dispatch-confirm")
    text = b.wait(b.error_text, 10, "the 409 explanation")
    assert f"Unit {unit} baru saja diambil operator lain" in text and f"#{inc_a}" in text
    b.wait(lambda: _rec_units(b) and _rec_units(b)[0][0] != unit, 10, "a fresh recommendation without the taken unit")
    fresh = api.get(f"/incidents/{inc_b}/recommendation").json()
    assert [u for u, _ in _rec_units(b)] == fresh["unit_ids"]
    assert api.get(f"/units/{unit}").json()["incident_id"] == inc_a
    assert api.get(f"/incidents/{inc_b}").json()["status"] == "open"  # nothing was dispatched for B
    b.click("dispatch-confirm")
    a.wait(lambda: a.units()[fresh["unit_ids"][0]] == "dispatched", 1.0 + 10, "A to see B's dispatch")
    for browser in (a, b):
        assert browser.requested_hosts() == {f"127.0.0.1:{server.port}"}
    assert a.console_errors() == []
    assert [e for e in b.console_errors() if "409" not in e["message"]] == []


def _sse(server: ServerProcess, key: str, last_id: str | None, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    """Read ``n`` events (after the hello) from GET /events."""
    headers = auth(key) | ({"Last-Event-ID": last_id} if last_id is not None else {})
    out: list[dict[str, Any]] = []
    with httpx.stream("GET", server.url + "/events", headers=headers, timeout=timeout) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        block: dict[str, Any] = {}
        for line in r.iter_lines():
            if not line:
                if "event" in block:
                    out.append(block)
                    if len(out) > n:
                        return out
                block = {}
            elif not line.startswith(":") and ":" in line:
                field, _, value = line.partition(":")
                block[field] = value.lstrip(" ")
    return out


def test_events_resume_after_a_reconnect_and_filter_unit_keys(
    served: tuple[ServerProcess, dict[str, str]], api: httpx.Client
) -> None:
    import json

    server, keys = served
    hello = _sse(server, keys["dispatcher"], None, 0)[0]
    assert hello["event"] == "hello"
    start = hello["id"]
    api.patch("/units/psc-01-amb-1", json={"status": "out_of_service"})
    api.patch("/units/psc-01-amb-2", json={"status": "out_of_service"})
    api.patch("/units/psc-01-amb-1", json={"status": "available"})
    # a client that was away since `start` gets exactly the three changes, in order, with ids
    got = _sse(server, keys["dispatcher"], start, 3)
    assert got[0]["event"] == "hello" and got[0]["id"] == start
    events = got[1:4]
    assert [(e["event"], json.loads(e["data"])["id"], json.loads(e["data"])["status"]) for e in events] == [
        ("unit", "psc-01-amb-1", "out_of_service"), ("unit", "psc-01-amb-2", "out_of_service"),
        ("unit", "psc-01-amb-1", "available")]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and ids[0] > int(start)
    # resuming from the middle gives only the rest
    rest = _sse(server, keys["dispatcher"], str(ids[0]), 2)[1:3]
    assert [int(e["id"]) for e in rest] == ids[1:]
    # a unit key sees only its own unit
    mine = _sse(server, keys["unit"], start, 2)[1:]
    assert [json.loads(e["data"])["id"] for e in mine] == ["psc-01-amb-1", "psc-01-amb-1"]
    # an unknown id (another database) says reset
    assert _sse(server, keys["dispatcher"], str(10**9), 0)[0]["event"] == "reset"
    assert httpx.get(server.url + "/events", timeout=5).status_code == 401


# ---------------------------------------------------------------- keyboard, language, desa, coverage
def test_keyboard_flow_language_toggle_desa_picker_and_coverage(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any
) -> None:
    from selenium.webdriver.common.keys import Keys

    server, keys = served
    b = browser_factory()
    b.login(server.url, keys["dispatcher"])
    body = b.driver.find_element("tag name", "body")
    # language: Bahasa Indonesia by default, English by the toggle (L), back again
    assert b.find("incident-create").text == "Buat kejadian"
    body.send_keys("l")
    b.wait(lambda: b.js("return document.documentElement.lang") == "en", 5, "English")
    assert b.find("incident-create").text == "Create incident"
    b.click("lang-toggle")
    b.wait(lambda: b.js("return document.documentElement.lang") == "id", 5, "Bahasa Indonesia again")
    # a call placed by village name: the desa picker fills lon/lat with a point inside the desa
    area = scenario.areas.iloc[3]
    body.send_keys("/")
    picker = b.find("desa-input")
    assert b.js("return document.activeElement") == picker
    picker.send_keys(str(area["name"]))
    picker.send_keys(Keys.TAB)
    lon = float(b.wait(lambda: b.find("incident-lon").get_attribute("value"), 5, "lon from the desa"))
    lat = float(b.find("incident-lat").get_attribute("value"))
    from shapely.geometry import Point

    assert area.geometry.contains(Point(lon, lat))
    # keyboard only: N focuses the form, Enter creates, Enter (outside a field) dispatches, 1-3 lifecycle
    body.send_keys(Keys.ESCAPE)
    body.send_keys("n")
    assert b.js("return document.activeElement.dataset.testid") == "incident-lon"
    rows = "return [...document.querySelectorAll('[data-testid=incident-row]')].map(r => r.dataset.incidentId)"
    b.js("return document.activeElement").send_keys(Keys.ENTER)
    new = b.wait(lambda: b.js(rows), 30, "the incident created from the keyboard")
    incident_id = int(new[0])
    b.wait(lambda: b.find_all("rec-unit"), 10, "the recommendation")
    rec = api.get(f"/incidents/{incident_id}").json()["recommendation"]
    b.js("document.activeElement.blur()")
    body.send_keys(Keys.ENTER)
    b.wait(lambda: api.get(f"/incidents/{incident_id}").json()["status"] == "dispatched", 10, "dispatch by Enter")
    body.send_keys("1")  # first lifecycle button of a dispatched incident: en route
    b.wait(lambda: api.get(f"/incidents/{incident_id}").json()["status"] == "en_route", 10, "en route by 1")
    # coverage layer: the summary states the share of people reached by the units available now
    body.send_keys("c")
    summary = b.wait(lambda: b.find("coverage-summary").text, 60, "the coverage summary")
    cov = api.get("/coverage", params={"minutes": 15}).json()
    assert f"{round(cov['population']['share'] * 100)}%" in summary
    assert f"{cov['units_available']} unit" in summary
    assert cov["units_available"] == len(scenario_fleet(scenario)) - len(rec["unit_ids"])
    assert b.console_errors() == [] and b.error_text() == ""


def scenario_fleet(scenario: Any) -> list[dict[str, Any]]:
    return fleet(scenario)


# ---------------------------------------------------------------- keys and restarts
def test_unit_key_changes_only_its_own_unit(served: tuple[ServerProcess, dict[str, str]], browser_factory: Any,
                                            api: httpx.Client) -> None:
    server, keys = served
    b = browser_factory()
    b.login(server.url, keys["unit"])
    assert b.find("role").get_attribute("data-role") == "unit"
    assert b.units() == {"psc-01-amb-1": "available"}
    assert not b.find("incident-create").is_displayed()
    b.click("unit-status-out_of_service")
    b.wait(lambda: b.units() == {"psc-01-amb-1": "out_of_service"}, 10, "its own status change")
    assert api.get("/units/psc-01-amb-1").json()["status"] == "out_of_service"
    # another unit's change does not reach this screen; its own does, pushed by the server
    api.patch("/units/psc-01-amb-2", json={"status": "out_of_service"})
    api.patch("/units/psc-01-amb-1", json={"status": "available"})
    b.wait(lambda: b.units() == {"psc-01-amb-1": "available"}, 2, "its own unit's change from the dispatcher")
    assert b.console_errors() == [] and b.error_text() == ""


def test_revoked_key_mid_shift_asks_again(served: tuple[ServerProcess, dict[str, str]], browser_factory: Any) -> None:
    server, keys = served
    admin = httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=30)
    made = admin.post("/keys", json={"role": "dispatcher", "label": "shift"}).json()
    b = browser_factory()
    b.login(server.url, made["key"])
    assert admin.delete(f"/keys/{made['id']}").status_code in (200, 204)
    # the next request is refused: the console says so
    b.js("document.querySelector('[data-testid=unit-status-out_of_service]').click()")
    text = b.wait(lambda: "tidak berlaku" in b.error_text() and b.error_text(), 30, "the revoked-key message")
    assert "tidak berlaku" in text
    b.wait(lambda: b.find("key-input").is_displayed(), 30, "the login form again")
    assert b.js("return sessionStorage.getItem('geodispatch.key')") is None


def test_server_restart_reconnects_and_reloads(tmp_path: Path, browser_factory: Any) -> None:
    from geodispatch.scenario import load_scenario

    db = f"sqlite:///{tmp_path / 'restart.db'}"
    keys = make_keys(db, "psc-01-amb-1")
    server = ServerProcess(SOURCE, db).start()
    try:
        with httpx.Client(base_url=server.url, headers=auth(keys["admin"]), timeout=30) as client:
            for body in fleet(load_scenario(SOURCE))[:4]:
                client.post("/units", json=body).raise_for_status()
        b = browser_factory()
        b.login(server.url, keys["dispatcher"])
        unit = sorted(b.units())[0]
        server.stop()
        b.wait(lambda: b.js("return document.getElementById('live').dataset.state") == "retry", 15, "the outage")
        # while the server is down, another process changes the state in the database
        again = ServerProcess(SOURCE, db, port=server.port)
        changed = ServerProcess(SOURCE, db).start()
        httpx.patch(f"{changed.url}/units/{unit}", json={"status": "out_of_service"}, headers=auth(keys["admin"]),
                    timeout=30).raise_for_status()
        changed.stop()
        again.start()
        server = again
        b.wait(lambda: b.js("return document.getElementById('live').dataset.state") == "on", 30, "the reconnection")
        b.wait(lambda: b.units()[unit] == "out_of_service", 10, "the change made while it was away")
        assert b.error_text() == ""
    finally:
        server.stop()
