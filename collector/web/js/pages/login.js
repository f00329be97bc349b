/* The sign-in form, shown when the API answers 401 (or the live socket closes with 4401). */

import { api } from "../api.js";
import { h, setView } from "../dom.js";

/** Show the form; once POST /session accepts the token (the server sets an HttpOnly cookie), call onSignedIn(). */
export function showLogin(onSignedIn) {
  const input = h("input", { type: "password", id: "token", placeholder: "rw_…", autocomplete: "off" });
  const err = h("div", { class: "error" });
  const submit = async (e) => {
    e.preventDefault();
    try {
      await api("/session", { method: "POST", body: { token: input.value.trim() } });
      onSignedIn();
    } catch (error) {
      err.textContent = "That token was not accepted.";
    }
  };
  setView(h("form", { class: "panel login", onsubmit: submit },
    h("h2", { text: "Sign in" }),
    h("p", { class: "muted", text: "This runwatch server requires a token. Create one with: runwatch token create --role viewer" }),
    h("div", { class: "row" }, input, h("button", { type: "submit", text: "Sign in" })), err));
}
