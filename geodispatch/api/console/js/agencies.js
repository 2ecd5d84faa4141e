// The 112 workflow on screen: each report is forwarded to agencies (OPD) that must acknowledge it
// before its deadline. For the call taker (dispatcher, admin; a planner reads): the agencies
// panel with each agency's queue (waiting, overdue, units available), and under every open
// incident its forwards with a live countdown, an overdue warning in words and "Eskalasi". For an
// agency's own operator (role agency): its name in the top bar and "Terima" on its forwards.
// Countdowns run on the server's clock (api.serverNow) to the ack_deadline the server set.

import { api, serverNow } from "./api.js";
import { t, onLanguage } from "./i18n.js";
import { state, on, putIncident } from "./store.js";
import { showError, clearError, showNotice } from "./notify.js";

const $ = (id) => document.getElementById(id);
const WAITING = new Set(["notified", "overdue"]);
let refreshTimer = null;
let agencies = [];  // GET /agencies, in the region's order

export function isCallTaker() { return state.me.role === "dispatcher" || state.me.role === "admin"; }
export function isAgency() { return state.me.role === "agency"; }

/** The agencies of the region (GET /agencies; empty for keys that may not read it). */
export function agencyList() { return agencies; }

/** Hand command of an incident to another agency (audited by the server). */
export async function handOver(id, agencyId) {
  clearError();
  try {
    putIncident(await api.post(`/incidents/${id}/command`, { agency_id: agencyId }));
    showNotice(t("command.done", { id, agency: agencyName(agencyId) }));
  } catch (err) {
    showError(err);
  }
}

