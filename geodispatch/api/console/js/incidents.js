// Incidents panel: one row per open incident (data-incident-id, data-status), markers by
// priority on the map, the selected incident's lifecycle buttons and its timeline (audit log).

import { api } from "./api.js";
import { t, statusLabel, typeLabel, onLanguage } from "./i18n.js";
import { map } from "./map.js";
import { state, on, openIncidents, putIncident, select } from "./store.js";
import { showError, clearError } from "./notify.js";
import { showRecommendation } from "./recommendation.js";
import { forwardsBlock, agencyName, agencyList, handOver, isAgency } from "./agencies.js";

const $ = (id) => document.getElementById(id);
const PRIORITY_COLOURS = { 1: "#b3261e", 2: "#d68100", 3: "#2c6fbb" };
const markers = new Map();
let layer = null;

function row(incident) {
  const tr = document.createElement("tr");
  tr.setAttribute("data-testid", "incident-row");
  tr.dataset.incidentId = String(incident.id);
  tr.dataset.status = incident.status;
  if (state.selected === incident.id) tr.classList.add("selected");
  tr.innerHTML = `<td><b></b></td><td class="prio"></td><td></td><td><span class="status"></span></td><td class="reason"></td>`;
  tr.querySelector("b").textContent = "#" + incident.id;
  tr.children[1].textContent = "P" + incident.priority;
  tr.children[1].classList.add("prio-" + incident.priority);
  tr.children[2].textContent = typeLabel(incident.type);
  const status = tr.querySelector(".status");
  status.textContent = statusLabel(incident.status);
  status.classList.add("st-" + incident.status);
  tr.children[4].textContent = incident.unit_ids.join(", ");
  tr.addEventListener("click", () => select(incident.id));
  return tr;
}

function marker(incident) {
  const icon = L.divIcon({
    className: "incident-marker", iconSize: [26, 18],
    html: `<div style="background:${PRIORITY_COLOURS[incident.priority] || "#555"}">#${incident.id}</div>`,
  });
  let m = markers.get(incident.id);
  if (!m) {
    m = L.marker([incident.lat, incident.lon], { icon, keyboard: false, zIndexOffset: 1000 });
    m.on("click", () => select(incident.id));
    markers.set(incident.id, m);
    layer.addLayer(m);
  } else {
    m.setIcon(icon);
  }
  m.bindTooltip(`#${incident.id} ${typeLabel(incident.type)} · ${statusLabel(incident.status)}`);
}

/** The incident's forwards (agencies, acknowledgement countdowns) in a row under its own. */
function forwardsRow(incident) {
  const tr = document.createElement("tr");
  tr.className = "forwards-row";
  const td = document.createElement("td");
  td.colSpan = 5;
  td.append(forwardsBlock(incident));
  tr.append(td);
  return tr;
}

export function render() {
  const list = openIncidents();
  $("incident-rows").replaceChildren(...list.flatMap((i) => ((i.forwarded_to || []).length ? [row(i), forwardsRow(i)]
    : [row(i)])));
  $("incidents-empty").hidden = list.length > 0;
  if (layer) {
    const open = new Set(list.map((i) => i.id));
    for (const [id, m] of markers) if (!open.has(id)) { layer.removeLayer(m); markers.delete(id); }
    list.forEach(marker);
  }
  renderDetail();
}

async function step(incident, status) {
  clearError();
  try {
    putIncident(await api.patch(`/incidents/${incident.id}`, { status }));
  } catch (err) {
    showError(err);
  }
}

let commandChoice = "";  // the agency picked in the handover list (kept across live re-renders)

