// The policy pages: the service's support address (a setting, so never written into the page)
// and, on /privacy/records, the record of processing, rendered from GET /api/privacy/records.

import { el } from "./dom.js";

async function getJson(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

async function showSupportAddress() {
  const slot = document.querySelector("[data-support-email]");
  if (!slot) return;
  const config = await getJson("/api/config").catch(() => null);
  const address = config && config.support_email;
  if (address) slot.append(": ", el("a", { href: `mailto:${address}`, text: address }));
}

function table(caption, head, rows) {
  // Each cell repeats its column's name (hidden from screen readers, which have the header),
  // so that on a phone a row can be shown as a card; the explicit roles keep it a table then.
  const cell = (content, i) =>
    el("td", { role: "cell" }, el("span", { class: "cell-label", "aria-hidden": "true", text: head[i] }), el("span", {}, content));
  return el(
    "div",
    { class: "table-scroll", tabindex: "0", role: "region", "aria-label": caption },
    el(
      "table",
      { role: "table" },
      el("caption", { text: caption }),
      el("thead", {}, el("tr", { role: "row" }, head.map((h) => el("th", { scope: "col", role: "columnheader", text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", { role: "row" }, cells.map(cell)))),
    ),
  );
}

function fieldList(fields) {
  return el(
    "details",
    {},
    el("summary", { text: `${fields.length} field${fields.length === 1 ? "" : "s"}` }),
    el("ul", {}, fields.map((f) => el("li", {}, el("code", { text: f.name }), `: ${f.holds}`))),
  );
}

async function showRecords() {
  const root = document.getElementById("records");
  if (!root) return;
  let records;
  try {
    records = await getJson("/api/privacy/records");
  } catch {
    root.replaceChildren(el("p", { role: "alert", text: "The record of processing can't be loaded right now. Try again in a moment." }));
    return;
  }
  const parts = [el("p", { text: `Policy version ${records.policy_version}. Generated from the service's registry of stored records.` })];
  for (const group of records.categories) {
    parts.push(el("h2", { text: group.category }));
    parts.push(
      table(
        group.category,
        ["Record", "Purpose", "Legal basis", "Kept", "In your export", "When you delete your account", "Fields"],
        group.records.map((r) => [r.title, r.purpose, r.basis, r.retention, r.export, r.deletion_note, fieldList(r.fields)]),
      ),
    );
  }
  parts.push(el("h2", { text: "Processors and transfers" }));
  parts.push(
    table(
      "Processors",
      ["Processor", "Service", "What they do", "Data", "Where", "Safeguard", "Ask them"],
      records.processors.map((p) => [p.name, p.service, p.role, p.data, p.location, p.safeguard, el("a", { href: p.how_to_ask, rel: "noopener", text: "Their privacy page" })]),
    ),
  );
  parts.push(el("h2", { text: "Cookies and browser storage" }));
  parts.push(
    table(
      "Cookies",
      ["Name", "Set by", "Kind", "Needed", "Purpose", "Lifetime"],
      records.cookies.map((c) => [el("code", { text: c.name }), c.set_by, c.storage, c.necessary ? "Necessary" : "Only with consent", c.purpose, c.lifetime]),
    ),
  );
  root.replaceChildren(...parts);
}

showSupportAddress();
showRecords();
