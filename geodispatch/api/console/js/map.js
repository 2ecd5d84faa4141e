// The live map: Leaflet (vendored, served by geodispatch), roads from the server's own network
// (arterials always, minor roads when zoomed in), stations. Other panels add their own layers.
// OpenStreetMap tiles are an opt-in layer for when the operator is online; nothing else is
// fetched from any host but this server.

import { api } from "./api.js";
import { t, onLanguage } from "./i18n.js";

export const MINOR_ROADS_ZOOM = 14;
const ROAD_STYLE = {
  motorway: [4, "#c0392b"], trunk: [4, "#d35400"], primary: [3.5, "#e67e22"], secondary: [3, "#f1c40f"],
  tertiary: [2, "#ffffff"], default: [1.3, "#ffffff"],
};

export let map = null;
let roadsRenderer = null;
let minorRenderer = null;
/** Canvas for the unit markers, in a pane above the stations (a unit at its post stays visible). */
export let unitsRenderer = null;
let minorLayer = null;
let minorAbort = null;
let layersControl = null;
const clickHandlers = [];

function style(cls, on) {
  const base = cls.replace(/_link$/, "");
  const [weight, color] = ROAD_STYLE[base] || ROAD_STYLE.default;
  return { weight: cls.endsWith("_link") ? weight * 0.7 : weight, color, opacity: 0.95, interactive: false, renderer: on };
}

function linesLayer(data, on = roadsRenderer) {
  const group = L.layerGroup();
  data.coords.forEach((flat, i) => {
    const latlngs = [];
    for (let k = 0; k < flat.length; k += 2) latlngs.push([flat[k + 1], flat[k]]);
    group.addLayer(L.polyline(latlngs, style(data.classes[data.class[i]], on)));
  });
  return group;
}

export function onMapClick(fn) { clickHandlers.push(fn); }

export async function initMap(region) {
  const [w, s, e, n] = region.bbox;
  if (!map) {
    map = L.map("map", { preferCanvas: true, zoomControl: true, attributionControl: true, keyboard: true });
    map.createPane("minorroads").style.zIndex = 340;
    map.createPane("roads").style.zIndex = 350;
    minorRenderer = L.canvas({ padding: 0.3, pane: "minorroads" });
    roadsRenderer = L.canvas({ padding: 0.3, pane: "roads" });
    map.createPane("coverage").style.zIndex = 360;
    map.createPane("routes").style.zIndex = 450;
    map.createPane("units").style.zIndex = 620;  // above the station squares (markerPane, 600)
    unitsRenderer = L.canvas({ padding: 0.3, pane: "units" });
    map.on("click", (ev) => clickHandlers.forEach((fn) => fn(ev.latlng)));
    map.on("moveend", refreshMinorRoads);
    const osm = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
      { maxZoom: 19, attribution: "© OpenStreetMap" });
    layersControl = L.control.layers({}, { [t("map.osm")]: osm }, { collapsed: true }).addTo(map);
    onLanguage(() => { layersControl.remove(); layersControl = L.control.layers({}, { [t("map.osm")]: osm }).addTo(map); });
    map.attributionControl.setPrefix(false);
    map.attributionControl.addAttribution(region.synthetic ? t("map.synthetic") : region.name);
  }
  map.fitBounds([[s, w], [n, e]]);
  window.geodispatchConsole = Object.assign(window.geodispatchConsole || {}, { map });
  const arterial = await api.get("/roads?level=arterial");
  linesLayer(arterial).addTo(map);
  window.geodispatchConsole.arterialRoads = arterial.coords.length;
  drawSea(region.sea || []);
  drawStations(region.stations);
  refreshMinorRoads();
}

/** Ferries and speedboat links: dashed blue lines (as on the coverage maps), never drawn as roads. */
function drawSea(crossings) {
  const group = L.layerGroup();
  crossings.forEach((c) => {
    const latlngs = [];
    for (let k = 0; k < c.coords.length; k += 2) latlngs.push([c.coords[k + 1], c.coords[k]]);
    const who = c.carries ? ` (${c.carries.join(", ")})` : "";
    group.addLayer(L.polyline(latlngs, { color: "#1f5fa8", weight: 3, dashArray: "8 6", opacity: 0.9,
      renderer: roadsRenderer, className: "sea-crossing" })
      .bindTooltip(`${c.label}: ${t("map.crossing", { minutes: Math.round(c.minutes) })}${who}`, { sticky: true }));
  });
  group.addTo(map);
  window.geodispatchConsole.seaCrossings = crossings.length;
}

async function refreshMinorRoads() {
  if (!map) return;
  if (map.getZoom() < MINOR_ROADS_ZOOM) {
    if (minorLayer) { minorLayer.remove(); minorLayer = null; }
    return;
  }
  const b = map.getBounds().pad(0.2);
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(5)).join(",");
  if (minorAbort) minorAbort.abort();
  minorAbort = new AbortController();
  try {
    const data = await api.get("/roads?level=minor&bbox=" + bbox, { signal: minorAbort.signal });
    const layer = linesLayer(data, minorRenderer);
    if (minorLayer) minorLayer.remove();
    minorLayer = layer.addTo(map);
  } catch (err) {
    if (err.name !== "AbortError") console.warn("minor roads:", err.message);
  }
}

function drawStations(stations) {
  const icon = L.divIcon({ className: "station-marker", iconSize: [9, 9] });
  stations.forEach((s) => {
    L.marker([s.lat, s.lon], { icon, keyboard: false, zIndexOffset: -500 })
      .bindTooltip(`${s.name || s.id} (${s.type})`).addTo(map);
  });
}
