// Recommendation panel: the units the engine chose (data-testid rec-unit, data-unit-id,
// data-eta-s exactly as the API returned), their ETAs, distances and route lines on the map,
// why the others were not chosen, the SOP shortfall; dispatch in one click or after swapping
// units; a 409 is explained and a fresh recommendation offered.

import { api } from "./api.js";
import { t, duration, distance, typeLabel, onLanguage } from "./i18n.js";
import { map } from "./map.js";
import { state, putIncident, putUnit, on } from "./store.js";
import { showError, clearError, showNotice } from "./notify.js";
import { FREE } from "./units.js";

const $ = (id) => document.getElementById(id);
let current = null;  // {incident, rec}
let routeLayer = null;
let routeSeq = 0;

const ROUTE_COLOURS = ["#0b6fd6", "#d6266e", "#16a085", "#8e44ad", "#e67e22"];

function unitRow(c, checked, recommended) {
  const tr = document.createElement("tr");
  if (recommended) {
    tr.setAttribute("data-testid", "rec-unit");
    tr.dataset.unitId = c.unit_id;
    tr.dataset.etaS = c.eta_s === null ? "" : String(c.eta_s);
  } else {
    tr.setAttribute("data-testid", "alt-unit");
    tr.dataset.unitId = c.unit_id;
  }
  tr.innerHTML = `<td><input type="checkbox"></td><td><b></b> <span class="reason"></span><div class="reason"></div></td>
    <td></td><td></td>`;
  const box = tr.querySelector("input");
  box.checked = checked;
  box.value = c.unit_id;
  box.disabled = !c.dispatchable && !checked;
  box.title = t("rec.swap");
  tr.querySelector("b").textContent = c.unit_id;
  tr.querySelector("span.reason").textContent = typeLabel(c.type);
  tr.querySelector("div.reason").textContent = recommended ? t("reason.chosen") : reasonText(c);
  tr.querySelector("div.reason").title = c.reason || "";
  tr.children[2].textContent = duration(c.eta_s);
  tr.children[3].textContent = distance(c.distance_m);
  return tr;
}

function reasonText(c) {
  const label = t("reason." + (c.code || "other"));
  return c.code === "slower" || c.code === "chosen" ? label : `${label}`;
}

/** Units of the recommendation as candidate rows: the chosen ones first, then the alternatives. */
function candidates(rec) {
  const byId = new Map((rec.candidates || []).map((c) => [c.unit_id, c]));
  const chosen = rec.unit_ids.map((id, i) => ({
    ...(byId.get(id) || { unit_id: id, type: (state.units.get(id) || {}).type || "" }),
    unit_id: id, eta_s: rec.etas_s[i], distance_m: (rec.distances_m || [])[i] ?? null,
  }));
  const others = (rec.candidates || []).filter((c) => !rec.unit_ids.includes(c.unit_id));
  // state.units holds what this key may dispatch (an agency key: its own units only)
  const live = (c) => ({ ...c, dispatchable: FREE.has((state.units.get(c.unit_id) || {}).status) });
  return { chosen: chosen.map(live), others: others.map(live) };
}

export function showRecommendation(incident, rec) {
  const same = current && current.incident.id === incident.id && current.rec === rec && !$("rec").hidden;
  const keep = same ? new Set(selectedUnitIds()) : null;
  current = { incident, rec };
  const panel = $("rec");
  if (!rec) { panel.hidden = true; clearRoutes(); return; }
  panel.hidden = false;
  $("rec-title").textContent = `#${incident.id} · ${typeLabel(incident.type)} · P${incident.priority}`;
  const { chosen, others } = candidates(rec);
  const agency = state.me.role === "agency";
  // an agency ticks only its own units still free; the call taker the whole recommendation
  const checked = (c, dflt) => (keep ? keep.has(c.unit_id) : dflt && (!agency || c.dispatchable));
  $("rec-units").replaceChildren(...chosen.map((c) => unitRow(c, checked(c, true), true)),
    ...others.map((c) => unitRow(c, checked(c, false), false)));
  const reasons = (rec.candidates || []).filter((c) => !c.chosen);
  $("rec-reasons").replaceChildren(...reasons.map((c) => {
    const li = document.createElement("li");
    li.textContent = `${c.unit_id}: ${t("reason." + c.code)} — ${c.reason}`;
    return li;
  }));
  $("rec-others").hidden = reasons.length === 0;
  const shortfall = $("rec-shortfall");
  shortfall.hidden = !rec.shortfall;
  shortfall.textContent = rec.shortfall ? t("rec.shortfall", { missing: missingText(rec) }) + "\n" + rec.shortfall : "";
  const open = incident.status !== "closed" && incident.status !== "cancelled";
  const canDispatch = open && ["dispatcher", "admin", "agency"].includes(state.me.role);
  $("dispatch-confirm").disabled = !canDispatch;
  $("rec-refresh").disabled = !canDispatch;
  $("dispatch-confirm").hidden = !canDispatch;
  if (!same) drawRoutes(incident, rec.unit_ids);
}

