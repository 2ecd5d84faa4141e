// "Where we are thin right now": the 15-minute coverage of the units available now (GET
// /coverage), drawn as desa shaded by the share of their people covered and the largest holes;
// refreshed when units change.

import { api } from "./api.js";
import { t, onLanguage } from "./i18n.js";
import { map } from "./map.js";
import { on } from "./store.js";

const $ = (id) => document.getElementById(id);
let areas = null;      // GeoJSON from /areas
let layer = null;
let timer = null;
let seq = 0;
let enabled = false;

function colour(share) {
  if (share === null || share === undefined) return "#999";
  if (share >= 0.95) return "#2e7d32";
  if (share >= 0.7) return "#9ccc65";
  if (share >= 0.4) return "#ffb74d";
  return "#e53935";
}

async function refresh() {
  const mine = ++seq;
  try {
    const cov = await api.get("/coverage?minutes=15");
    if (mine !== seq || !enabled) return;
    const shares = new Map(((cov.desa && cov.desa.areas) || []).map((a) => [a.name, a.share]));
    const next = L.layerGroup();
    if (areas) {
      L.geoJSON(areas, {
        pane: "coverage",
        style: (f) => ({ weight: 0.6, color: "#555", fillOpacity: 0.35, fillColor: colour(shares.get(f.properties.name)) }),
        onEachFeature: (f, l) => {
          const share = shares.get(f.properties.name);
          l.bindTooltip(`${f.properties.name}: ${share === null || share === undefined ? "–" : Math.round(share * 100) + "%"}`);
        },
      }).addTo(next);
    }
    cov.holes.forEach((h) => {
      L.circleMarker([h.lat, h.lon], { pane: "coverage", radius: 6 + Math.sqrt(h.population) / 15, color: "#b71c1c",
        weight: 2, fillOpacity: 0.15 }).bindTooltip(t("coverage.hole", { people: Math.round(h.population) })).addTo(next);
    });
    if (layer) layer.remove();
    layer = next.addTo(map);
    const share = cov.population.share;
    const box = $("coverage-summary");
    box.hidden = false;
    box.textContent = t("coverage.summary", {
      share: share === null ? "–" : Math.round(share * 100), units: cov.units_available,
      thin: cov.desa ? cov.desa.not_covered + cov.desa.partly_covered : 0,
    });
  } catch (err) {
    $("coverage-summary").hidden = false;
    $("coverage-summary").textContent = t("coverage.failed") + " " + err.message;
  }
}

function schedule() {
  if (!enabled) return;
  clearTimeout(timer);
  timer = setTimeout(refresh, 400);  // a dispatch changes several units at once: one refresh
}

export async function setCoverage(on_) {
  enabled = on_;
  $("coverage-toggle").checked = on_;
  if (!on_) {
    seq++;
    if (layer) { layer.remove(); layer = null; }
    $("coverage-summary").hidden = true;
    return;
  }
  if (!areas) {
    try { areas = await api.get("/areas"); } catch { areas = null; }
  }
  await refresh();
}

export function toggleCoverage() {
  if ($("coverage-toggle").closest("label").hidden) return undefined;
  return setCoverage(!enabled);
}

/** At every login: the layer is for the roles that may read /coverage (not a unit's or an agency's key). */
export function showCoverage(me, region) {
  const allowed = region.has_population && ["dispatcher", "planner", "admin"].includes(me.role);
  $("coverage-toggle").closest("label").hidden = !allowed;
  if (!allowed && enabled) setCoverage(false);
}

export function initCoverage(region) {
  const box = $("coverage-toggle");
  box.closest("label").hidden = !region.has_population;
  box.addEventListener("change", () => setCoverage(box.checked));
  on("units", schedule);
  onLanguage(() => { if (enabled) refresh(); });
}
