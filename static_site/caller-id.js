// Your own number as caller ID: verifying it (Twilio calls it, you type the code shown), its
// state, and the dialer's choice between it and the OwnNumber line for each call.

import { api } from "/api.js";
import { $, show } from "/dom.js";
import { state } from "/state.js";

const POLL_MS = 2000;
const POLL_FOR_MS = 5 * 60 * 1000; // Twilio's verification call gives up well before this

let current = { state: "none" };
let pollTimer = null;

export function setUpCallerId({ showError }) {
  $("caller-id-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      render(await api("me/caller-id", { method: "POST", body: { number: $("caller-id-input").value } }));
      watch(Date.now() + POLL_FOR_MS);
    } catch (error) {
      showError(error);
    }
  });
  $("caller-id-remove").addEventListener("click", async () => {
    try {
      render(await api("me/caller-id", { method: "DELETE" }));
    } catch (error) {
      showError(error);
    }
  });
  $("use-own-number").addEventListener("change", renderChoice);
}

export async function loadCallerId() {
  render(await api("me/caller-id"));
  if (current.state === "pending") watch(Date.now() + POLL_FOR_MS);
}

// While Twilio's call is on, look for the callback's outcome.
function watch(until) {
  clearTimeout(pollTimer);
  if (current.state !== "pending" || Date.now() > until) return;
  pollTimer = setTimeout(async () => {
    const answer = await api("me/caller-id").catch(() => null);
    if (answer) render(answer);
    watch(until);
  }, POLL_MS);
}

// Signing out: nothing of this person's number stays on the page.
export function stopCallerId() {
  clearTimeout(pollTimer);
  for (const id of ["caller-id-code", "caller-id-number", "caller-id-calling", "caller-id-failed"]) {
    $(id).textContent = "";
  }
  $("caller-id-input").value = "";
  render({ state: "none" });
}

function render(answer) {
  current = answer;
  const number = answer.formatted || answer.number || "";
  show($("caller-id-form"), ["none", "failed"].includes(answer.state));
  show($("caller-id-pending"), answer.state === "pending");
  show($("caller-id-verified"), answer.state === "verified");
  show($("caller-id-failed"), answer.state === "failed");
  show($("sandbox-phone"), state.config?.mode === "sandbox");
  if (answer.state === "pending") {
    $("caller-id-calling").textContent = `We are calling ${number}. Type this code on that phone's keypad:`;
    $("caller-id-code").textContent = answer.code || "";
  }
  if (answer.state === "verified") $("caller-id-number").textContent = number;
  if (answer.state === "failed") {
    $("caller-id-failed").textContent = `${number} was not verified: ${answer.reason || "the code was not typed."} You can try again.`;
  }
  renderChoice();
}

function renderChoice() {
  const verified = current.state === "verified";
  show($("calling-as"), verified);
  const own = verified && $("use-own-number").checked;
  $("calling-as-text").textContent = own
    ? `Calling as ${current.formatted || current.number}`
    : "Calling as the OwnNumber line";
}

// What the next call shows the person called: the connect parameter /api/voice checks again.
export function callerIdChoice() {
  return current.state === "verified" && $("use-own-number").checked ? "own" : "service";
}
