// Number entry: a country picker, the number as typed or pasted, a keypad, and a live preview
// of what calling it costs. Parsing is the server's (phonenumbers), so both sides agree.

import { api, ApiError } from "/api.js";
import { affordableSeconds, chargeMicros } from "/cost.js";
import { $, el, show } from "/dom.js";
import {
  countryName,
  describeIncrements,
  flag,
  formatMinutes,
  formatPrice,
  localeRegion,
  NUMBER_TYPES,
} from "/format.js";
import { state } from "/state.js";

const PREVIEW_DELAY_MS = 300;
const KEYS = [
  ["1", ""], ["2", "ABC"], ["3", "DEF"],
  ["4", "GHI"], ["5", "JKL"], ["6", "MNO"],
  ["7", "PQRS"], ["8", "TUV"], ["9", "WXYZ"],
];

let previewTimer = null;
let previewSequence = 0;
let preview = null; // the last /api/rates answer for what is typed, when it can be called
let countryChosen = false; // the person picked a country: the last call no longer overrides it
let onCall = () => {};

export function setUpDialer({ call }) {
  onCall = call;
  buildKeypad($("keypad"), [...KEYS, ["+", ""], ["0", ""], ["⌫", ""]], pressKey);
  $("number").addEventListener("input", schedulePreview);
  $("country").addEventListener("change", () => {
    countryChosen = true;
    placeholder();
    schedulePreview();
  });
  $("backspace").addEventListener("click", () => pressKey("⌫"));
  $("call").addEventListener("click", () => {
    if (preview?.allowed) onCall(preview);
  });
  $("number").addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    // Not also a press of the Hang up button, which takes the focus as the call starts.
    event.preventDefault();
    if (preview?.allowed) onCall(preview);
  });
  // Digits typed anywhere on the dialer go into the number.
  document.addEventListener("keydown", (event) => {
    if (document.body.dataset.route !== "call" || !$("in-call").hidden) return;
    const target = event.target;
    if (target instanceof HTMLInputElement || target instanceof HTMLSelectElement) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (/^[0-9+]$/.test(event.key)) {
      event.preventDefault();
      pressKey(event.key);
    } else if (event.key === "Backspace" && $("number").value) {
      event.preventDefault();
      pressKey("⌫");
    }
  });
}

export function buildKeypad(container, keys, press) {
  container.replaceChildren(
    ...keys.map(([key, letters]) => {
      const label = key === "⌫" ? "Delete the last digit" : key === "+" ? "Plus" : undefined;
      return el(
        "button",
        { type: "button", "data-key": key, "aria-label": label, onclick: () => press(key) },
        el("span", { text: key, "aria-hidden": label ? "true" : undefined }),
        el("small", { text: letters, "aria-hidden": "true" }),
      );
    }),
  );
}

function pressKey(key) {
  const input = $("number");
  if (key === "⌫") input.value = input.value.slice(0, -1);
  else input.value += key;
  schedulePreview();
}

export async function loadCountries() {
  const { countries } = await api("countries");
  state.countries = countries;
  const options = countries
    .map((country) => ({ ...country, name: countryName(country.region) }))
    .sort((a, b) => a.name.localeCompare(b.name));
  $("country").replaceChildren(
    ...options.map((country) =>
      el("option", {
        value: country.region,
        text: `${flag(country.region)} ${country.name} (+${country.calling_code})`,
      }),
    ),
  );
  selectCountry(localeRegion() || "US");
}

function selectCountry(region) {
  if (!state.countries.some((country) => country.region === region)) return;
  $("country").value = region;
  placeholder();
}

function placeholder() {
  const country = state.countries.find((c) => c.region === $("country").value);
  $("number").placeholder = country?.example ? `e.g. ${country.example}` : "Phone number";
}

// The last call's country becomes the default, unless the person already picked one.
export function preferCountry(region) {
  if (!countryChosen && region && !$("number").value) selectCountry(region);
}

export function fillNumber(number, region) {
  $("number").value = number;
  if (region) selectCountry(region);
  schedulePreview(true);
}

function schedulePreview(now = false) {
  show($("backspace"), Boolean($("number").value));
  clearTimeout(previewTimer);
  previewSequence += 1; // an answer still on its way is for what was typed before
  preview = null;
  $("call").disabled = true;
  $("call").removeAttribute("aria-label");
  previewTimer = setTimeout(runPreview, now === true ? 0 : PREVIEW_DELAY_MS);
}

export function refreshPreview() {
  if ($("number").value.trim()) schedulePreview(true);
}

async function runPreview() {
  const typed = $("number").value.trim();
  const box = $("preview");
  box.classList.remove("refused");
  if (!typed) {
    box.replaceChildren(el("p", { class: "hint", text: "Type a number, or paste it in any form." }));
    return;
  }
  const sequence = previewSequence;
  // The number travels in the query string only; nothing here logs it.
  const query = `to=${encodeURIComponent(typed)}&country=${encodeURIComponent($("country").value)}`;
  let answer;
  try {
    answer = await api(`rates?${query}`);
  } catch (error) {
    if (sequence !== previewSequence) return;
    box.classList.add("refused");
    box.replaceChildren(el("p", { text: error instanceof ApiError ? error.message : String(error) }));
    return;
  }
  if (sequence !== previewSequence) return; // typed on since: a newer preview is coming
  renderPreview(answer);
}

function renderPreview(answer) {
  const box = $("preview");
  if (answer.country && answer.country !== $("country").value) selectCountry(answer.country);
  const lines = [];
  if (answer.e164) {
    const type = NUMBER_TYPES[answer.number_type] || "number";
    const where = answer.country ? `${countryName(answer.country)} ${type}` : answer.description;
    const price = `${formatPrice(answer.per_minute_micros, answer.currency)}/min`;
    lines.push(
      el("p", { class: "line" }, `${flag(answer.country)} ${answer.formatted || answer.e164}`),
      el("p", { class: "price" }, `${where} · ${price} · ${describeIncrements(answer.increments)}`),
    );
    if (answer.connect_fee_micros > 0) {
      const fee = formatPrice(answer.connect_fee_micros, answer.currency);
      lines.push(el("p", { class: "hint", text: `Plus ${fee} when answered.` }));
    }
  }
  if (!answer.allowed) {
    box.classList.add("refused");
    lines.push(el("p", { class: answer.e164 ? "reason" : "line reason", text: refusal(answer) }));
    if (["insufficient_credit", "negative_balance"].includes(answer.code)) {
      lines.push(el("p", {}, el("a", { href: "#/credit", text: "Buy credit" })));
    }
    box.replaceChildren(...lines);
    return;
  }
  const seconds = affordableSeconds(answer.balance_micros, answer);
  lines.push(el("p", { class: "hint", text: `Your balance pays for about ${formatMinutes(seconds)}.` }));
  box.replaceChildren(...lines);
  preview = answer;
  $("call").disabled = false;
  $("call").setAttribute("aria-label", `Call ${answer.formatted || answer.e164}`);
}

// The server's sentence, but in the page's own money format where the page can say it.
function refusal(answer) {
  if (answer.code === "insufficient_credit") {
    const first = chargeMicros(1, answer);
    return `Your balance does not cover the first ${describeFirst(answer.increments)} of this call (${formatPrice(first, answer.currency)}).`;
  }
  return answer.reason;
}

function describeFirst(increments) {
  const first = Number(String(increments).split("/")[0]);
  return first === 60 ? "minute" : first === 1 ? "second" : `${first} seconds`;
}

export function clearNumber() {
  $("number").value = "";
  schedulePreview(true);
}
