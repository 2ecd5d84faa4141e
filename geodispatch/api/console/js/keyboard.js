// Keyboard shortcuts, so the usual flow needs no mouse:
//   N new call (focus lon), / desa picker, Enter in the form creates; Enter (outside a field) or
//   D confirms the dispatch; R fresh recommendation; J/K next/previous incident; 1-5 the
//   selected incident's lifecycle buttons; A acknowledge (an agency's operator); C coverage layer;
//   L language; Esc leaves a field.

import { focusNewCall } from "./newcall.js";
import { confirmDispatch, refresh } from "./recommendation.js";
import { moveSelection } from "./incidents.js";
import { toggleCoverage } from "./coverage.js";
import { clearError } from "./notify.js";
import { state } from "./store.js";

/** An agency's operator: acknowledge the selected report, else the oldest one waiting. */
function acknowledgeNext() {
  const buttons = [...document.querySelectorAll("[data-testid=ack-button]")];
  const selected = buttons.find((b) => Number(b.dataset.incidentId) === state.selected);
  const next = selected || buttons[buttons.length - 1];
  if (next) next.click();
}

export function initKeyboard({ toggleLanguage }) {
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement ||
      target instanceof HTMLTextAreaElement;
    if (ev.key === "Escape") { clearError(); if (typing) target.blur(); return; }
    if (typing || document.getElementById("app").hidden) return;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const actions = {
      n: focusNewCall,
      "/": () => { const d = document.getElementById("desa-input"); if (!d.closest("label").hidden) d.focus(); },
      Enter: confirmDispatch,
      d: confirmDispatch,
      r: refresh,
      j: () => moveSelection(+1),
      k: () => moveSelection(-1),
      c: toggleCoverage,
      a: acknowledgeNext,
      l: toggleLanguage,
    };
    if (/^[1-5]$/.test(key)) {
      const buttons = document.querySelectorAll("#lifecycle button");
      const b = buttons[Number(key) - 1];
      if (b) { ev.preventDefault(); b.click(); }
      return;
    }
    if (target instanceof HTMLButtonElement && key === "Enter") return;  // a focused button clicks itself
    const action = actions[key];
    if (action) { ev.preventDefault(); action(); }
  });
}
