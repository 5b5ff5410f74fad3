// The account: who is signed in, where, and signing out here or everywhere.

import { api } from "/api.js";
import { $, el, show } from "/dom.js";

let refreshAccount = () => {};

export function setUpAccount({ showError }) {
  refreshAccount = () => loadSessions().catch(showError);
}

export function showProfile(me) {
  $("who-name").textContent = me.name || "";
  show($("who-name"), Boolean(me.name));
  $("who").textContent = me.email;
}

export async function loadSessions() {
  const { sessions } = await api("me/sessions");
  $("sessions").replaceChildren(...sessions.map(sessionItem));
}

function sessionItem(session) {
  const device = el("span", { class: "what", text: session.device || "An unknown browser" });
  if (session.current) device.append(" ", el("span", { class: "current", text: "this browser" }));
  const when = el("span", {
    class: "sub",
    text: `Signed in ${formatTime(session.created_at)} · last seen ${formatTime(session.last_seen_at)}`,
  });
  const item = el("li", {}, device, when);
  if (!session.current) {
    item.append(
      el("button", {
        type: "button",
        class: "secondary",
        text: "Sign out there",
        "aria-label": `Sign out ${session.device || "an unknown browser"}`,
        onclick: () => api(`me/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" }).then(refreshAccount),
      }),
    );
  }
  return item;
}

function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
