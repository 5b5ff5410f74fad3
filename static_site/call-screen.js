// One call on screen: its state in words, the timer, the running cost, the time the balance
// leaves, mute, a keypad for phone menus, quality warnings, and what it cost once settled.

import { api } from "/api.js";
import { refreshBalance } from "/balance.js";
import { callerIdChoice } from "/caller-id.js";
import { chargeMicros } from "/cost.js";
import { buildKeypad } from "/dialer.js";
import { $, show } from "/dom.js";
import { flag, formatBalance, formatCharge, formatClock, formatDuration } from "/format.js";
import { explainMicrophoneError, isMicrophoneError } from "/microphone.js";
import { connect } from "/phone.js";
import { emit, state } from "/state.js";

const WARNINGS = {
  "high-rtt": "Your connection is slow: the other person may hear you with a delay.",
  "low-mos": "The call quality is poor.",
  "high-jitter": "Your connection is unsteady: the sound may break up.",
  "high-packet-loss": "Some of the sound is getting lost: the call may break up.",
  "high-packets-lost-fraction": "Some of the sound is getting lost: the call may break up.",
  "low-bytes-received": "No sound is reaching you from the other side.",
  "low-bytes-sent": "Your sound is not getting through.",
  "ice-connectivity-lost": "The connection dropped.",
  "constant-audio-input-level": "Your microphone seems silent. Check that it is not muted.",
  "constant-audio-output-level": "No sound is coming from the other side.",
};
const DTMF_KEYS = [
  ["1", ""], ["2", "ABC"], ["3", "DEF"], ["4", "GHI"], ["5", "JKL"], ["6", "MNO"],
  ["7", "PQRS"], ["8", "TUV"], ["9", "WXYZ"], ["*", ""], ["0", "+"], ["#", ""],
];
const SETTLE_POLLS = 20;

let current = null; // { call, rate, answeredAt, ticker, warnings: Set, ended }
let sandboxPanel = null;

