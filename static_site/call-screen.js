// One call on screen: its state in words, the timer, the running cost, the time the balance
// leaves, mute, a keypad for phone menus, quality warnings, and what it cost once settled.

import { api } from "/api.js";
import { refreshBalance } from "/balance.js";
import { chargeMicros } from "/cost.js";
import { buildKeypad } from "/dialer.js";
import { $, show } from "/dom.js";
import { flag, formatBalance, formatClock, formatDuration, formatPrice } from "/format.js";
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
  $("hang-up").addEventListener("click", () => current?.call?.disconnect());
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
  $("summary-close").addEventListener("click", closeSummary);
  document.addEventListener("keydown", (event) => {
    if (!current?.call || $("dtmf").hidden || event.target instanceof HTMLInputElement) return;
    if (/^[0-9*#]$/.test(event.key)) sendDigit(event.key);
  });
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
  $("in-call-cost").textContent = formatPrice(0, rate.currency);
  $("in-call-left").textContent = formatDuration(rate.max_seconds);
  setQuality("");
  setCallState("Connecting…");
  $("hang-up").focus();
  const mine = current;
  try {
    const call = await connect({ To: rate.e164 });
    if (mine !== current) return;
    mine.call = call;
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
  call.on("mute", (muted) => {
    $("mute").setAttribute("aria-pressed", String(muted));
    $("mute").querySelector("span").textContent = muted ? "Unmute" : "Mute";
  });
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
  $("in-call-cost").textContent = formatPrice(chargeMicros(seconds, rate), rate.currency);
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
    explainMicrophoneError(error);
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
  const settled = sid ? await waitForSettlement(sid) : null;
  if (mine !== current || mine.failed) return;
  if (settled) {
    const cost = settled.charge_micros ? formatPrice(settled.charge_micros, mine.rate.currency) : "no charge";
    const what = settled.duration_seconds ? formatDuration(settled.duration_seconds) : outcomeWords(settled.status);
    $("summary-text").textContent = `${settled.formatted || settled.to} · ${what} · ${cost}`;
  } else {
    $("summary-text").textContent = `${$("in-call-number").textContent} · ${duration} · the cost appears in Recent once the call is settled.`;
  }
  emit("call-ended", settled);
  await refreshBalance().catch(() => {});
  if (mine === current && state.balance) {
    const balance = state.balance;
    $("summary-text").textContent += ` · balance ${formatBalance(balance.balance_micros, balance.currency)}`;
  }
}

export function outcomeWords(status) {
  return (
    { completed: "answered", busy: "busy", "no-answer": "no answer", failed: "failed", canceled: "cancelled" }[status] ||
    "in progress"
  );
}

// The charge is ours to say, once Twilio's final report has settled the call.
async function waitForSettlement(sid) {
  for (let attempt = 0; attempt < SETTLE_POLLS; attempt += 1) {
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

function closeSummary() {
  show($("call-summary"), false);
  show($("dialer"), true);
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