/** The agency's name (from /agencies, or any forward that named it), else its id. */
export function agencyName(id) {
  const known = agencies.find((a) => a.id === id);
  if (known) return known.name;
  for (const incident of state.incidents.values()) {
    const f = (incident.forwarded_to || []).find((x) => x.agency_id === id);
    if (f) return f.agency_name;
  }
  return id === state.me.agency_id ? state.me.agency_name : id;
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/** A forward's status now: "notified" past its deadline reads "overdue", as on the server. */
function liveStatus(f) {
  return f.status === "notified" && serverNow() > Date.parse(f.ack_deadline) ? "overdue" : f.status;
}

function forwardText(f, status) {
  const name = f.agency_name;
  const late = serverNow() - Date.parse(f.ack_deadline);
  if (status === "notified") return t("forward.waiting", { agency: name, left: clock(-late) });
  if (status === "overdue") return t("forward.overdue", { agency: name, late: clock(late) });
  return t("forward." + status, { agency: name });
}

function paintForward(el, f) {
  const status = liveStatus(f);
  el.dataset.status = status;
  el.className = "forward fw-" + status;
  el.querySelector(".fw-text").textContent = forwardText(f, status);
}

/** The forwards of one incident: one forward-row each, the acknowledge and escalate buttons. */
export function forwardsBlock(incident) {
  const box = document.createElement("div");
  box.className = "forwards";
  box.dataset.incidentId = String(incident.id);
  for (const f of incident.forwarded_to || []) {
    const el = document.createElement("div");
    el.setAttribute("data-testid", "forward-row");
    el.dataset.agencyId = f.agency_id;
    el.dataset.incidentId = String(incident.id);
    el._forward = f;
    el.innerHTML = '<span class="fw-text"></span> <small class="reason"></small>';
    el.querySelector("small").textContent = (f.unit_types || []).join(", ") +
      (f.agency_id === incident.command_agency_id ? ` · ${t("forward.command")}` : "");
    paintForward(el, f);
    if (isAgency() && f.agency_id === state.me.agency_id && WAITING.has(f.status)) {
      el.append(actionButton("ack-button", "forward.ack", incident, () => acknowledge(incident.id)));
    }
    box.append(el);
  }
  if (isCallTaker() && (incident.forwarded_to || []).length) {
    const b = actionButton("escalate-button", "forward.escalate", incident, () => escalate(incident.id));
    b.hidden = !hasOverdue(incident);
    box.append(b);
  }
  return box;
}

function hasOverdue(incident) {
  return (incident.forwarded_to || []).some((f) => liveStatus(f) === "overdue" && f.agency_id !== incident.command_agency_id);
}

function actionButton(testid, key, incident, fn) {
  const b = document.createElement("button");
  b.type = "button";
  b.setAttribute("data-testid", testid);
  b.dataset.incidentId = String(incident.id);
  b.textContent = t(key);
  b.addEventListener("click", (ev) => { ev.stopPropagation(); fn(); });
  return b;
}

async function acknowledge(id) {
  clearError();
  try {
    putIncident(await api.post(`/incidents/${id}/acknowledge`));
    showNotice(t("forward.acknowledged_notice", { id, agency: state.me.agency_name }));
  } catch (err) {
    showError(err);
  }
}

async function escalate(id) {
  clearError();
  try {
    const incident = await api.post(`/incidents/${id}/escalate`);
    putIncident(incident);
    showNotice(t("forward.escalated_notice", { id, agency: agencyName(incident.command_agency_id) }));
  } catch (err) {
    showError(err);
  }
}

/** Every second: countdowns, overdue warnings and escalate buttons follow the clock. */
function tick() {
  let crossed = false;
  document.querySelectorAll("[data-testid=forward-row]").forEach((el) => {
    const before = el.dataset.status;
    paintForward(el, el._forward);
    if (before !== el.dataset.status) crossed = true;
  });
  document.querySelectorAll("[data-testid=escalate-button]").forEach((b) => {
    const incident = state.incidents.get(Number(b.dataset.incidentId));
    if (incident) b.hidden = !hasOverdue(incident);
  });
  if (crossed) scheduleRefresh();
}

// ---------------------------------------------------------------- the agencies panel
function agencyRow(a) {
  const tr = document.createElement("tr");
  tr.setAttribute("data-testid", "agency-row");
  tr.dataset.agencyId = a.id;
  tr.dataset.notified = String(a.notified);
  tr.dataset.overdue = String(a.overdue);
  tr.dataset.unitsAvailable = String(a.units_available);
  tr.innerHTML = "<td><b></b><div class='reason'></div></td><td></td><td></td><td></td>";
  tr.querySelector("b").textContent = a.name;
  tr.querySelector(".reason").textContent = a.unit_types.join(", ");
  tr.children[1].textContent = t("agencies.waiting", { n: a.notified });
  tr.children[2].textContent = a.overdue ? t("agencies.overdue", { n: a.overdue }) : "";
  if (a.overdue) tr.children[2].className = "late";
  tr.children[3].textContent = t("agencies.units", { n: a.units_available });
  return tr;
}

function renderAgencies() {
  $("agency-rows").replaceChildren(...agencies.map(agencyRow));
  const late = agencies.reduce((n, a) => n + a.overdue, 0);
  $("agencies-summary").textContent = late ? t("agencies.summary_late", { n: late }) : "";
}

async function loadAgencies() {
  try {
    agencies = await api.get("/agencies");
    renderAgencies();
  } catch (err) {
    if (err.status !== 403) console.warn("agencies:", err.message);
  }
}

function scheduleRefresh() {
  if ($("agencies").hidden) return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(loadAgencies, 200);
}

function headings() {
  if (isAgency()) $("incidents-heading").textContent = t("agency.incidents", { agency: state.me.agency_name });
}

/** Call once, after the first login. */
export function initAgencies() {
  on("incidents", scheduleRefresh);
  on("units", scheduleRefresh);
  onLanguage(() => { renderAgencies(); headings(); });
  setInterval(tick, 1000);
}

/** Call at every login: what this key's role shows (the call taker's panel, an agency's view). */
export async function showAgencies() {
  const reader = ["dispatcher", "admin", "planner"].includes(state.me.role);
  $("agencies").hidden = !reader;
  agencies = [];
  renderAgencies();
  headings();
  if (reader) await loadAgencies();
}
