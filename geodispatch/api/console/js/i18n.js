// One message table per language (geodispatch/locale/{id,en}.json, keys "console.*"), served
// at /console/locale/{lang}.json. Bahasa Indonesia by default; the choice is remembered.

const LANG_KEY = "geodispatch.lang";
export const LANGUAGES = ["id", "en"];
let lang = "id";
let table = {};
const listeners = [];

/** The message for key, with {name} placeholders filled from params. */
export function t(key, params = {}) {
  const text = key in table ? table[key] : key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

export function has(key) { return key in table; }
export function currentLang() { return lang; }
export function onLanguage(fn) { listeners.push(fn); }

/** Fill every [data-i18n], [data-i18n-placeholder] and [data-i18n-title] under root. */
export function apply(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
}

export async function setLanguage(next) {
  const response = await fetch(`locale/${next}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`no messages for ${next}`);
  table = await response.json();
  lang = next;
  localStorage.setItem(LANG_KEY, next);
  document.documentElement.lang = next;
  apply();
  listeners.forEach((fn) => fn(next));
}

export function initialLanguage() {
  const saved = localStorage.getItem(LANG_KEY);
  return LANGUAGES.includes(saved) ? saved : "id";
}

/** Seconds as "m menit s detik" / "m min s s" (null: unreachable). */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return t("unreachable");
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m ? t("duration.ms", { m, s: s % 60 }) : t("duration.s", { s });
}

/** Metres as km with one decimal (or m below 1 km). */
export function distance(metres) {
  if (metres === null || metres === undefined || !isFinite(metres)) return "–";
  return metres >= 1000 ? `${(metres / 1000).toFixed(1)} km` : `${Math.round(metres)} m`;
}

export function statusLabel(status) { return has("status." + status) ? t("status." + status) : status; }
export function typeLabel(type) { return has("type." + type) ? t("type." + type) : type; }
