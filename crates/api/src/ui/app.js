// orbflow's run view: workflows, runs, and one run's step graph, timeline,
// attempts and logs, refreshed while the run moves. Plain DOM, no build step;
// every value is set as text (never as HTML). The token stays in this
// browser's localStorage and goes only in the Authorization header.
"use strict";

const main = () => document.getElementById("main");
const TERMINAL = ["COMPLETED", "FAILED", "CANCELLED"];
let timer = null;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function token() {
  const m = location.hash.match(/[?&]token=([^&]+)/);
  if (m) {
    localStorage.setItem("orbflow-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.hash.replace(/[?&]token=[^&]+/, ""));
  }
  return localStorage.getItem("orbflow-token") || "";
}

function login() {
  const d = document.getElementById("login");
  if (!d.open) d.showModal();
}

document.getElementById("login-form").addEventListener("submit", () => {
  localStorage.setItem("orbflow-token", document.getElementById("login-token").value.trim());
  route();
});

async function api(path, method) {
  const r = await fetch(path, { method: method || "GET", headers: { Authorization: "Bearer " + token() } });
  if (r.status === 401) {
    login();
    throw new Error("sign in with a token of the workspace");
  }
  const body = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((body && (body.detail || body.title)) || "HTTP " + r.status);
  return body;
}

const status = (s) => el("span", { class: "status", "data-status": s }, s);

function when(t) {
  return t ? new Date(t).toLocaleString() : "";
}

function duration(a, b) {
  if (!a) return "";
  const ms = (b ? new Date(b) : new Date()) - new Date(a);
  return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
}

function fail(e) {
  main().replaceChildren(el("p", { class: "error" }, String(e.message || e)));
}

async function workflows() {
  const page = await api("/v1/workflows?limit=200");
  const rows = [];
  for (const w of page.items) {
    const v = await api("/v1/workflows/" + encodeURIComponent(w.slug) + "/versions").catch(() => ({ items: [] }));
    const versions = (v.items || []).map((x) => "v" + x.number).join(", ");
    rows.push(el("tr", {}, el("td", {}, el("a", { href: "#/runs?workflow=" + w.id }, w.slug)),
      el("td", {}, w.name), el("td", {}, w.status), el("td", {}, w.activeVersion ? "v" + w.activeVersion : "—"),
      el("td", {}, versions)));
  }
  main().replaceChildren(el("h2", {}, "Workflows"),
    el("table", {}, el("tr", {}, ["Slug", "Name", "Status", "Active", "Versions"].map((h) => el("th", {}, h))), rows));
}

async function runs(query) {
  const params = new URLSearchParams(query);
  const filter = el("select", { id: "status-filter" }, ["", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "PENDING"]
    .map((s) => el("option", s === (params.get("status") || "") ? { value: s, selected: "" } : { value: s }, s || "any status")));
  filter.addEventListener("change", () => {
    params.set("status", filter.value);
    location.hash = "#/runs?" + params.toString();
  });
  const q = new URLSearchParams();
  if (params.get("status")) q.set("status", params.get("status"));
  if (params.get("workflow")) q.set("workflow", params.get("workflow"));
  q.set("limit", "100");
  const page = await api("/v1/runs?" + q.toString());
  const rows = page.items.map((r) => el("tr", { "data-status": r.status },
    el("td", {}, el("a", { href: "#/runs/" + r.id }, r.id)), el("td", {}, status(r.status)),
    el("td", {}, "v" + r.version), el("td", {}, r.triggerType), el("td", {}, when(r.createdAt)),
    el("td", {}, duration(r.startedAt, r.endedAt))));
  main().replaceChildren(el("div", { class: "row" }, el("h2", {}, "Runs"), filter),
    el("table", { id: "runs" }, el("tr", {}, ["Run", "Status", "Version", "Trigger", "Created", "Duration"].map((h) => el("th", {}, h))), rows));
}

// The step tree of a version's document, each step coloured by its execution.
function tree(steps, exec, select) {
  return el("ul", {}, (steps || []).map((s) => {
    const x = exec[s.key] || { status: "PENDING", attempts: 0 };
    const kind = s.type && s.type !== "action" ? s.type : s.action;
    const iterations = Object.keys(exec).filter((k) => k.startsWith(s.key + "[")).map((k) => k.split("]")[0]);
    const count = new Set(iterations).size;
    const box = el("div", { class: "step", "data-key": s.key, "data-status": x.status, onclick: () => select(s.key) },
      el("strong", {}, s.key), el("span", { class: "muted" }, kind), status(x.status),
      x.attempts > 1 ? el("span", { class: "muted" }, x.attempts + " attempts") : null,
      count ? el("span", { class: "muted" }, count + " iterations") : null);
    const branches = [];
    if (s.then) branches.push(["then", s.then]);
    if (s.else) branches.push(["else", s.else]);
    for (const c of s.cases || []) branches.push(["case " + JSON.stringify(c.value), c.steps]);
    if (s.default) branches.push(["default", s.default]);
    if (s.type === "loop") branches.push(["each " + (s.as || "item"), s.steps]);
    return el("li", {}, box, branches.map(([label, inner]) => el("div", {}, el("span", { class: "branch" }, label), tree(inner, exec, select))));
  }));
}

function details(run, key, logs) {
  const x = (run.stepExecutions || {})[key];
  if (!key) return el("div", { class: "panel", id: "details" }, el("p", { class: "muted" }, "Select a step to see its attempts, output, error and log."));
  if (!x) return el("div", { class: "panel", id: "details" }, el("p", { class: "muted" }, key + ": not started"));
  const lines = logs.filter((l) => l.stepPath === key || (l.stepPath || "").startsWith(key + "["));
  return el("div", { class: "panel", id: "details", "data-key": key },
    el("h3", {}, key, " ", status(x.status)),
    el("p", {}, "Attempts: " + x.attempts + " · started " + when(x.startedAt) + " · " + duration(x.startedAt, x.endedAt)),
    x.error ? el("div", {}, el("h4", {}, "Error"), el("pre", { class: "error step-error" }, x.error.message || JSON.stringify(x.error, null, 2))) : null,
    el("h4", {}, "Output"), el("pre", {}, JSON.stringify(x.output, null, 2)),
    el("h4", {}, "Log"), el("pre", {}, lines.map((l) => `${l.createdAt} ${l.level} #${l.attempt || "-"} ${l.message}`).join("\n")));
}

async function runPage(id) {
  let selected = null;
  let logs = [];
  let after = null;
  let doc = null;
  const draw = async () => {
    const run = await api("/v1/runs/" + id);
    if (!doc) {
      const v = await api(`/v1/workflows/${run.workflowId}/versions/${run.version}`);
      doc = v.document || {};
    }
    for (;;) {
      const page = await api(`/v1/runs/${id}/logs?limit=200` + (after === null ? "" : "&after=" + after));
      logs = logs.concat(page.items);
      if (page.items.length) after = page.items[page.items.length - 1].id;
      if (!page.nextCursor || !page.items.length) break;
    }
    const exec = run.stepExecutions || {};
    const select = (k) => {
      selected = k;
      document.getElementById("details").replaceWith(details(run, k, logs));
    };
    const timeline = Object.entries(exec).sort((a, b) => (a[1].startedAt || "~").localeCompare(b[1].startedAt || "~"));
    const t0 = run.startedAt ? new Date(run.startedAt) : null;
    const actions = el("div", { class: "row" },
      TERMINAL.includes(run.status) ? null : el("button", { id: "cancel", onclick: () => api(`/v1/runs/${id}/cancel`, "POST").then(draw, fail) }, "Cancel"),
      run.status === "FAILED" ? el("button", { id: "retry", onclick: () => api(`/v1/runs/${id}/retry`, "POST").then(() => { start(); }, fail) }, "Retry") : null);
    main().replaceChildren(...[
      el("div", { class: "row", id: "run", "data-status": run.status },
        el("h2", {}, doc.name || "run"), status(run.status), el("span", { class: "muted" }, "run " + id + " · v" + run.version + " · " + run.triggerType),
        el("span", { class: "muted" }, duration(run.startedAt, run.endedAt)), actions),
      run.error ? el("pre", { class: "error run-error" }, run.error.message || JSON.stringify(run.error, null, 2)) : null,
      el("h3", {}, "Steps"), el("div", { class: "graph" }, tree(doc.steps, exec, select)),
      el("h3", {}, "Timeline"),
      el("table", { id: "timeline" }, el("tr", {}, ["Step", "Status", "Attempts", "Start", "Duration"].map((h) => el("th", {}, h))),
        timeline.map(([k, x]) => el("tr", { "data-status": x.status }, el("td", {}, k), el("td", {}, status(x.status)), el("td", {}, x.attempts),
          el("td", {}, t0 && x.startedAt ? "+" + duration(t0.toISOString(), x.startedAt) : ""), el("td", {}, duration(x.startedAt, x.endedAt))))),
      details(run, selected || (timeline.find(([, x]) => x.status === "FAILED") || [null])[0] || "", logs),
      el("h3", {}, "Output"), el("pre", { id: "output" }, JSON.stringify(run.output, null, 2))].filter(Boolean));
    return run;
  };
  const start = () => {
    clearInterval(timer);
    const tick = () => draw().then((run) => { if (TERMINAL.includes(run.status)) clearInterval(timer); }, (e) => { clearInterval(timer); fail(e); });
    tick();
    timer = setInterval(tick, 1000);
  };
  start();
}

function route() {
  clearInterval(timer);
  token();
  const hash = location.hash.replace(/^#/, "") || "/runs";
  const [path, query] = hash.split("?");
  const m = path.match(/^\/runs\/([0-9a-f-]+)$/);
  (m ? runPage(m[1]) : path === "/workflows" ? workflows() : runs(query || "")).catch(fail);
  api("/v1/workspace").then((w) => { document.getElementById("who").textContent = w.name || w.slug || ""; }, () => {});
}

window.addEventListener("hashchange", route);
route();
