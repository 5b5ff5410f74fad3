// The Twilio Voice SDK, loaded from this origin: scripts/vendor-sdk (run by scripts/bootstrap,
// and before deploying) copies its browser build from npm into /vendor/twilio-voice/. That
// build is a classic script that defines window.Twilio (the package's ES modules import bare
// package names a browser cannot resolve without a bundler), so it is added once as a
// <script src> of this origin, which the CSP's script-src 'self' allows: nothing inline, no eval.

import { addScript } from "./script-loader.js";

export const VOICE_SDK_URL = "/vendor/twilio-voice/twilio.min.js";

let loading = null;

/** Resolves to the SDK's {Device, Call}; loads the script on the first call only. */
export async function loadVoiceSdk() {
  loading ??= load().catch((error) => {
    loading = null; // a later call tries again (the network may be back)
    throw error;
  });
  return loading;
}

async function load() {
  if (!sdkOnPage()) {
    await insertScript();
  }
  const sdk = sdkOnPage();
  if (!sdk) {
    throw new Error(`${VOICE_SDK_URL} loaded but did not define window.Twilio.Device and Call.`);
  }
  return sdk;
}

function sdkOnPage() {
  const twilio = globalThis.Twilio;
  return twilio?.Device && twilio?.Call ? { Device: twilio.Device, Call: twilio.Call } : null;
}

function insertScript() {
  return addScript(VOICE_SDK_URL).catch(async () => {
    throw new Error(await whyNot());
  });
}

// A script's error event does not say why; asking again does.
async function whyNot() {
  const where = `The Twilio Voice SDK could not be loaded from ${VOICE_SDK_URL}`;
  try {
    const response = await fetch(VOICE_SDK_URL, { method: "HEAD", cache: "no-store" });
    if (response.status === 404) {
      return `The Twilio Voice SDK is missing from ${VOICE_SDK_URL}: run scripts/bootstrap (or scripts/vendor-sdk) to copy it from node_modules.`;
    }
    return response.ok ? `${where}; try again.` : `${where} (HTTP ${response.status}).`;
  } catch {
    return `${where}: the site did not answer; check the connection and try again.`;
  }
}
