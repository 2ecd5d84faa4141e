// Units panel: one row per unit (data-unit-id, data-status), coloured markers on the map, and
// the status changes an operator makes by hand (the hospital leg, out of service, available again).

import { api } from "./api.js";
import { t, statusLabel, onLanguage } from "./i18n.js";
import { map, unitsRenderer } from "./map.js";
import { state, on, putUnit } from "./store.js";
import { showError, clearError } from "./notify.js";

export const STATUS_COLOURS = {
  available: "#1f8a4c", dispatched: "#c0392b", en_route: "#d35400", on_scene: "#8e44ad",
  transporting: "#2c6fbb", at_hospital: "#2c6fbb", returning: "#2c6fbb", out_of_service: "#555555",
};
const ASSIGNED = new Set(["dispatched", "en_route", "on_scene", "transporting", "at_hospital"]);
/** Statuses a unit may be dispatched from (the server's DISPATCHABLE_STATUSES). */
export const FREE = new Set(["available", "returning"]);
/** The next step of the hospital leg offered as a button, besides "available". */
const NEXT = { transporting: "at_hospital", at_hospital: "returning" };

const markers = new Map();
let layer = null;

function canChange(unit) {
  const me = state.me;
  if (!me) return false;
  if (me.role === "unit") return me.unit_id === unit.id;
  if (me.role === "agency") return me.agency_id === unit.agency_id;
  return me.role === "dispatcher" || me.role === "admin";
}

async function changeStatus(unit, status) {
  clearError();
  try {
    putUnit(await api.patch(`/units/${encodeURIComponent(unit.id)}`, { status }));
  } catch (err) {
    showError(err);
  }
}

function row(unit) {
  const tr = document.createElement("tr");
  tr.dataset.testid = "unit-row";
  tr.setAttribute("data-testid", "unit-row");
  tr.dataset.unitId = unit.id;
  tr.dataset.status = unit.status;
  const where = unit.incident_id ? ` → #${unit.incident_id}` : "";
  tr.innerHTML = `<td><b></b><div class="reason"></div></td><td><span class="status st-${unit.status}"></span></td><td></td>`;
  tr.querySelector("b").textContent = unit.id;
  tr.querySelector(".reason").textContent = unit.type + (unit.capabilities.length ? ` (${unit.capabilities.join(", ")})` : "");
  tr.querySelector(".status").textContent = statusLabel(unit.status) + where;
  const cell = tr.lastElementChild;
  if (canChange(unit)) {
    const next = NEXT[unit.status];
    if (next) cell.append(button(unit, next, "units." + next));
    if (unit.status !== "available") cell.append(button(unit, "available", "units.available"));
    if (FREE.has(unit.status)) cell.append(button(unit, "out_of_service", "units.out_of_service"));
  }
  tr.addEventListener("click", (ev) => {
    if (ev.target.tagName !== "BUTTON" && map) map.panTo([unit.lat, unit.lon]);
  });
  return tr;
}

function button(unit, status, key) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = t(key);
  b.dataset.testid = "unit-status-" + status;
  b.setAttribute("data-testid", "unit-status-" + status);
  b.addEventListener("click", () => changeStatus(unit, status));
  return b;
}

function marker(unit) {
  const colour = STATUS_COLOURS[unit.status] || "#777";
  const tip = `${unit.id} · ${statusLabel(unit.status)}`;
  let m = markers.get(unit.id);
  if (!m) {
    m = L.circleMarker([unit.lat, unit.lon], { radius: 6, weight: 2, color: "#fff", fillOpacity: 1, fillColor: colour,
      renderer: unitsRenderer, pane: "units" });
    m.bindTooltip(tip);
    markers.set(unit.id, m);
    layer.addLayer(m);
  } else {
    m.setLatLng([unit.lat, unit.lon]);
    m.setStyle({ fillColor: colour });
    m.setTooltipContent(tip);
  }
}

export function render() {
  const tbody = document.getElementById("unit-rows");
  const list = [...state.units.values()].sort((a, b) => a.id.localeCompare(b.id));
  tbody.replaceChildren(...list.map(row));
  const available = list.filter((u) => FREE.has(u.status)).length;
  document.getElementById("units-summary").textContent = t("units.summary", { available, total: list.length });
  if (layer) {
    const seen = new Set(list.map((u) => u.id));
    for (const [id, m] of markers) if (!seen.has(id)) { layer.removeLayer(m); markers.delete(id); }
    list.forEach(marker);
  }
}

export function initUnits() {
  layer = L.layerGroup().addTo(map);
  on("units", render);
  onLanguage(render);
  render();
}
