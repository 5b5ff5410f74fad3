// Recent calls: where, when, how long, what it cost and how it ended; redial is one tap.

import { api } from "/api.js";
import { outcomeWords } from "/call-screen.js";
import { $, el, show } from "/dom.js";
import { countryName, flag, formatCharge, formatDuration, formatWhen } from "/format.js";
import { state } from "/state.js";

const PAGE = 20;
let continuation = null;
let redial = () => {};

export function setUpHistory({ onRedial }) {
  redial = onRedial;
  $("history-more").addEventListener("click", () => loadHistory(true));
}

export async function loadHistory(append = false) {
  const query = append && continuation ? `&continuation=${encodeURIComponent(continuation)}` : "";
  const page = await api(`calls?limit=${PAGE}${query}`);
  continuation = page.continuation;
  const items = page.calls.map(callItem);
  if (append) $("history").append(...items);
  else $("history").replaceChildren(...items);
  show($("history-empty"), $("history").children.length === 0);
  show($("history-more"), Boolean(continuation));
  return page.calls;
}

function callItem(call) {
  const number = call.formatted || call.to;
  const outcome = call.settled ? outcomeOf(call) : "in progress";
  const where = call.destination || countryName(call.country);
  const length = call.duration_seconds ? formatDuration(call.duration_seconds) : null;
  const cost = call.settled ? (call.charge_micros ? formatCharge(call.charge_micros, state.config.currency) : "free") : "…";
  return el(
    "li",
    { "data-call": call.call_sid },
    el("span", { class: "flag", text: flag(call.country), "aria-hidden": "true" }),
    el("span", { class: "what", text: number }),
    el(
      "span",
      { class: "sub" },
      [where, formatWhen(call.started_at), length].filter(Boolean).join(" · "),
      " ",
      el("span", { class: `outcome ${outcome.replace(" ", "-")}`, text: outcome }),
      " · ",
      el("span", { class: "cost", text: cost }),
    ),
    el("button", {
      type: "button",
      class: "secondary redial",
      text: "Call again",
      "aria-label": `Call again: ${number}`,
      onclick: () => redial(call),
    }),
  );
}

function outcomeOf(call) {
  if (call.status === "completed" && !call.duration_seconds) return "no answer";
  return outcomeWords(call.status);
}
