// Console start-up: language, login (key in sessionStorage only), then the map and the panels,
// then the live stream. Each panel is its own module; this one only wires them together.

import { api, getKey, setKey, clearKey, whoami, onUnauthorized } from "./api.js";
import { t, setLanguage, initialLanguage, currentLang } from "./i18n.js";
import { initMap } from "./map.js";
import { state, setUnits, setIncidents, putUnit, putIncident } from "./store.js";
import { initUnits } from "./units.js";
import { initIncidents } from "./incidents.js";
import { initNewCall, showNewCall } from "./newcall.js";
import { initRecommendation } from "./recommendation.js";
import { initCoverage, showCoverage } from "./coverage.js";
import { initAgencies, showAgencies } from "./agencies.js";
import { initKeyboard } from "./keyboard.js";
import { follow } from "./events.js";
import { showError, clearError, showNotice } from "./notify.js";

const $ = (id) => document.getElementById(id);
const gd = (window.geodispatchConsole = window.geodispatchConsole || {});
gd.state = state;
gd.events = [];
let stream = null;
let started = false;

async function toggleLanguage() {
  await setLanguage(currentLang() === "id" ? "en" : "id");
  $("lang-toggle").textContent = currentLang() === "id" ? "EN" : "ID";
  if (state.me) showRole();
}

function showRole() {
  const badge = $("role-badge");
  badge.hidden = false;
  badge.setAttribute("data-testid", "role");
  badge.dataset.role = state.me.role;
  badge.textContent = t("role." + state.me.role) + (state.me.unit_id ? ` · ${state.me.unit_id}` : "") +
    (state.me.agency_id ? ` · ${state.me.agency_name}` : "");
  if (state.me.agency_id) badge.dataset.agencyId = state.me.agency_id;
  else delete badge.dataset.agencyId;
}

async function loadState() {
  const me = state.me;
  const units = me.role === "unit" ? [await api.get(`/units/${encodeURIComponent(me.unit_id)}`)] : await api.get("/units");
  setUnits(units);
  setIncidents(me.role === "unit" ? [] : await api.get("/incidents?status=open&limit=500"));
}

function askForKey(message) {
  if (stream) { stream.stop(); stream = null; }
  clearKey();
  $("app").hidden = true;
  $("logout").hidden = true;
  $("role-badge").hidden = true;
  $("login").hidden = false;
  $("live").dataset.state = "off";
  if (message) showError(message);
  $("key-input").value = "";
  $("key-input").focus();
}

function startStream() {
  stream = follow({
    open: async (first) => {
      $("live").dataset.state = "on";
      if (!first) {
        showNotice("");
        try { await loadState(); } catch (err) { showError(err); }
      }
    },
    down: () => { $("live").dataset.state = "retry"; showNotice(t("live.reconnecting")); },
    unauthorized: () => askForKey({ code: "key_expired", status: 401, message: "" }),
    event: (type, data, id) => {
      gd.events.push({ type, id, at: performance.now() });
      if (type === "unit") putUnit(data);
      else if (type === "incident") putIncident(data);
      else if (type === "reset") loadState().catch(showError);
      state.lastEventId = id;
    },
  });
}

async function enter(key) {
  clearError();
  const me = await whoami(key);  // throws ApiError(401) for a bad key
  setKey(key);
  state.me = me;
  state.region = await api.get("/region");
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("region-name").textContent = state.region.name;
  showRole();
  if (!started) {
    started = true;
    const firstPaint = performance.now();
    await initMap(state.region);
    gd.mapReadyMs = performance.now() - firstPaint;
    initUnits();
    initIncidents();
    initRecommendation();
    initCoverage(state.region);
    initAgencies();
    initKeyboard({ toggleLanguage });
    await initNewCall();
  } else {
    await showNewCall();
  }
  await loadState();
  await showAgencies();
  showCoverage(state.me, state.region);
  startStream();
  gd.readyAtMs = performance.now();  // since navigation start: the benchmark's first paint
  gd.ready = true;
}

async function main() {
  await setLanguage(initialLanguage());
  $("lang-toggle").textContent = currentLang() === "id" ? "EN" : "ID";
  $("lang-toggle").addEventListener("click", toggleLanguage);
  $("logout").addEventListener("click", () => askForKey(null));
  onUnauthorized(() => { if (getKey()) askForKey({ code: "key_expired", status: 401, message: "" }); });
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = $("key-input").value.trim();
    $("key-input").disabled = true;
    try {
      await enter(key);
    } catch (err) {
      clearKey();
      showError(err.status === 401 ? { ...err, code: "bad_key", message: err.message } : err);
    } finally {
      $("key-input").disabled = false;
    }
  });
  const saved = getKey();
  if (saved) {
    try { await enter(saved); } catch (err) { askForKey(err); }
  } else {
    $("key-input").focus();
  }
}

main();
