// The Voice SDK's Device: made on the first call (a user gesture, which audio needs), kept
// with a fresh access token, and asked to connect with a time-out.
//
// In the sandbox the Device comes from the local host's telephony sandbox
// (/sandbox/telephony/device.js), which has the same surface; that module is only ever
// loaded when /api/config says sandbox, and the production site does not contain it.

import { api } from "/api.js";
import { state } from "/state.js";

// Refresh this long before the token expires: time enough for a slow network and a clock
// that is a little off.
const REFRESH_BEFORE_MS = 30_000;
// device.connect() can stay unsettled forever when its token has expired (voice.js #85).
const CONNECT_TIMEOUT_MS = 20_000;

let sdk = null;
let device = null;
let refreshTimer = null;
let lastRefresh = 0;
let tokenExpiresAt = 0;
const listeners = { error: [], ready: [] };

async function loadSdk() {
  if (sdk) return sdk;
  if (state.config.mode === "sandbox") {
    sdk = await import("/sandbox/telephony/device.js");
  } else {
    const { loadVoiceSdk } = await import("/voice-sdk.js");
    sdk = await loadVoiceSdk();
  }
  return sdk;
}

async function mintToken() {
  const minted = await api("token", { method: "POST" });
  tokenExpiresAt = Date.parse(minted.expires_at);
  armRefresh(minted.expires_at);
  return minted.token;
}

// The SDK's tokenWillExpire fires only once per Device (voice.js #93), so every new token
// also sets a timer of our own; whichever comes first refreshes, the other finds it done.
function armRefresh(expiresAt) {
  clearTimeout(refreshTimer);
  const wait = Math.max(5_000, Date.parse(expiresAt) - Date.now() - REFRESH_BEFORE_MS);
  refreshTimer = setTimeout(refreshToken, wait);
}

async function refreshToken() {
  if (!device || Date.now() - lastRefresh < 5_000) return;
  lastRefresh = Date.now();
  try {
    device.updateToken(await mintToken());
  } catch (error) {
    // Signed out meanwhile (api() takes the page to sign-in), or offline: try again soon.
    lastRefresh = 0;
    if (error.status !== 401) refreshTimer = setTimeout(refreshToken, 10_000);
  }
}

export async function ensureDevice() {
  if (device) return device;
  const { Device } = await loadSdk();
  const token = await mintToken();
  lastRefresh = Date.now();
  device = new Device(token, {
    edge: state.config.voice_edges || ["roaming"],
    closeProtection: "A call is in progress. Leaving this page hangs up.",
    codecPreferences: ["opus", "pcmu"],
    tokenRefreshMs: REFRESH_BEFORE_MS,
    logLevel: "error",
  });
  device.on("tokenWillExpire", refreshToken);
  device.on("error", (error) => listeners.error.forEach((listener) => listener(error)));
  await Promise.all(listeners.ready.map((listener) => listener(device)));
  return device;
}

// Called with each new Device, e.g. to give it the microphone chosen before the first call.
export function onDeviceReady(listener) {
  listeners.ready.push(listener);
}

export function onDeviceError(listener) {
  listeners.error.push(listener);
}

export async function connect(params) {
  const ready = await ensureDevice();
  // A token about to expire could leave connect() unsettled: start with a fresh one.
  if (tokenExpiresAt - Date.now() < REFRESH_BEFORE_MS) {
    lastRefresh = 0;
    await refreshToken();
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          Object.assign(new Error("The calling service did not answer in time. Check your connection and try again."), {
            code: "connect_timeout",
          }),
        ),
      CONNECT_TIMEOUT_MS,
    );
  });
  const connecting = ready.connect({ params });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (error) {
    // A connect that settles after we gave up must not leave a call running, and the SDK keeps
    // a connect that never settled as "a call is active": start again with a new Device.
    connecting.then((late) => late.disconnect()).catch(() => {});
    if (error.code === "connect_timeout") destroyDevice();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

export function audio() {
  return device?.audio || null;
}

// Signing out: the Device and its token go with the session.
export function destroyDevice() {
  clearTimeout(refreshTimer);
  device?.destroy();
  device = null;
}
