// The one place where the console tells the operator that something failed (data-testid
// "error"), in words: the API's error code is translated, its detail shown underneath.

import { t, has } from "./i18n.js";

/** The operator-facing explanation of an ApiError (or any Error). */
export function explain(err) {
  const code = err.code || "unknown";
  if (code === "unit_unavailable" && err.body && Array.isArray(err.body.units)) {
    const parts = err.body.units.map((u) => (u.incident_id
      ? t("error.unit_taken", { unit: u.id, status: t("status." + u.status), incident: u.incident_id })
      : t("error.unit_not_available", { unit: u.id, status: t("status." + u.status) })));
    return parts.join("\n") + "\n" + t("error.unit_unavailable");
  }
  const key = "error." + code;
  return has(key) ? t(key) : t("error.generic", { status: err.status || "?" });
}

export function showError(err, { detail = true } = {}) {
  const box = document.getElementById("error");
  box.replaceChildren(document.createTextNode(explain(err)));
  if (detail && err.message && err.code !== "network") {
    const small = document.createElement("small");
    small.textContent = err.message;
    box.append(small);
  }
  box.hidden = false;
}

export function showNotice(text) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = !text;
}

export function clearError() {
  const box = document.getElementById("error");
  box.hidden = true;
  box.replaceChildren();
}
