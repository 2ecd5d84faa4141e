# ruff: noqa: F811  (pytest fixtures imported from the harnesses are parameters of the tests)
"""The 112 workflow in the console, in a real headless Chromium against a real ``geodispatch serve``.

The call taker sees each agency's queue and, under every open incident, its forwards with a live
countdown to the acknowledgement deadline, an overdue warning in words and an escalate button;
an agency's own operator (an ``agency`` key) sees only the reports forwarded to it and its own
units, acknowledges, and dispatches its own units. The server runs with a 4 s acknowledgement
timeout (``serve --ack-timeout``) so a forward becomes overdue in seconds, not after a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_harness import SOURCE, ServerProcess, auth, make_keys, scenario  # noqa: F401
from console_harness import Browser, browser_factory, browser_paths, reset_dispatch_state  # noqa: F401

ACK_TIMEOUT_S = 4


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """One server: the synthetic regency, its fleet (``--fleet``: each unit with its station's agency)."""
    from geodispatch.api.keys import create_key_cli

    browser_paths()
    db = f"sqlite:///{tmp_path_factory.mktemp('console-agency') / 'dispatch.db'}"
    keys = make_keys(db, "psc-01-amb-1")
    for agency in ("syn-damkar", "syn-psc"):
        keys[agency] = create_key_cli(db, "agency", agency_id=agency)
    server = ServerProcess(SOURCE, db, extra_args=["--fleet", "--ack-timeout", str(ACK_TIMEOUT_S)]).start()
    try:
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
    yield
    server, keys = served
    reset_dispatch_state(server.url, keys["admin"])


def _point(scenario: Any) -> tuple[float, float]:
    psc = next(s for s in scenario.stations if s.type == "psc")
    return psc.lon + 0.01, psc.lat + 0.005


def _forward(b: Browser, incident_id: int, agency: str) -> dict[str, str] | None:
    """The forward row of ``agency`` under incident ``incident_id``: status and text (None when absent)."""
    return b.js(  # type: ignore[no-any-return]
        "const r = document.querySelector(`[data-testid=forward-row][data-incident-id=\"${arguments[0]}\"]"
        "[data-agency-id=\"${arguments[1]}\"]`); return r ? {status: r.dataset.status, text: r.innerText} : null",
        incident_id, agency)


def _incident_ids(b: Browser) -> list[int]:
    return [int(i) for i in b.js("return [...document.querySelectorAll('[data-testid=incident-row]')]"
                                 ".map(r => r.dataset.incidentId)")]


def _agency_rows(b: Browser) -> dict[str, tuple[int, int, int]]:
    rows = b.js("return [...document.querySelectorAll('[data-testid=agency-row]')].map(r => "
                "[r.dataset.agencyId, +r.dataset.notified, +r.dataset.overdue, +r.dataset.unitsAvailable])")
    return {a: (n, o, u) for a, n, o, u in rows}


def _queues(api: httpx.Client) -> dict[str, tuple[int, int, int]]:
    return {a["id"]: (a["notified"], a["overdue"], a["units_available"]) for a in api.get("/agencies").json()}


def test_agency_view_acknowledges_and_dispatches_its_own_units(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any
) -> None:
    from selenium.webdriver.support.ui import Select

    server, keys = served
    taker, damkar = browser_factory(), browser_factory()
    taker.login(server.url, keys["dispatcher"])
    damkar.login(server.url, keys["syn-damkar"])
    badge = damkar.find("role")
    assert badge.get_attribute("data-role") == "agency" and badge.get_attribute("data-agency-id") == "syn-damkar"
    name = next(a["name"] for a in api.get("/agencies").json() if a["id"] == "syn-damkar")
    assert name in badge.text and name in damkar.driver.find_element("id", "incidents-heading").text
    own = {u["id"]: u["status"] for u in httpx.get(server.url + "/units", headers=auth(keys["syn-damkar"])).json()}
    assert own and damkar.units() == own  # its own units only
    assert all(u["agency_id"] == "syn-damkar" for u in api.get("/units").json() if u["id"] in own)
    assert not damkar.find("incident-create").is_displayed()
    assert not damkar.driver.find_element("id", "agencies").is_displayed()
    assert not damkar.find("coverage-toggle").is_displayed()  # /coverage is not an agency's
    # the call taker records a fire in the console; a flood (not Damkar's) through the API
    lon, lat = _point(scenario)
    for testid, value in (("incident-lon", lon), ("incident-lat", lat)):
        taker.find(testid).send_keys(f"{value:.6f}")
    Select(taker.find("incident-type")).select_by_value("kebakaran")
    taker.find("incident-create").click()
    fire = taker.wait(lambda: _incident_ids(taker), 30, "the fire's row")[0]
    flood = api.post("/incidents", json={"type": "banjir", "priority": 2, "lon": lon, "lat": lat}).json()["id"]
    assert taker.wait(lambda: _forward(taker, fire, "syn-damkar"), 5, "the forward to Damkar")["status"] == "notified"
    # Damkar's operator gets the fire pushed, and only the fire
    damkar.wait(lambda: fire in _incident_ids(damkar), 5, "the fire on Damkar's screen")
    taker.wait(lambda: flood in _incident_ids(taker), 5, "the flood on the call taker's screen")
    assert _incident_ids(damkar) == [fire]
    assert _forward(damkar, fire, "syn-psc") is not None  # it sees who else was told
    # acknowledge: the call taker's screen shows it within 1 s of Damkar's own
    ack = damkar.wait(lambda: damkar.find_all("ack-button"), 5, "Terima")
    assert [b.get_attribute("data-incident-id") for b in ack] == [str(fire)]
    assert "Terima" in ack[0].text
    damkar.driver.find_element("tag name", "body").send_keys("a")  # A: acknowledge, no mouse needed
    damkar.wait(lambda: _forward(damkar, fire, "syn-damkar")["status"] == "acknowledged", 10, "Damkar's own ack")
    taker.wait(lambda: _forward(taker, fire, "syn-damkar")["status"] == "acknowledged", 1.0,
               "the call taker to see Damkar's acknowledgement")
    assert "diterima" in _forward(taker, fire, "syn-damkar")["text"]
    assert damkar.find_all("ack-button") == []
    stored = {f["agency_id"]: f["status"] for f in api.get(f"/incidents/{fire}").json()["forwarded_to"]}
    assert stored["syn-damkar"] == "acknowledged"
    # Damkar dispatches its share: its own recommended units are ticked, the PSC's ambulance is not
    damkar.js("document.querySelector(`[data-testid=incident-row][data-incident-id=\"${arguments[0]}\"]`).click()",
              fire)
    rec = api.get(f"/incidents/{fire}").json()["recommendation"]["unit_ids"]
    mine = [u for u in rec if u in own]
    assert mine and len(mine) < len(rec)
    ticked = damkar.wait(lambda: damkar.js("return [...document.querySelectorAll('#rec-units input:checked')]"
                                           ".map(b => b.value)"), 10, "Damkar's recommendation")
    assert ticked == mine
    damkar.click("dispatch-confirm")
    damkar.wait(lambda: all(damkar.units()[u] == "dispatched" for u in mine), 10, "Damkar's units dispatched")
    assert sorted(api.get(f"/incidents/{fire}").json()["unit_ids"]) == sorted(mine)
    taker.wait(lambda: all(taker.units()[u] == "dispatched" for u in mine), 2, "the call taker to see them")
    # the call taker has the caller's status link: no key, the stage in words
    taker.js("document.querySelector(`[data-testid=incident-row][data-incident-id=\"${arguments[0]}\"]`).click()",
             fire)
    link = taker.wait(lambda: taker.find("public-status-link").get_attribute("href"), 5, "the status link")
    assert link == f"{server.url}/status/{api.get(f'/incidents/{fire}').json()['public_token']}"
    public = httpx.get(link, timeout=30).json()
    assert public["stage"] == "dalam_perjalanan" and "Unit dalam perjalanan" in public["message"]
    for b in (taker, damkar):
        assert b.error_text() == ""
        assert b.requested_hosts() == {f"127.0.0.1:{server.port}"}
        assert b.console_errors() == []


def test_overdue_forward_warns_in_words_and_escalates_from_the_console(
    served: tuple[ServerProcess, dict[str, str]], browser_factory: Any, api: httpx.Client, scenario: Any
) -> None:
    server, keys = served
    taker = browser_factory()
    # the same tab, first with an agency's key, then (Keluar) the call taker's: the screen follows the role
    taker.login(server.url, keys["syn-damkar"])
    assert not taker.find("incident-create").is_displayed()
    taker.driver.find_element("id", "logout").click()
    taker.wait(lambda: taker.find("key-input").is_displayed(), 10, "the login form")
    taker.find("key-input").send_keys(keys["dispatcher"])
    taker.find("key-submit").click()
    taker.wait(lambda: taker.find("role").get_attribute("data-role") == "dispatcher" and taker.find_all("agency-row"),
               30, "the call taker's screen")
    assert taker.find("incident-create").is_displayed() and taker.find("coverage-toggle").is_displayed()
    assert len(taker.units()) == len(api.get("/units").json())
    lon, lat = _point(scenario)
    fire = api.post("/incidents", json={"type": "kebakaran", "priority": 1, "lon": lon, "lat": lat}).json()
    httpx.post(f"{server.url}/incidents/{fire['id']}/acknowledge", headers=auth(keys["syn-damkar"]),
               timeout=30).raise_for_status()
    psc = taker.wait(lambda: _forward(taker, fire["id"], "syn-psc"), 5, "the forward to the PSC")
    assert psc["status"] in ("notified", "overdue")
    # the PSC does not answer: after the region's timeout the forward turns red, in words
    late = taker.wait(lambda: (f := _forward(taker, fire["id"], "syn-psc"))["status"] == "overdue" and f,
                      ACK_TIMEOUT_S + 5, "the PSC's forward to turn overdue")
    assert "TERLAMBAT" in late["text"] and "belum menanggapi" in late["text"]
    assert _forward(taker, fire["id"], "syn-damkar")["status"] == "acknowledged"
    colour = taker.js("return getComputedStyle(document.querySelector("
                      "'[data-testid=forward-row][data-agency-id=syn-psc]')).color")
    assert colour == "rgb(179, 38, 30)"
    # the agencies panel counts it as the server does
    taker.wait(lambda: _agency_rows(taker)["syn-psc"][1] == 1, 10, "the PSC's queue to count one overdue")
    taker.wait(lambda: _agency_rows(taker) == _queues(api), 5, "the panel to match GET /agencies")
    # Eskalasi: the overdue parts go to the commanding agency (Damkar)
    shown = lambda: [b for b in taker.find_all("escalate-button") if b.is_displayed()]  # noqa: E731
    button = taker.wait(shown, 5, "Eskalasi")
    assert [b.get_attribute("data-incident-id") for b in button] == [str(fire["id"])]
    button[0].click()
    taker.wait(lambda: _forward(taker, fire["id"], "syn-psc")["status"] == "escalated", 10, "the escalation")
    stored = {f["agency_id"]: f for f in api.get(f"/incidents/{fire['id']}").json()["forwarded_to"]}
    assert stored["syn-psc"]["status"] == "escalated"
    assert "ambulance" in stored["syn-damkar"]["unit_types"]
    assert "Damkar" in taker.find("notice").text
    taker.wait(lambda: not shown(), 5, "Eskalasi to go once nothing is overdue")
    taker.wait(lambda: _agency_rows(taker) == _queues(api), 5, "the panel to match GET /agencies again")
    assert _agency_rows(taker)["syn-psc"][:2] == (0, 0)
    # the timeline says so in words
    taker.js(f"document.querySelector('[data-testid=incident-row][data-incident-id=\"{fire['id']}\"]').click()")
    taker.wait(lambda: any("dieskalasi" in e.text for e in taker.find_all("timeline-entry")), 10,
               "the escalation in the timeline")
    # command handover (audited): to BPBD, which is told of the incident at once
    from selenium.webdriver.support.ui import Select

    bpbd = next(a["name"] for a in api.get("/agencies").json() if a["id"] == "syn-bpbd")
    Select(taker.find("command-select")).select_by_value("syn-bpbd")
    taker.click("command-button")
    told = taker.wait(lambda: _forward(taker, fire["id"], "syn-bpbd"), 10, "BPBD's forward")
    assert "komando" in told["text"] and told["status"] == "notified"
    assert api.get(f"/incidents/{fire['id']}").json()["command_agency_id"] == "syn-bpbd"
    taker.wait(lambda: taker.driver.find_element("id", "command-current").text == f"Komando: {bpbd}", 5,
               "the new commander named")
    assert "syn-bpbd" not in [o.get_attribute("value") for o in Select(taker.find("command-select")).options]
    assert taker.error_text() == "" and taker.console_errors() == []