function missingText(rec) {
  const missing = rec.missing || {};
  return Object.entries(missing).map(([type, n]) => `${n} ${typeLabel(type)}`).join(", ");
}

function clearRoutes() {
  window.geodispatchConsole.routes = [];
  if (routeLayer) { routeLayer.remove(); routeLayer = null; }
}

async function drawRoutes(incident, unitIds) {
  const seq = ++routeSeq;
  clearRoutes();
  if (state.me.role === "agency") unitIds = unitIds.filter((id) => state.units.has(id));  // its own units' routes
  if (!unitIds.length || !map) return;
  try {
    const data = await api.get(`/incidents/${incident.id}/routes?unit_ids=${unitIds.map(encodeURIComponent).join(",")}`);
    if (seq !== routeSeq) return;
    routeLayer = L.layerGroup();
    window.geodispatchConsole.routes = data.routes.filter((r) => r.geometry).map((r) => r.unit_id);
    data.routes.forEach((r, i) => {
      if (!r.geometry) return;
      const latlngs = r.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
      L.polyline(latlngs, { pane: "routes", color: ROUTE_COLOURS[i % ROUTE_COLOURS.length], weight: 5, opacity: 0.85 })
        .bindTooltip(`${r.unit_id}: ${duration(r.eta_s)}, ${distance(r.distance_m)}`).addTo(routeLayer);
    });
    routeLayer.addTo(map);
  } catch (err) {
    console.warn("routes:", err.message);
  }
}

export function selectedUnitIds() {
  return [...$("rec-units").querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
}

export async function confirmDispatch() {
  if (!current || $("dispatch-confirm").disabled || $("rec").hidden) return;
  clearError();
  const unitIds = selectedUnitIds();
  if (!unitIds.length) { showError({ code: "no_units", message: "" }, { detail: false }); return; }
  $("dispatch-confirm").disabled = true;
  try {
    const incident = await api.post(`/incidents/${current.incident.id}/dispatch`, { unit_ids: unitIds });
    putIncident(incident);
    incident.unit_ids.forEach((id) => {
      const unit = state.units.get(id);
      if (unit) putUnit({ ...unit, status: "dispatched", incident_id: incident.id });
    });
    showNotice(t("rec.dispatched", { id: incident.id, units: incident.unit_ids.join(", ") }));
    $("rec").hidden = true;
    drawRoutes(incident, incident.unit_ids);
  } catch (err) {
    showError(err);
    if (err.status === 409 && err.code === "unit_unavailable") await refresh();
  } finally {
    $("dispatch-confirm").disabled = false;
  }
}

/** A fresh recommendation for the current incident from the units available now. */
export async function refresh() {
  if (!current) return;
  try {
    const rec = await api.get(`/incidents/${current.incident.id}/recommendation`);
    showRecommendation(current.incident, rec);
  } catch (err) {
    showError(err);
  }
}

export function currentIncidentId() { return current ? current.incident.id : null; }

export function initRecommendation() {
  $("dispatch-confirm").addEventListener("click", confirmDispatch);
  $("rec-refresh").addEventListener("click", refresh);
  on("units", () => { if (current && !$("rec").hidden) showRecommendation(current.incident, current.rec); });
  onLanguage(() => { if (current && !$("rec").hidden) showRecommendation(current.incident, current.rec); });
}