/** The call taker's command handover: the commanding agency, a list of the others, a button. */
function renderCommand(incident, canAct) {
  const box = $("command");
  const others = agencyList().filter((a) => a.id !== incident.command_agency_id);
  box.hidden = !(canAct && others.length && (incident.forwarded_to || []).length);
  if (box.hidden) return;
  $("command-current").textContent = t("command.current",
    { agency: incident.command_agency_id ? agencyName(incident.command_agency_id) : "–" });
  const select = $("command-select");
  if (!others.some((a) => a.id === commandChoice)) commandChoice = others[0].id;
  select.replaceChildren(...others.map((a) => new Option(a.name, a.id)));
  select.value = commandChoice;
  select.onchange = () => { commandChoice = select.value; };
  $("command-button").onclick = () => handOver(incident.id, select.value);
}

function renderDetail() {
  const incident = state.incidents.get(state.selected);
  const box = $("incident-detail");
  if (!incident) { box.hidden = true; return; }
  box.hidden = false;
  $("incident-detail-title").textContent =
    `#${incident.id} · ${typeLabel(incident.type)} · P${incident.priority} · ${statusLabel(incident.status)}`;
  const canAct = state.me.role === "dispatcher" || state.me.role === "admin";
  renderCommand(incident, canAct);
  // the caller's status page (no key, nothing personal): the call taker reads it out or sends it
  const link = $("public-status");
  link.hidden = !(canAct && incident.public_token);
  if (!link.hidden) {
    const a = link.querySelector("a");
    a.href = `${location.origin}/status/${encodeURIComponent(incident.public_token)}`;
    a.textContent = a.href;
  }
  const next = (state.region.incident_transitions || {})[incident.status] || [];
  $("lifecycle").replaceChildren(...(canAct ? next : []).map((status) => {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("data-testid", "incident-" + status);
    b.textContent = t("lifecycle." + status);
    b.addEventListener("click", () => step(incident, status));
    return b;
  }));
}

/** What an audit entry changed, in words: the new status, or the agencies of a workflow step. */
function timelineDetail(after) {
  if (after.forwarded_to) return after.forwarded_to.map((f) => agencyName(f.agency_id)).join(", ");
  if (after.agency_id) return agencyName(after.agency_id);
  if (after.escalated_to) return agencyName(after.escalated_to);
  if (after.command_agency_id) return agencyName(after.command_agency_id);
  return after.status ? statusLabel(after.status) : "";
}

async function loadTimeline(id) {
  const list = $("timeline");
  list.replaceChildren();
  try {
    const entries = await api.get(`/incidents/${id}/timeline`);
    if (state.selected !== id) return;
    list.replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      li.setAttribute("data-testid", "timeline-entry");
      const when = new Date(e.at).toLocaleTimeString(document.documentElement.lang, { hour12: false });
      const units = e.after && e.after.unit_ids ? ` (${e.after.unit_ids.join(", ")})` : "";
      const to = timelineDetail(e.after || {});
      li.textContent = `${when} · ${t("action." + e.action)} ${to}${units} · ${e.role}`;
      return li;
    }));
  } catch (err) {
    if (err.status !== 403) console.warn("timeline:", err.message);
  }
}

function onSelect(id) {
  render();
  const incident = state.incidents.get(id);
  if (!incident) return;
  if (map) map.panTo([incident.lat, incident.lon]);
  // the call taker dispatches an open incident; an agency its share of any incident still running
  if (incident.status === "open" || (isAgency() && incident.recommendation)) {
    showRecommendation(incident, incident.recommendation);
  }
  loadTimeline(id);
}

/** Select the next (+1) or previous (-1) open incident. */
export function moveSelection(delta) {
  const list = openIncidents();
  if (!list.length) return;
  const at = list.findIndex((i) => i.id === state.selected);
  const next = at < 0 ? 0 : (at + delta + list.length) % list.length;
  select(list[next].id);
}

export function initIncidents() {
  layer = L.layerGroup().addTo(map);
  on("incidents", (id) => {
    render();
    if (id !== null && id === state.selected) loadTimeline(id);
  });
  on("selection", onSelect);
  onLanguage(render);
  render();
}
