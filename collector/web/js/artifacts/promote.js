/* The "promote" control on a model version of the run page's artifacts panel: point an alias (staging, production,
 * any name) at this version with POST /api/v1/artifacts/{name}/aliases (writer role). The API records the move in
 * the alias history and the audit log; a refusal (a viewer's 403, a reserved alias) is shown as the API's reason.
 */

import { api } from "../api.js";
import { h } from "../dom.js";

/** A small form for one version of a `model` artifact; onMoved() after an alias moved (the panel reloads the run). */
export function promoteControl(record, onMoved) {
  if (record.type !== "model") return null;
  const input = h("input", { type: "text", class: "promote-alias", placeholder: "alias: production", "aria-label": `alias for ${record.name}:v${record.version}`, maxlength: "128", size: "14" });
  const status = h("span", { class: "promote-status muted", role: "status" });
  const button = h("button", { type: "submit", class: "secondary small", text: "promote" });
  const form = h("form", { class: "promote row", dataset: { name: record.name, version: String(record.version) } }, input, button, status);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const alias = input.value.trim();
    if (!alias) { status.className = "promote-status error"; status.textContent = "give an alias, e.g. production"; return; }
    button.disabled = true;
    status.className = "promote-status muted";
    status.textContent = "promoting…";
    try {
      const moved = await api(`/artifacts/${encodeURIComponent(record.name)}/aliases`, {
        method: "POST", body: { alias, version: record.version, project: record.project } });
      const was = moved.from_version === null ? "new" : `was v${moved.from_version}`;
      status.className = "promote-status ok";
      status.textContent = moved.changed ? `${moved.alias} → v${moved.to_version} (${was})` : `${moved.alias} is on v${moved.to_version} already`;
      input.value = "";
      if (moved.changed && onMoved) onMoved(moved);
    } catch (err) {
      status.className = "promote-status error";
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
