// New call: a point by clicking the map, by typing lon/lat, or by picking a desa/kelurahan;
// the type from the region's SOP and a priority; create -> the recommendation appears at once.

import { api } from "./api.js";
import { t, typeLabel, onLanguage } from "./i18n.js";
import { map, onMapClick } from "./map.js";
import { state, putIncident, select } from "./store.js";
import { showError, clearError } from "./notify.js";
import { showRecommendation } from "./recommendation.js";

let pin = null;
let desa = [];  // [{name, kecamatan, lon, lat}]
const $ = (id) => document.getElementById(id);

function setPoint(lon, lat, { pan = false } = {}) {
  $("incident-lon").value = lon.toFixed(6);
  $("incident-lat").value = lat.toFixed(6);
  placePin(lon, lat, pan);
}

function placePin(lon, lat, pan) {
  if (!map || !isFinite(lon) || !isFinite(lat)) return;
  const icon = L.divIcon({ className: "", html: '<div class="pin-marker"></div>', iconSize: [18, 18], iconAnchor: [9, 20] });
  if (!pin) pin = L.marker([lat, lon], { icon, keyboard: false, title: t("newcall.pin") }).addTo(map);
  else pin.setLatLng([lat, lon]);
  if (pan) map.panTo([lat, lon]);
}

export function clearPin() { if (pin) { pin.remove(); pin = null; } }

function fillTypes() {
  const select = $("incident-type");
  const current = select.value;
  const types = Object.keys(state.region.incident_types);
  select.replaceChildren(...types.map((name) => {
    const needs = state.region.incident_types[name].map((r) => `${r.count} ${r.type}`).join(" + ");
    const option = new Option(`${typeLabel(name)} (${needs})`, name);
    return option;
  }));
  if (types.includes(current)) select.value = current;
}

async function loadDesa() {
  if (!state.region.has_areas) return;
  const data = await api.get("/areas");
  desa = data.features.map((f) => f.properties);
  const list = $("desa-list");
  list.replaceChildren(...desa.map((d) => new Option(d.kecamatan ? `${d.name} · ${d.kecamatan}` : d.name, d.name)));
  $("desa-label").hidden = false;
  return data;
}

function pickDesa() {
  const text = $("desa-input").value.trim().toLowerCase();
  const found = desa.find((d) => d.name.toLowerCase() === text) ||
    desa.find((d) => `${d.name} · ${d.kecamatan}`.toLowerCase() === text);
  if (found) setPoint(found.lon, found.lat, { pan: true });
}

export async function createIncident() {
  clearError();
  const lon = Number($("incident-lon").value.replace(",", "."));
  const lat = Number($("incident-lat").value.replace(",", "."));
  if (!$("incident-lon").value.trim() || !$("incident-lat").value.trim() || !isFinite(lon) || !isFinite(lat)) {
    showError({ code: "no_point", message: "" }, { detail: false });
    return;
  }
  const body = { type: $("incident-type").value, priority: Number($("incident-priority").value), lon, lat };
  const button = $("incident-create");
  button.disabled = true;
  const started = performance.now();
  try {
    const incident = await api.post("/incidents", body);
    putIncident(incident);
    select(incident.id);
    showRecommendation(incident, incident.recommendation);
    window.geodispatchConsole.lastCreateMs = performance.now() - started;
    clearPin();
  } catch (err) {
    showError(err);
  } finally {
    button.disabled = false;
  }
}

export function focusNewCall() {
  $("incident-lon").focus();
  $("incident-lon").select();
}

export async function initNewCall() {
  fillTypes();
  onLanguage(fillTypes);
  onMapClick((latlng) => setPoint(latlng.lng, latlng.lat));
  ["incident-lon", "incident-lat"].forEach((id) => $(id).addEventListener("change", () => {
    placePin(Number($("incident-lon").value), Number($("incident-lat").value), false);
  }));
  $("desa-input").addEventListener("change", pickDesa);
  $("newcall-form").addEventListener("submit", (ev) => { ev.preventDefault(); createIncident(); });
  return showNewCall();
}

/** At every login: the new-call form is the call taker's (dispatcher, admin). */
export function showNewCall() {
  const canCreate = state.me.role === "dispatcher" || state.me.role === "admin";
  $("newcall").hidden = !canCreate;
  return canCreate && !desa.length ? loadDesa() : null;
}
