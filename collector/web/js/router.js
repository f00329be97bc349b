/* Hash routes → pages. Each route change leaves the page before (its live connection, charts, timers) and
 * opens the next in a new Visit; a 401 from any page shows the sign-in form, then routes again.
 *
 *   #/                       runs table (#/?filter=...&sort=...)
 *   #/run/<id or name>       one run
 *   #/compare?runs=a,b       compare runs
 *   #/alerts                 alerts and silences
 */

import { AuthNeeded } from "./api.js";
import { errorBox, setView } from "./dom.js";
import { alertsPage } from "./pages/alerts.js";
import { comparePage } from "./pages/compare.js";
import { showLogin } from "./pages/login.js";
import { runPage } from "./pages/run.js";
import { runsPage } from "./pages/runs.js";
import { Visit } from "./visit.js";

function markNav(path) {
  for (const a of document.querySelectorAll("nav a")) {
    a.classList.toggle("active", a.getAttribute("href") === "#" + path || (path === "/" && a.dataset.nav === "runs"));
  }
}

function openPage(visit, path) {
  if (path.startsWith("/run/")) return runPage(visit, decodeURIComponent(path.slice(5)));
  if (path === "/compare") return comparePage(visit);
  if (path === "/alerts") return alertsPage(visit);
  return runsPage(visit);
}

/** Show the page the hash names, and follow every hash change from now on. */
export function startRouter() {
  let visit = new Visit(signIn);

  function signIn() {
    visit.leave();
    showLogin(route);
  }

  async function route() {
    visit.leave();
    visit = new Visit(signIn);
    const hash = location.hash || "#/";
    const path = hash.slice(1).split("?")[0];
    markNav(path);
    try {
      await openPage(visit, path);
    } catch (err) {
      if (err instanceof AuthNeeded) signIn();
      else setView(errorBox(err));
    }
  }

  window.addEventListener("hashchange", route);
  route();
}
