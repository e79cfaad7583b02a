// The API reference: every operation of /openapi.json by tag, with its
// parameters, request body and responses. Values are set as text only.
"use strict";

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function ref(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return "[" + ref(schema.items) + "]";
  return schema.type || "object";
}

fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method.toUpperCase(), path, op]);
    }
  }
  const sections = [...byTag.entries()].sort().map(([tag, ops]) => el("section", { id: "tag-" + tag },
    el("h2", {}, tag),
    ops.map(([method, path, op]) => el("details", { class: "panel operation", "data-op": method + " " + path },
      el("summary", {}, el("strong", {}, method), " ", el("code", {}, path), " — ", op.summary || op.description || ""),
      op.description ? el("p", {}, op.description) : null,
      (op.parameters || []).length ? el("table", {}, el("tr", {}, el("th", {}, "Parameter"), el("th", {}, "In"), el("th", {}, "Type"), el("th", {}, "Description")),
        op.parameters.map((p) => el("tr", {}, el("td", {}, p.name + (p.required ? " *" : "")), el("td", {}, p.in), el("td", {}, ref(p.schema)), el("td", {}, p.description || "")))) : null,
      op.requestBody ? el("p", {}, "Body: ", Object.entries(op.requestBody.content || {}).map(([ct, c]) => ct + " " + ref(c.schema)).join(", ")) : null,
      el("table", {}, el("tr", {}, el("th", {}, "Status"), el("th", {}, "Description"), el("th", {}, "Body")),
        Object.entries(op.responses || {}).map(([code, r]) => el("tr", {}, el("td", {}, code), el("td", {}, r.description || ""),
          el("td", {}, Object.entries(r.content || {}).map(([ct, c]) => ct + " " + ref(c.schema)).join(", "))))),
      (op.security || []).length ? el("p", { class: "muted" }, "Needs a bearer token.") : null))));
  document.getElementById("main").replaceChildren(
    el("h1", {}, (doc.info && doc.info.title) || "API", " ", el("span", { class: "muted" }, (doc.info && doc.info.version) || "")),
    el("p", {}, (doc.info && doc.info.description) || ""),
    el("p", {}, "Every operation below is also in ", el("a", { href: "/openapi.json" }, "/openapi.json"), "."),
    ...sections);
}, (e) => {
  document.getElementById("main").replaceChildren(el("p", { class: "error" }, "Cannot read /openapi.json: " + e));
});
