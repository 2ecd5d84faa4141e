// The console's live state: units, incidents and stations by id, fed by API reads and by the
// /events stream. Panels subscribe to changes; nothing else keeps state.

const units = new Map();
const incidents = new Map();
const subscribers = { units: [], incidents: [], selection: [] };
export const state = { units, incidents, stations: [], region: null, me: null, selected: null, lastEventId: null };

export function on(topic, fn) { subscribers[topic].push(fn); }
function emit(topic, detail) { subscribers[topic].forEach((fn) => fn(detail)); }

export function setUnits(list) {
  units.clear();
  list.forEach((u) => units.set(u.id, u));
  emit("units", null);
}

export function putUnit(unit) {
  units.set(unit.id, unit);
  emit("units", unit.id);
}

export function setIncidents(list) {
  incidents.clear();
  list.forEach((i) => incidents.set(i.id, i));
  emit("incidents", null);
}

const CLOSED = new Set(["closed", "cancelled"]);
export function isOpen(incident) { return !CLOSED.has(incident.status); }

export function putIncident(incident) {
  incidents.set(incident.id, incident);
  emit("incidents", incident.id);
}

export function select(id) {
  state.selected = id;
  emit("selection", id);
}

/** Open incidents, newest first. */
export function openIncidents() {
  return [...incidents.values()].filter(isOpen).sort((a, b) => b.id - a.id);
}