export function setUpCallScreen() {
  buildKeypad($("dtmf"), DTMF_KEYS, sendDigit);
  $("hang-up").addEventListener("click", hangUp);
  $("mute").addEventListener("click", () => {
    if (!current?.call) return;
    current.call.mute(!current.call.isMuted());
  });
  $("show-dtmf").addEventListener("click", () => {
    const open = $("dtmf").hidden;
    show($("dtmf"), open);
    $("in-call").classList.toggle("dtmf-open", open);
    $("show-dtmf").setAttribute("aria-pressed", String(open));
  });
  $("summary-close").addEventListener("click", doneWithSummary);
  document.addEventListener("keydown", (event) => {
    if (!current?.call || $("dtmf").hidden || event.target instanceof HTMLInputElement) return;
    if (/^[0-9*#]$/.test(event.key)) sendDigit(event.key);
  });
}

// Hanging up while still connecting: the call is dropped as soon as it exists.
function hangUp() {
  if (!current || current.ended) return;
  current.hangingUp = true;
  if (current.call) current.call.disconnect();
  else ended(current, null);
}

export function inCall() {
  return Boolean(current && !current.ended);
}

export async function startCall(rate) {
  if (inCall()) return;
  window.location.hash = "#/call";
  current = { call: null, rate, answeredAt: null, ticker: null, warnings: new Set(), ended: false };
  show($("dialer"), false);
  show($("call-summary"), false);
  show($("mic-help"), false);
  show($("in-call"), true);
  show($("dtmf"), false);
  $("in-call").classList.remove("dtmf-open");
  document.body.classList.add("calling");
  $("show-dtmf").setAttribute("aria-pressed", "false");
  $("mute").setAttribute("aria-pressed", "false");
  $("dtmf-sent").textContent = "";
  $("in-call-flag").textContent = flag(rate.country);
  $("in-call-number").textContent = rate.formatted || rate.e164;
  $("in-call-destination").textContent = rate.description;
  $("in-call-timer").textContent = formatClock(0);
  $("in-call-cost").textContent = formatCharge(0, rate.currency);
  $("in-call-left").textContent = formatDuration(rate.max_seconds);
  setQuality("");
  setCallState("Connecting…");
  $("hang-up").focus();
  const mine = current;
  try {
    const call = await connect({ To: rate.e164, CallerId: callerIdChoice() });
    mine.call = call;
    if (mine !== current || mine.hangingUp) {
      call.disconnect();
      return;
    }
    follow(call, mine);
    if (state.config.mode === "sandbox") await showSandboxPanel(call);
  } catch (error) {
    if (mine !== current) return;
    failed(error, mine);
  }
}

function follow(call, mine) {
  call.on("ringing", () => setCallState("Ringing…"));
  call.on("accept", () => {
    setCallState("In call");
    mine.answeredAt = performance.now();
    mine.ticker = setInterval(() => tick(mine), 250);
    tick(mine);
  });
  // The button keeps its name; pressed says muted (a screen reader: "Mute, pressed").
  call.on("mute", (muted) => $("mute").setAttribute("aria-pressed", String(muted)));
  call.on("warning", (name) => {
    mine.warnings.add(name);
    setQuality(WARNINGS[name] || "The call quality has dropped.");
  });
  call.on("warning-cleared", (name) => {
    mine.warnings.delete(name);
    const left = [...mine.warnings].at(-1);
    setQuality(left ? WARNINGS[left] || "" : "");
  });
  call.on("reconnecting", () => {
    setCallState("Reconnecting…");
    setQuality("The connection was lost. Reconnecting…");
  });
  call.on("reconnected", () => {
    setCallState("In call");
    setQuality("Reconnected.");
    setTimeout(() => {
      if ($("in-call-quality").textContent === "Reconnected.") setQuality("");
    }, 4000);
  });
  call.on("disconnect", () => ended(mine, null));
  call.on("cancel", () => ended(mine, null));
  call.on("reject", () => ended(mine, null));
  call.on("error", (error) => {
    if (isMicrophoneError(error)) failed(error, mine);
    else ended(mine, error);
  });
}

function tick(mine) {
  const seconds = (performance.now() - mine.answeredAt) / 1000;
  const rate = mine.rate;
  $("in-call-timer").textContent = formatClock(seconds);
  $("in-call-cost").textContent = formatCharge(chargeMicros(seconds, rate), rate.currency);
  const left = Math.max(0, rate.max_seconds - Math.floor(seconds));
  $("in-call-left").textContent = left < 60 ? `${left} s` : formatDuration(left);
}

function setCallState(text) {
  $("in-call-state").textContent = text;
}

function setQuality(text) {
  $("in-call-quality").textContent = text;
  show($("in-call-quality"), Boolean(text));
}

function sendDigit(digit) {
  if (!current?.call || !current.answeredAt) return;
  current.call.sendDigits(digit);
  $("dtmf-sent").textContent += digit;
}

function stopTicker(mine) {
  document.body.classList.remove("calling");
  clearInterval(mine.ticker);
  mine.ticker = null;
}

function failed(error, mine) {
  mine.ended = true;
  mine.failed = true;
  stopTicker(mine);
  show($("in-call"), false);
  sandboxPanel?.hide();
  if (isMicrophoneError(error)) {
    show($("call-summary"), false);
    explainMicrophoneError(error).catch(() => {});
    show($("dialer"), true);
    return;
  }
  showSummary("The call could not be made", error.message || "Something went wrong; try again.");
}

async function ended(mine, error) {
  // The SDK may report a refused microphone as 'disconnect' and then 'error' in one go:
  // let that error be seen first, so the person gets the guidance, not "Call ended".
  await new Promise((resolve) => setTimeout(resolve, 0));
  if (mine.ended) return;
  mine.ended = true;
  stopTicker(mine);
  sandboxPanel?.hide();
  const talked = mine.answeredAt ? (performance.now() - mine.answeredAt) / 1000 : 0;
  show($("in-call"), false);
  const title = error ? "The call was cut off" : "Call ended";
  const duration = mine.answeredAt ? formatDuration(talked) : "not answered";
  showSummary(title, `${$("in-call-number").textContent} · ${duration} · working out the cost…`);
  const sid = mine.call?.parameters?.CallSid;
  const settled = sid ? await waitForSettlement(sid, mine) : null;
  if (mine.discarded || mine.failed) return;
  // The balance and the lists catch up even when another call has started meanwhile.
  emit("call-ended", settled);
  await refreshBalance().catch(() => {});
  if (mine !== current) return;
  let text;
  if (settled) {
    const cost = settled.charge_micros ? formatCharge(settled.charge_micros, mine.rate.currency) : "no charge";
    const what = settled.duration_seconds ? formatDuration(settled.duration_seconds) : outcomeWords(settled.status);
    text = `${settled.formatted || settled.to} · ${what} · ${cost}`;
  } else {
    text = `${$("in-call-number").textContent} · ${duration} · the cost appears in Recent once the call is settled`;
  }
  if (state.balance) text += ` · balance ${formatBalance(state.balance.balance_micros, state.balance.currency)}`;
  $("summary-text").textContent = text;
  announce(`${$("summary-title").textContent}: ${text}`);
}

// Said once, when the summary is final (the summary itself is not a live region).
function announce(text) {
  $("announcer").textContent = text;
}

// Signing out: no call, summary or number of this person stays on the screen.
export function resetCallScreen() {
  if (current) {
    current.discarded = true;
    if (!current.ended) current.call?.disconnect();
    current.ended = true;
    stopTicker(current);
  }
  current = null;
  sandboxPanel?.hide();
  show($("in-call"), false);
  show($("call-summary"), false);
  show($("mic-help"), false);
  show($("dialer"), true);
  $("announcer").textContent = "";
}

export function closeSummary() {
  show($("call-summary"), false);
  show($("dialer"), true);
}

export function outcomeWords(status) {
  return (
    { completed: "answered", busy: "busy", "no-answer": "no answer", failed: "failed", canceled: "cancelled" }[status] ||
    "in progress"
  );
}

// The charge is ours to say, once Twilio's final report has settled the call.
async function waitForSettlement(sid, mine) {
  for (let attempt = 0; attempt < SETTLE_POLLS && !mine.discarded; attempt += 1) {
    const { calls } = await api("calls?limit=5").catch(() => ({ calls: [] }));
    const call = calls.find((c) => c.call_sid === sid);
    if (call?.settled) return call;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return null;
}

function showSummary(title, text) {
  $("summary-title").textContent = title;
  $("summary-text").textContent = text;
  show($("call-summary"), true);
  $("summary-close").focus();
}

function doneWithSummary() {
  closeSummary();
  $("number").focus();
}

// The sandbox's buttons that make Twilio send quality warnings and a reconnect.
async function showSandboxPanel(call) {
  if (!sandboxPanel) {
    const { SandboxPanel } = await import("/sandbox-panel.js");
    sandboxPanel = new SandboxPanel($("sandbox-controls"));
  }
  sandboxPanel.showFor(call);
}
