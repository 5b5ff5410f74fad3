// The visitor's choice about analytics, and what follows from it. Necessary storage is always
// on; analytics only with consent. Signed out, the choice lives in this browser (localStorage
// ownnumber.consent, {analytics, policy_version, changed_at}); once signed in, a choice made
// here is carried to the account, and after that the account's choice wins. Global Privacy
// Control is a refusal: analytics never load under it, whatever was chosen.

import { startAnalytics, stopAnalytics, gpcOn } from "/analytics.js";
import { api } from "/api.js";
import { emit, state } from "/state.js";

export const CONSENT_KEY = "ownnumber.consent";
export { gpcOn };

// The choice in force ({analytics, policy_version, changed_at, gpc, source}), or null before
// one was made under the policy now published.
let choice = null;
let signedIn = false;

export function currentChoice() {
  return choice;
}

/** Signed out: the choice this browser remembers. */
export function useBrowserConsent() {
  signedIn = false;
  choice = remembered();
  apply();
}

/** Signed in: the account's choice, or the one made here before signing in, carried over. */
export async function useAccountConsent() {
  signedIn = true;
  const local = remembered();
  let answer;
  try {
    answer = await api("me/consent");
    if (!current(answer) && local) {
      const body = { analytics: local.analytics && !gpcOn(), source: "banner" };
      answer = await api("me/consent", { method: "PUT", body });
    }
  } catch {
    // The account cannot be asked now: this browser's choice stands until it can.
    answer = null;
  }
  if (!signedIn) return;
  choice = answer ? (current(answer) ? fromServer(answer) : null) : local;
  if (choice) remember(choice);
  apply();
}

/** Records a choice (source "banner" or "account") and applies it; resolves to the choice. */
export async function choose(analytics, source) {
  if (signedIn) {
    // Under GPC the server stores a refusal anyway (Sec-GPC); a browser that shows the signal
    // only to scripts is refused here.
    const body = { analytics: analytics && !gpcOn(), source };
    choice = fromServer(await api("me/consent", { method: "PUT", body }));
  } else {
    const gpc = gpcOn();
    choice = {
      analytics: analytics && !gpc,
      gpc,
      policy_version: state.config.policy_version,
      changed_at: new Date().toISOString(),
      source,
    };
  }
  remember(choice);
  apply();
  return choice;
}

/** After the account is deleted: this browser forgets the choice, and analytics stop. */
export function forgetConsent() {
  try {
    localStorage.removeItem(CONSENT_KEY);
  } catch {
    // Storage refused: nothing was kept there.
  }
  useBrowserConsent();
}

function apply() {
  if (choice?.analytics && !gpcOn()) {
    startAnalytics(state.config.analytics_connection_string).catch(() => {});
  } else {
    stopAnalytics();
  }
  emit("consent", choice);
}

// A choice counts only under the policy it was made under: a new version asks again.
function current(found) {
  return Boolean(found?.changed_at) && found.policy_version === state.config.policy_version;
}

function fromServer(answer) {
  const { analytics, gpc, policy_version, changed_at, source } = answer;
  return { analytics, gpc, policy_version, changed_at, source };
}

function remembered() {
  try {
    const found = JSON.parse(localStorage.getItem(CONSENT_KEY));
    if (typeof found?.analytics !== "boolean" || !current(found)) return null;
    return { ...found, gpc: gpcOn(), source: "banner" };
  } catch {
    return null;
  }
}

function remember({ analytics, policy_version, changed_at }) {
  try {
    localStorage.setItem(CONSENT_KEY, JSON.stringify({ analytics, policy_version, changed_at }));
  } catch {
    // Storage refused: the banner asks again next time.
  }
}
