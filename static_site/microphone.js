// The microphone and speaker: choosing them, testing the microphone with a level meter, and
// when the browser refuses the microphone, how to allow it in this browser.

import { $, el, show } from "/dom.js";
import { audio, onDeviceReady } from "/phone.js";

// The Voice SDK 2.x's UserMediaErrors: 31401 permission denied, 31402 acquisition failed
// (no microphone, or one another program holds; the SDK does not say which).
const DENIED = 31401;
const NOT_ACQUIRED = 31402;
const TEST_SECONDS = 15;

const chosen = { input: "", output: "" };
let testing = null;

export function setUpMicrophone() {
  onDeviceReady(async (device) => {
    if (chosen.input) await device.audio.setInputDevice(chosen.input).catch(() => {});
    if (chosen.output) await device.audio.speakerDevices.set(chosen.output).catch(() => {});
  });
  $("mic-test").addEventListener("click", () => (testing ? stopTest() : startTest()));
  $("mic-retry").addEventListener("click", async () => {
    show($("mic-help"), false);
    await startTest();
  });
  $("microphone").addEventListener("change", async (event) => {
    chosen.input = event.target.value;
    await audio()?.setInputDevice(chosen.input).catch(() => {});
    if (testing) await startTest();
  });
  $("speaker").addEventListener("change", async (event) => {
    chosen.output = event.target.value;
    await audio()?.speakerDevices.set(chosen.output).catch(() => {});
  });
  $("audio-settings").addEventListener("toggle", () => {
    if ($("audio-settings").open) listDevices();
  });
  navigator.mediaDevices?.addEventListener?.("devicechange", listDevices);
}

// The browser names devices only once the page may use the microphone; before that the
// lists hold the defaults.
export async function listDevices() {
  const devices = (await navigator.mediaDevices?.enumerateDevices?.().catch(() => [])) || [];
  fill($("microphone"), devices.filter((d) => d.kind === "audioinput"), chosen.input, "Microphone");
  const outputs = devices.filter((d) => d.kind === "audiooutput");
  const canChoose = "setSinkId" in HTMLMediaElement.prototype && outputs.length > 0;
  fill($("speaker"), outputs, chosen.output, "Speaker");
  $("speaker").disabled = !canChoose;
  if (!canChoose) {
    $("speaker").replaceChildren(el("option", { value: "", text: "This browser's default speaker" }));
  }
}

function fill(select, devices, selected, kind) {
  const options = devices.map((device, index) =>
    el("option", { value: device.deviceId, text: device.label || `${kind} ${index + 1}` }),
  );
  if (!options.length) options.push(el("option", { value: "", text: `Default ${kind.toLowerCase()}` }));
  select.replaceChildren(...options);
  if (selected) select.value = selected;
}

async function startTest() {
  stopTest();
  let stream;
  try {
    const constraint = chosen.input ? { deviceId: { exact: chosen.input } } : true;
    stream = await navigator.mediaDevices.getUserMedia({ audio: constraint });
  } catch (error) {
    explainMicrophoneError(error);
    return;
  }
  show($("mic-help"), false);
  await listDevices();
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const meter = $("mic-level");
  const bar = meter.querySelector("span");
  testing = { stream, context, frame: 0, stopAt: performance.now() + TEST_SECONDS * 1000 };
  $("mic-test").textContent = "Stop the test";
  $("mic-hint").textContent = "Speak: the bar moves when the microphone hears you.";
  const draw = () => {
    if (!testing) return;
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
    const level = Math.min(100, Math.round(peak * 140));
    bar.style.width = `${level}%`;
    meter.setAttribute("aria-valuenow", String(level));
    if (performance.now() > testing.stopAt) stopTest();
    else testing.frame = requestAnimationFrame(draw);
  };
  draw();
}

function stopTest() {
  if (!testing) return;
  cancelAnimationFrame(testing.frame);
  testing.stream.getTracks().forEach((track) => track.stop());
  testing.context.close();
  testing = null;
  $("mic-level").querySelector("span").style.width = "0";
  $("mic-level").setAttribute("aria-valuenow", "0");
  $("mic-test").textContent = "Test my microphone";
}

const BLOCKED_NAMES = ["NotAllowedError", "PermissionDeniedError", "SecurityError"];
const MISSING_NAMES = ["NotFoundError", "NotReadableError", "OverconstrainedError", "AbortError"];

export function isMicrophoneError(error) {
  const name = error?.originalError?.name || error?.name;
  return [DENIED, NOT_ACQUIRED].includes(error?.code) || [...BLOCKED_NAMES, ...MISSING_NAMES].includes(name);
}

// Blocked by the browser (steps to allow it), or not to be had (none, or in use elsewhere).
async function isBlocked(error) {
  const name = error?.originalError?.name || error?.name;
  if (error?.code === DENIED || BLOCKED_NAMES.includes(name)) return true;
  if (MISSING_NAMES.includes(name)) return false;
  const permission = await navigator.permissions?.query({ name: "microphone" }).catch(() => null);
  return permission?.state === "denied";
}

export async function explainMicrophoneError(error) {
  const missing = !(await isBlocked(error));
  $("mic-help-why").textContent = missing
    ? "OwnNumber could not open a microphone. Plug one in, close other programs that use it, or choose another under Microphone and speaker."
    : "This browser blocked the microphone for OwnNumber, so a call can't start.";
  $("mic-help-steps").replaceChildren(
    ...(missing ? [] : stepsForThisBrowser()).map((step) => el("li", { text: step })),
  );
  show($("mic-help"), true);
  $("mic-help").scrollIntoView({ block: "start" });
  $("mic-help").focus({ preventScroll: true });
}

function stepsForThisBrowser() {
  const agent = navigator.userAgent;
  if (/Firefox\//.test(agent)) {
    return [
      "Click the microphone icon with a line through it, at the left of the address bar.",
      "Choose to clear the blocked permission, or allow the microphone.",
      "Press Try again.",
    ];
  }
  if (/Safari\//.test(agent) && !/Chrome\/|Chromium\//.test(agent)) {
    return [
      "In the Safari menu, choose Settings for this website (on iPhone: the aA button, then Website Settings).",
      "Set Microphone to Allow.",
      "Press Try again.",
    ];
  }
  if (/Edg\//.test(agent)) {
    return [
      "Click the lock icon at the left of the address bar.",
      "Under Permissions for this site, set Microphone to Allow.",
      "Press Try again (or reload the page).",
    ];
  }
  return [
    "Click the icon at the left of the address bar (a lock or sliders).",
    "Turn Microphone on, or open Site settings and set Microphone to Allow.",
    "Press Try again (or reload the page).",
  ];
}

export function stopMicrophoneTest() {
  stopTest();
}
