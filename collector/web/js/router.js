/* Hash routes → pages. Each route change leaves the page before (its live connection, charts, timers) and
 * opens the next in a new Visit; a 401 from any page shows the sign-in form, then routes again.
 *
 *   #/                       runs table (#/?filter=...&sort=...)
 *   #/run/<id or name>       one run
 *   #/group/<name>?project=  the runs sharing a group (a study, a sweep), ranked by an objective
 *   #/compare?runs=a,b       compare runs
 *   #/alerts?state=&severity=&run=   alerts (filtered) and silences
 *   #/artifacts?name=&project=       artifact versions across runs
 *
 * Links from outside the dashboard use real paths, which the server answers with this same page:
 * /runs/<url-quoted id> (the link in every delivered alert) and /runs. The router rewrites such a
 * path to its hash route in place (history.replaceState, no reload), so both kinds of link work.
 */

import { AuthNeeded } from "./api.js";
import { errorBox, setView } from "./dom.js";
import { alertsPage } from "./pages/alerts.js";
import { artifactsPage } from "./pages/artifacts.js";
import { comparePage } from "./pages/compare.js";
import { groupPage } from "./pages/group.js";
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
  if (path.startsWith("/group/")) return groupPage(visit, decodeURIComponent(path.slice(7)));
  if (path === "/compare") return comparePage(visit);
  if (path === "/alerts") return alertsPage(visit);
  if (path === "/artifacts") return artifactsPage(visit);
  return runsPage(visit);
}

/** The hash route a real path stands for: "/runs/<quoted id>" → "#/run/<quoted id>", "/runs" → "#/"; else null. */
export function hashForPath(pathname) {
  const m = /^\/runs(?:\/(.*))?$/.exec(pathname);
  if (!m) return null;
  const ref = (m[1] || "").replace(/\/+$/, "");
  return ref ? "#/run/" + ref : "#/";
}

/** Show the page the hash (or a real path from outside) names, and follow every hash change from now on. */
export function startRouter() {
  const fromPath = hashForPath(location.pathname);
  if (fromPath) history.replaceState(null, "", "/" + fromPath);

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
