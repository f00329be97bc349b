/* runwatch dashboard: runs table, run page with live charts, compare, alerts and silences.
 *
 * Plain JS, no build step. Everything user-controlled (run names, keys, tags, notes,
 * alert text, params) reaches the page as text nodes or attribute values set through the
 * DOM: never through innerHTML. Live data comes over WS /api/v1/live.
 */
"use strict";
(() => {
  const API = "/api/v1";
  const view = document.getElementById("view");
  const liveState = document.getElementById("live-state");
  const state = { live: null, charts: [], timers: [], session: null };

  // ------------------------------------------------------------------ DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") el.className = value;
      else if (name === "text") el.textContent = String(value);
      else if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
      else if (name === "href") el.setAttribute("href", safeHref(value));
      else if (name === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(name, value === true ? "" : String(value));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function setView(...children) {
    view.replaceChildren();
    append(view, children);
  }

  function safeHref(value) {
    const s = String(value);
    return s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//")) ? s : "#/";
  }

  function hashQuery() {
    const hash = location.hash || "#/";
    const i = hash.indexOf("?");
    return new URLSearchParams(i >= 0 ? hash.slice(i + 1) : "");
  }

  // ------------------------------------------------------------------ values

  function num(v) {
    if (v === "NaN") return NaN;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    return v;
  }

  function fmt(v) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "string") return v;
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e12) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(+v.toPrecision(5));
  }

  function age(ts, skew) {
    if (!ts) return "–";
    const s = Math.max(0, Date.now() / 1000 - skew - ts);
    if (s < 60) return `${Math.floor(s)}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
  }

  function when(ts) {
    return ts ? new Date(ts * 1000).toLocaleString() : "–";
  }

  function statusBadge(status) {
    return h("span", { class: `status ${/^[a-z]+$/.test(status) ? status : ""}`, text: status, "data-role": "status" });
  }

  // ------------------------------------------------------------------ API

  class AuthNeeded extends Error {}

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options, headers: { "X-Requested-With": "runwatch", ...(options.headers || {}) } };
    if (init.body && typeof init.body !== "string") {
      init.body = JSON.stringify(init.body);
      init.headers["Content-Type"] = "application/json";
    }
    const response = await fetch(API + path, init);
    const data = await response.json().catch(() => ({}));
    if (response.ok) return data;
    const err = new (response.status === 401 ? AuthNeeded : Error)(reason(data.detail) || response.statusText);
    err.detail = data.detail;
    err.status = response.status;
    throw err;
  }

  function reason(detail) {
    /* The API's why: a string, {error: ...}, or FastAPI's list of validation errors ("duration: Field required"). */
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail.map((d) => [...(d.loc || []).filter((part) => part !== "body"), String(d.msg).replace(/^Value error, /, "")].join(": ")).join("\n");
    }
    return detail && detail.error;
  }

  // ------------------------------------------------------------------ live connection

  class Live {
    /* One websocket per page; reconnects with the last cursor so nothing is missed. */
    constructor(subscription, onFrame) {
      this.subscription = subscription;
      this.onFrame = onFrame;
      this.cursor = null;
      this.closed = false;
      this.backoff = 250;
      this.frames = 0;
      this.connect();
    }
    connect() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const ws = (this.ws = new WebSocket(`${proto}//${location.host}${API}/live`));
      ws.onopen = () => {
        this.backoff = 250;
        const message = { ...this.subscription };
        if (this.cursor) message.cursor = this.cursor;
        ws.send(JSON.stringify(message));
        setLiveState(true);
      };
      ws.onmessage = (event) => {
        const frame = JSON.parse(event.data);
        if (frame.cursor) this.cursor = frame.cursor;
        if (frame.type !== "frame") return;
        this.frames += 1;
        document.body.dataset.frames = String(this.frames);
        this.onFrame(frame);
      };
      ws.onclose = (event) => {
        setLiveState(false);
        if (this.closed) return;
        if (event.code === 4401) { showLogin(); return; }
        setTimeout(() => !this.closed && this.connect(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 10000);
      };
    }
    close() {
      this.closed = true;
      if (this.ws) this.ws.close();
    }
  }

  function setLiveState(on) {
    liveState.textContent = on ? "live" : "offline";
    liveState.className = `live-state ${on ? "on" : "off"}`;
  }

  // ------------------------------------------------------------------ charts

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  const COLORS = ["--c0", "--c1", "--c2", "--c3", "--c4", "--c5", "--c6", "--c7"];

  function axes() {
    const stroke = cssVar("--muted");
    const grid = { stroke: cssVar("--border"), width: 1 };
    return [{ stroke, grid, ticks: grid }, { stroke, grid, ticks: grid, size: 60 }];
  }

  class MetricChart {
    /* One metric of one run: last values, plus the min/max band when downsampled. Live points append in place. */
    constructor(key, data) {
      this.key = key;
      this.x = []; this.y = []; this.lo = []; this.hi = [];
      this.nonFinite = 0;
      this.zoomed = false;
      this.badge = h("span", { class: "badge" });
      this.box = h("div", { class: "chart", dataset: { key, points: "0" } }, h("h3", {}, key, this.badge));
      this.plotBox = h("div", {});
      this.box.append(this.plotBox);
      this.load(data);
    }
    load(data) {
      const band = !!data.downsampled;
      this.x = data.steps.slice();
      this.y = data.values.map((v) => this.finite(num(v)));
      this.lo = band ? data.min.map((v) => this.finite(num(v), true)) : this.y.slice();
      this.hi = band ? data.max.map((v) => this.finite(num(v), true)) : this.y.slice();
      if (band) this.nonFinite += data.nans.reduce((a, b) => a + b, 0);
      this.redraw();
    }
    finite(v, quiet) {
      if (Number.isFinite(v)) return v;
      if (!quiet) this.nonFinite += 1;
      return null;
    }
    append(steps, values) {
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        const v = this.finite(num(values[i]));
        let at = this.x.length;
        if (at && step < this.x[at - 1]) { // out of order: insert where it belongs
          let lo = 0, hi = at;
          while (lo < hi) { const mid = (lo + hi) >> 1; if (this.x[mid] <= step) lo = mid + 1; else hi = mid; }
          at = lo;
        }
        this.x.splice(at, 0, step); this.y.splice(at, 0, v); this.lo.splice(at, 0, v); this.hi.splice(at, 0, v);
      }
      this.scheduleRedraw();
    }
    scheduleRedraw() {
      if (this.pending) return;
      this.pending = requestAnimationFrame(() => { this.pending = 0; this.redraw(); });
    }
    redraw() {
      this.badge.textContent = this.nonFinite ? `${this.nonFinite} non-finite (NaN/±Inf)` : "";
      this.box.dataset.points = String(this.x.length);
      if (!window.uPlot) return;
      const data = [this.x, this.y, this.lo, this.hi];
      if (!this.plot) {
        const color = cssVar("--c0");
        const opts = {
          width: Math.max(300, this.plotBox.clientWidth || 440), height: 220,
          scales: { x: { time: false } },
          axes: axes(),
          cursor: { drag: { x: true, y: false } },
          series: [
            { label: "step" },
            { label: "value", stroke: color, width: 1.5, spanGaps: false, points: { show: false } },
            { label: "min", stroke: "transparent", points: { show: false } },
            { label: "max", stroke: "transparent", points: { show: false } },
          ],
          bands: [{ series: [3, 2], fill: cssVar("--band") }],
          legend: { live: true },
          hooks: { setSelect: [(u) => { if (u.select.width > 0) this.zoomed = true; }] },
        };
        this.plot = new uPlot(opts, data, this.plotBox);
        this.plot.over.addEventListener("dblclick", () => { this.zoomed = false; this.plot.setData(data, true); });
        new ResizeObserver(() => {
          const w = this.plotBox.clientWidth;
          if (w && Math.abs(w - this.plot.width) > 4) this.plot.setSize({ width: w, height: 220 });
        }).observe(this.plotBox);
      } else {
        this.plot.setData(data, !this.zoomed); // a zoomed chart keeps its zoom while data arrives
      }
    }
    destroy() { if (this.plot) this.plot.destroy(); }
  }

  class OverlayChart {
    /* One metric across several runs (compare page). */
    constructor(key, runs, seriesByRun) {
      this.box = h("div", { class: "chart", dataset: { key } }, h("h3", {}, key));
      const plotBox = h("div", {});
      this.box.append(plotBox);
      const tables = [];
      const series = [{ label: "step" }];
      runs.forEach((run, i) => {
        const s = (seriesByRun[run.id] || {})[key];
        if (!s || !s.steps.length) return;
        tables.push([s.steps, s.values.map((v) => { const n = num(v); return Number.isFinite(n) ? n : null; })]);
        series.push({ label: run.name, stroke: cssVar(COLORS[i % COLORS.length]), width: 1.5, spanGaps: true, points: { show: false } });
      });
      if (!tables.length || !window.uPlot) { plotBox.append(h("p", { class: "muted", text: "no data" })); return; }
      const data = uPlot.join(tables);
      requestAnimationFrame(() => {
        this.plot = new uPlot({ width: Math.max(300, plotBox.clientWidth || 440), height: 240, scales: { x: { time: false } }, axes: axes(), series }, data, plotBox);
      });
    }
    destroy() { if (this.plot) this.plot.destroy(); }
  }

  // ------------------------------------------------------------------ pages

  function leavePage() {
    if (state.live) state.live.close();
    state.live = null;
    state.charts.forEach((c) => c.destroy());
    state.charts = [];
    state.timers.forEach((t) => clearInterval(t));
    state.timers = [];
  }

  function errorBox(err) {
    return h("div", { class: "panel error", text: err.message || String(err) });
  }

  // Runs table ---------------------------------------------------------

  async function runsPage() {
    const q = hashQuery();
    const filterInput = h("input", { type: "text", class: "filter", id: "filter", placeholder: "filter: params.lr = 0.01 and metrics.val/acc > 0.9 or tags.baseline", value: q.get("filter") || "" });
    const sortSelect = h("select", { id: "sort" },
      ["created_at desc", "created_at asc", "last_event_at desc", "name asc", "status asc"].map((s) => h("option", { value: s, text: s, selected: (q.get("sort") || "created_at desc") === s })));
    const errorLine = h("div", { class: "error", id: "filter-error" });
    const compareButton = h("button", { class: "secondary", disabled: true, text: "Compare selected" });
    const tbody = h("tbody", { id: "runs-body" });
    const more = h("button", { class: "secondary", text: "More", hidden: true });
    const selected = new Set();
    const rows = new Map();
    let skew = 0;
    let cursor = null;

    const apply = () => {
      const params = new URLSearchParams();
      if (filterInput.value.trim()) params.set("filter", filterInput.value.trim());
      if (sortSelect.value !== "created_at desc") params.set("sort", sortSelect.value);
      const target = "#/" + (params.toString() ? "?" + params : "");
      if (location.hash === target) load(false); else location.hash = target;
    };
    filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") apply(); });
    sortSelect.addEventListener("change", apply);
    compareButton.addEventListener("click", () => { location.hash = "#/compare?runs=" + encodeURIComponent([...selected].join(",")); });
    more.addEventListener("click", () => load(true));

    setView(
      h("div", { class: "panel" },
        h("div", { class: "row" }, filterInput, sortSelect, h("button", { text: "Apply", onclick: apply }), compareButton),
        errorLine),
      h("div", { class: "panel" },
        h("table", { id: "runs-table" },
          h("thead", {}, h("tr", {}, ["", "name", "project", "status", "step", "age", "latest metrics", "tags"].map((t) => h("th", { text: t })))),
          tbody),
        more));

    function metricChips(metrics) {
      return Object.entries(metrics || {}).slice(0, 4).map(([k, m]) => h("span", { class: "metric-chip", dataset: { key: k } }, h("b", { text: k + " " }), h("span", { text: fmt(m.last) })));
    }

    function renderRow(run) {
      const box = h("input", { type: "checkbox", onchange: (e) => { e.target.checked ? selected.add(run.id) : selected.delete(run.id); compareButton.disabled = selected.size < 1; } });
      const cells = {
        status: h("td", {}, statusBadge(run.status)),
        step: h("td", { class: "num", text: run.last_step ?? "–" }),
        age: h("td", { class: "num", text: age(run.last_event_at || run.updated_at, skew) }),
        metrics: h("td", {}, metricChips(run.metrics)),
      };
      const tr = h("tr", { dataset: { run: run.id } },
        h("td", {}, box),
        h("td", { class: "name" }, h("a", { href: "#/run/" + encodeURIComponent(run.id), text: run.name })),
        h("td", { text: run.project }),
        cells.status, cells.step, cells.age, cells.metrics,
        h("td", {}, (run.tags || []).map((t) => h("span", { class: "tag", text: t }))));
      rows.set(run.id, { run, tr, cells });
      return tr;
    }

    async function load(next) {
      errorLine.textContent = "";
      const params = new URLSearchParams({ limit: "50" });
      if (filterInput.value.trim()) params.set("filter", filterInput.value.trim());
      params.set("sort", sortSelect.value);
      if (next && cursor) params.set("cursor", cursor);
      let data;
      try {
        data = await api("/runs?" + params);
      } catch (err) {
        if (err instanceof AuthNeeded) throw err;
        const pos = err.detail && err.detail.position;
        errorLine.textContent = err.message + (pos !== undefined ? `\n${filterInput.value}\n${" ".repeat(pos)}^` : "");
        return;
      }
      skew = Date.now() / 1000 - data.now;
      if (!next) { tbody.replaceChildren(); rows.clear(); }
      data.runs.forEach((run) => tbody.append(renderRow(run)));
      cursor = data.next_cursor;
      more.hidden = !cursor;
      if (!data.runs.length && !next) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "muted", text: "No runs match. Start one with emitter.init(project=...)." })));
    }

    let reloadTimer = 0;
    function onFrame(frame) {
      const now = Date.now() / 1000 - skew;
      for (const s of frame.series) {
        const row = rows.get(s.run);
        if (!row) continue;
        const metrics = (row.run.metrics = row.run.metrics || {});
        metrics[s.key] = { last: num(s.values[s.values.length - 1]), step: s.steps[s.steps.length - 1] };
        const step = Math.max(...s.steps);
        if (row.run.last_step === null || row.run.last_step === undefined || step > row.run.last_step) row.run.last_step = step;
        row.run.last_event_at = now;
        row.cells.step.textContent = String(row.run.last_step);
        row.cells.metrics.replaceChildren(...metricChips(metrics));
      }
      for (const run of frame.heartbeats) { const row = rows.get(run); if (row) row.run.last_event_at = now; }
      for (const ev of frame.events) {
        const row = rows.get(ev.run);
        if (ev.kind === "status" && row) { row.run.status = ev.status; row.cells.status.replaceChildren(statusBadge(ev.status)); }
        if (ev.kind === "run.start" && !row && !reloadTimer) reloadTimer = setTimeout(() => { reloadTimer = 0; load(false); }, 500);
      }
    }

    await load(false);
    state.live = new Live({}, onFrame);
    state.timers.push(setInterval(() => {
      for (const { run, cells } of rows.values()) cells.age.textContent = age(run.last_event_at || run.updated_at, skew);
    }, 1000));
  }

  // Run page -----------------------------------------------------------

  const MAX_POINTS = 1000;

  async function runPage(ref) {
    const run = await api("/runs/" + encodeURIComponent(ref));
    const metrics = await api(`/runs/${encodeURIComponent(run.id)}/metrics?max_points=${MAX_POINTS}`);
    const skew = Date.now() / 1000 - run.now;
    const statusCell = h("span", {}, statusBadge(run.status));
    const stepCell = h("span", { class: "num", text: run.last_step ?? "–" });
    const charts = new Map();
    const chartGrid = h("div", { class: "charts", id: "charts" });
    const keyFilter = h("input", { type: "text", placeholder: "filter metrics", oninput: () => {
      const needle = keyFilter.value.toLowerCase();
      for (const [key, chart] of charts) chart.box.hidden = needle && !key.toLowerCase().includes(needle);
    } });
    const notesList = h("ul", { id: "notes" }, (run.notes_log || []).map((n) => h("li", { text: n.text })));
    const tagsBox = h("div", { id: "tags" }, run.tags.map((t) => h("span", { class: "tag", text: t })));
    const alertsList = h("ul", { id: "run-alerts" },
      run.user_alerts.map((a) => h("li", {}, h("b", { text: `[${a.level}] ${a.title}` }), " ", a.text)),
      run.alerts.map((a) => h("li", { text: JSON.stringify(a) })));

    function addChart(key, data) {
      const chart = new MetricChart(key, data);
      charts.set(key, chart);
      state.charts.push(chart);
      chartGrid.append(chart.box);
      return chart;
    }

    setView(
      h("div", { class: "panel" },
        h("h1", { id: "run-name", text: run.name }),
        h("div", { class: "row muted" }, statusCell, h("span", { text: `project ${run.project}` }), h("span", {}, "step ", stepCell),
          h("span", { text: `id ${run.id}` }), h("span", { text: `started ${when(run.created_at)}` }),
          h("a", { href: `${API}/runs/${encodeURIComponent(run.id)}/export.csv`, text: "export CSV" })),
        tagsBox,
        run.notes ? h("p", { text: run.notes }) : null),
      h("div", { class: "panel" }, h("div", { class: "row" }, h("h2", { text: "Metrics" }), keyFilter), chartGrid),
      h("div", { class: "grid2" },
        h("div", { class: "panel" }, h("h2", { text: "Params" }),
          h("table", { class: "kv", id: "params" }, h("tbody", {}, Object.entries(run.params).map(([k, v]) => h("tr", {}, h("td", { text: k }), h("td", { text: JSON.stringify(v) })))))),
        h("div", { class: "panel" }, h("h2", { text: "Environment" }), h("pre", { text: JSON.stringify(run.env, null, 2) }))),
      h("div", { class: "grid2" },
        h("div", { class: "panel" }, h("h2", { text: "Notes" }), notesList),
        h("div", { class: "panel" }, h("h2", { text: "Alerts" }), alertsList)),
      run.exit_info && Object.keys(run.exit_info).length ? h("div", { class: "panel" }, h("h2", { text: "Exit" }), h("pre", { text: JSON.stringify(run.exit_info, null, 2) })) : null);

    for (const [key, data] of Object.entries(metrics.series)) addChart(key, data);

    async function reload(key) {
      const data = await api(`/runs/${encodeURIComponent(run.id)}/metrics?max_points=${MAX_POINTS}&keys=${encodeURIComponent(key)}`);
      if (data.series[key]) charts.get(key).load(data.series[key]);
    }

    state.live = new Live({ runs: [run.id] }, (frame) => {
      for (const s of frame.series) {
        if (s.run !== run.id) continue;
        const chart = charts.get(s.key) || addChart(s.key, { steps: [], values: [] });
        if (frame.coalesced || chart.x.length > 4 * MAX_POINTS) { reload(s.key); continue; } // refetch, downsampled
        chart.append(s.steps, s.values);
        const step = Math.max(...s.steps);
        if (!(step <= run.last_step)) { run.last_step = step; stepCell.textContent = String(step); }
      }
      for (const ev of frame.events) {
        if (ev.run !== run.id) continue;
        if (ev.kind === "status") statusCell.replaceChildren(statusBadge(ev.status));
        else if (ev.kind === "note") notesList.append(h("li", { text: ev.text }));
        else if (ev.kind === "tags") (ev.tags || []).forEach((t) => tagsBox.append(h("span", { class: "tag", text: t })));
        else if (ev.kind === "alert") alertsList.prepend(h("li", {}, h("b", { text: `[${ev.level}] ${ev.title}` }), " ", ev.text || ""));
        else if (ev.kind === "rule_alert") alertsList.prepend(h("li", {}, h("b", { text: `[${ev.severity}] ${ev.rule} ${ev.state}` }), " ", ev.title || ""));
      }
    });
    void skew;
  }

  // Compare ------------------------------------------------------------

  async function comparePage() {
    const ids = (hashQuery().get("runs") || "").split(",").filter(Boolean);
    if (!ids.length) {
      setView(h("div", { class: "panel" }, h("p", { text: "Tick runs in the runs table and press “Compare selected”." })));
      return;
    }
    const data = await api("/compare?runs=" + encodeURIComponent(ids.join(",")));
    const onlyDiff = h("input", { type: "checkbox", id: "only-diff" });
    const body = h("tbody", {});
    const renderParams = () => body.replaceChildren(...data.params.filter((p) => !onlyDiff.checked || p.differs).map((p) =>
      h("tr", { class: p.differs ? "differs" : "" }, h("td", { text: p.key }),
        data.runs.map((r) => h("td", { text: r.id in p.values ? JSON.stringify(p.values[r.id]) : "–" })))));
    onlyDiff.addEventListener("change", renderParams);
    renderParams();
    const grid = h("div", { class: "charts" });
    setView(
      h("div", { class: "panel" }, h("h2", { text: "Params" }),
        h("label", { class: "row" }, onlyDiff, "only differing"),
        h("table", { id: "compare-params" },
          h("thead", {}, h("tr", {}, h("th", { text: "param" }), data.runs.map((r) => h("th", {}, h("a", { href: "#/run/" + encodeURIComponent(r.id), text: r.name }))))),
          body)),
      h("div", { class: "panel" }, h("h2", { text: "Metrics" }), grid));
    for (const key of data.keys) {
      const chart = new OverlayChart(key, data.runs, data.series);
      state.charts.push(chart);
      grid.append(chart.box);
    }
  }

  // Alerts -------------------------------------------------------------

  async function alertsPage() {
    const data = await api("/alerts");
    const userBody = h("tbody", { id: "user-alerts" }, data.user_alerts.map((a) => alertRow(a.ts, a.run_id, a.run_name, a.level, a.title, a.text)));
    const columns = data.alerts.length ? Object.keys(data.alerts[0]) : [];
    const ruleBody = h("tbody", { id: "rule-alerts-live" });
    setView(
      h("div", { class: "panel" }, h("h2", { text: "Rule alerts" }),
        data.alerts.length ? h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", { text: c })))),
          h("tbody", {}, data.alerts.map((a) => h("tr", {}, columns.map((c) => h("td", { text: typeof a[c] === "object" ? JSON.stringify(a[c]) : a[c] ?? "" })))))) :
          h("p", { class: "muted", text: "No rule alerts." })),
      h("div", { class: "panel" }, h("h2", { text: "Rule alerts since this page opened" }),
        h("table", {}, h("thead", {}, h("tr", {}, ["when", "run", "severity", "rule", "state", "title"].map((t) => h("th", { text: t })))), ruleBody)),
      silencesPanel(),
      h("div", { class: "panel" }, h("h2", { text: "Alerts raised by runs" }),
        h("table", {}, h("thead", {}, h("tr", {}, ["when", "run", "level", "title", "text"].map((t) => h("th", { text: t })))), userBody)));
    state.live = new Live({}, (frame) => {
      for (const ev of frame.events) {
        if (ev.kind === "alert") userBody.prepend(alertRow(ev.ts, ev.run, ev.run, ev.level, ev.title, ev.text));
        else if (ev.kind === "rule_alert") ruleBody.prepend(h("tr", {}, h("td", { class: "num", text: when(ev.ts) }),
          h("td", {}, h("a", { href: "#/run/" + encodeURIComponent(ev.run), text: ev.run })),
          h("td", { text: ev.severity }), h("td", { text: ev.rule }), h("td", { text: ev.state }), h("td", { text: ev.title })));
      }
    });
  }

  function alertRow(ts, runId, runName, level, title, text) {
    return h("tr", {}, h("td", { class: "num", text: when(ts) }), h("td", {}, h("a", { href: "#/run/" + encodeURIComponent(runId), text: runName || runId })),
      h("td", { text: level }), h("td", { text: title }), h("td", { text: text }));
  }

  // Silences (on the alerts page) ---------------------------------------

  const UNITS = { s: 1, m: 60, h: 3600, d: 86400 };

  function seconds(text) {
    /* "3600", "30m", "2h", "1d12h" → seconds; anything else goes to the API as typed, for it to refuse with its reason. */
    const t = text.replace(/\s+/g, "");
    if (!t) return undefined;
    if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
    if (!/^(\d+(\.\d+)?[smhd])+$/.test(t)) return t;
    return [...t.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * UNITS[unit], 0);
  }

  function startsAt(text) {
    /* When a silence starts, as the API's starts_at (Unix seconds): "" or "now" → undefined (not sent: the API starts it now);
     * "in 30m", "30m", "in 1h30m", "90" → that long from now (this browser's clock); a local date and time such as
     * "2026-12-01 14:30" or "2026-12-01T14:30:00" (what a datetime-local input gives), or a date alone (midnight) → that
     * moment in this browser's time zone. Anything else goes to the API as typed, for it to refuse with its reason. */
    const t = text.trim();
    if (!t || /^now$/i.test(t)) return undefined;
    const offset = seconds(t.replace(/^in\s+/i, ""));
    if (typeof offset === "number" && Number.isFinite(offset)) return Date.now() / 1000 + offset;
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T\s]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$/.exec(t);
    if (m) {
      const [y, mon, d, hour, min, sec] = m.slice(1).map((part) => Number(part || 0));
      const date = new Date(y, mon - 1, d, hour, min, sec);
      if (date.getFullYear() === y && date.getMonth() === mon - 1 && date.getDate() === d && hour < 24 && min < 60 && sec < 60) return date.getTime() / 1000;
    }
    return t;
  }

  const SILENCES_REFRESH_MS = 15000; // a positive window.RUNWATCH_SILENCES_REFRESH_MS overrides it (tests set one before the page loads)

  function silencesPanel() {
    const field = (id, placeholder, cls) => h("input", { type: "text", id, placeholder, class: cls, autocomplete: "off" });
    const inputs = {
      rule: field("silence-rule", "rule"), run_id: field("silence-run", "run id"), project: field("silence-project", "project"),
      starts_at: field("silence-starts", "starts: now, in 1h, a date"),
      duration: field("silence-duration", "for: 30m, 2h, 1d"), comment: field("silence-comment", "comment: why", "grow"),
    };
    inputs.starts_at.title = "Empty or “now”: now. “in 30m”, “2h”: that long from now. A local date and time: 2026-12-01 14:30.";
    const errorLine = h("div", { class: "error", id: "silence-error", role: "alert" });
    const list = h("tbody", { id: "silences" });

    let loads = 0; // only the newest list request may fill the table (a slow periodic one must not undo a change)
    let listError = ""; // why the list could not be loaded, cleared again by the next load that works

    async function load() {
      const mine = ++loads;
      try {
        const { silences } = await api("/silences");
        if (mine !== loads) return;
        list.replaceChildren(...silences.map(row));
        if (!silences.length) list.append(h("tr", {}, h("td", { colspan: 10, class: "muted", text: "No active or scheduled silences." })));
        if (listError && errorLine.textContent === listError) errorLine.textContent = "";
        listError = "";
      } catch (err) {
        if (mine !== loads) return;
        errorLine.textContent = listError = err.message;
      }
    }

    async function change(request) { // a POST or DELETE, then the list as it now is; true if the API accepted it
      errorLine.textContent = "";
      let ok = true;
      try { await request(); } catch (err) { errorLine.textContent = err.message; ok = false; }
      await load();
      return ok;
    }

    function row(s) {
      const end = () => change(() => api(`/silences/${encodeURIComponent(s.id)}`, { method: "DELETE" }));
      const state = s.active ? "active" : "scheduled";
      return h("tr", { dataset: { silence: s.id } },
        h("td", { class: "num", text: s.id }), h("td", {}, h("span", { class: `status ${state}`, text: state })),
        h("td", { text: s.rule ?? "any" }),
        h("td", {}, s.run_id ? h("a", { href: "#/run/" + encodeURIComponent(s.run_id), text: s.run_id }) : "any"),
        h("td", { text: s.project ?? "any" }),
        h("td", { class: "num", text: when(s.starts_at) }), h("td", { class: "num", text: when(s.ends_at) }),
        h("td", { text: s.comment }), h("td", { text: s.created_by }),
        h("td", {}, h("button", { class: "secondary", text: "End", onclick: end })));
    }

    const submit = async (e) => {
      e.preventDefault();
      const given = (name) => inputs[name].value.trim() || undefined; // empty means "any": not sent
      const body = { rule: given("rule"), run_id: given("run_id"), project: given("project"),
        starts_at: startsAt(inputs.starts_at.value), duration: seconds(inputs.duration.value), comment: inputs.comment.value.trim() };
      if (await change(() => api("/silences", { method: "POST", body }))) Object.values(inputs).forEach((input) => { input.value = ""; });
    };

    const panel = h("div", { class: "panel", id: "silences-panel" }, h("h2", { text: "Silences" }),
      h("p", { class: "muted", text: "While a silence lasts, matching alerts are still recorded and listed, but no notification is sent. " +
        "Give at least one of rule, run id, project; every one given must match. It starts now, or when “starts” says: " +
        "in 30m, or a local date and time such as 2026-12-01 14:30." }),
      h("form", { class: "row", id: "silence-form", onsubmit: submit }, Object.values(inputs), h("button", { type: "submit", text: "Add silence" })),
      errorLine,
      h("table", {}, h("thead", {}, h("tr", {}, ["id", "state", "rule", "run", "project", "starts", "ends", "comment", "created by", ""].map((t) => h("th", { text: t })))), list));

    // Scheduled → active → ended happens on the server's clock, so the list is reloaded while the page is shown. leavePage()
    // clears state.timers on every route change; the isConnected check also stops a timer whose page lost a navigation race.
    const every = Number(window.RUNWATCH_SILENCES_REFRESH_MS) > 0 ? Number(window.RUNWATCH_SILENCES_REFRESH_MS) : SILENCES_REFRESH_MS;
    const timer = setInterval(() => { if (panel.isConnected) load(); else clearInterval(timer); }, every);
    state.timers.push(timer);
    load();
    return panel;
  }

  // Login --------------------------------------------------------------

  function showLogin() {
    leavePage();
    const input = h("input", { type: "password", id: "token", placeholder: "rw_…", autocomplete: "off" });
    const err = h("div", { class: "error" });
    const submit = async (e) => {
      e.preventDefault();
      try {
        await api("/session", { method: "POST", body: { token: input.value.trim() } });
        route();
      } catch (error) {
        err.textContent = "That token was not accepted.";
      }
    };
    setView(h("form", { class: "panel login", onsubmit: submit },
      h("h2", { text: "Sign in" }),
      h("p", { class: "muted", text: "This runwatch server requires a token. Create one with: runwatch token create --role viewer" }),
      h("div", { class: "row" }, input, h("button", { type: "submit", text: "Sign in" })), err));
  }

  // ------------------------------------------------------------------ router

  async function route() {
    leavePage();
    const hash = location.hash || "#/";
    const path = hash.slice(1).split("?")[0];
    for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.getAttribute("href") === "#" + path || (path === "/" && a.dataset.nav === "runs"));
    try {
      if (path.startsWith("/run/")) await runPage(decodeURIComponent(path.slice(5)));
      else if (path === "/compare") await comparePage();
      else if (path === "/alerts") await alertsPage();
      else await runsPage();
    } catch (err) {
      if (err instanceof AuthNeeded) showLogin();
      else setView(errorBox(err));
    }
  }

  window.addEventListener("hashchange", route);
  route();
})();
