// The dialer's start: the config, the session, the views (#/call, #/recent, #/credit,
// #/account), and what keeps every open tab of this browser in step.

import { loadSessions, setUpAccount, showProfile } from "/account.js";
import { loadCallerId, setUpCallerId, stopCallerId } from "/caller-id.js";
import { api, ApiError, onSessionEnded } from "/api.js";
import { refreshBalance, refreshLastRate, showBalance, showSupport } from "/balance.js";
import { closeSummary, inCall, resetCallScreen, setUpCallScreen, startCall } from "/call-screen.js";
import { forgetConsent, useAccountConsent, useBrowserConsent } from "/consent.js";
import { setUpConsentBanner } from "/consent-banner.js";
import { loadCookieList, setUpCookieSettings } from "/cookie-settings.js";
import { followCheckout, loadLedger, loadPending, renderPacks, setUpCredit, stopWatchingPayments } from "/credit.js";
import { hideDeletionSummary, resetDeleteForm, setUpDeleteAccount, showDeletionSummary } from "/delete-account.js";
import { clearNumber, fillNumber, loadCountries, preferCountry, refreshPreview, setUpDialer } from "/dialer.js";
import { $, show } from "/dom.js";
import { loadHistory, setUpHistory } from "/history.js";
import { setUpMicrophone, stopMicrophoneTest } from "/microphone.js";
import { fillProfileForm, setUpMyData } from "/my-data.js";
import { destroyDevice, onDeviceError } from "/phone.js";
import { on, state } from "/state.js";

const VIEWS = ["call", "recent", "credit", "account"];
// Tabs of this browser tell each other when the session ends or starts.
const tabs = "BroadcastChannel" in window ? new BroadcastChannel("ownnumber-session") : null;
let signedIn = false;

function showError(error) {
  const message = error instanceof ApiError || error instanceof Error ? error.message : "Something went wrong.";
  $("error").textContent = message;
  show($("error"), Boolean(message));
}

function clearError() {
  show($("error"), false);
  $("error").textContent = "";
}

function route() {
  if (!signedIn) {
    document.body.dataset.route = "sign-in";
    return;
  }
  const wanted = window.location.hash.replace(/^#\/?/, "");
  const view = VIEWS.includes(wanted) ? wanted : "call";
  const changed = document.body.dataset.route !== view;
  document.body.dataset.route = view;
  for (const tab of document.querySelectorAll("[data-tab]")) {
    if (tab.dataset.tab === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (changed) {
    clearError();
    if (view === "account") Promise.all([loadSessions(), loadCallerId(), loadCookieList()]).catch(showError);
    if (view === "credit") Promise.all([loadLedger(), loadPending()]).catch(showError);
    // A call settled late (its final report came after the page stopped waiting) shows here.
    if (view === "recent") loadHistory().catch(showError);
  }
}

async function showSignedIn(me) {
  state.me = me;
  signedIn = true;
  hideDeletionSummary();
  showProfile(me);
  fillProfileForm(me);
  useAccountConsent().catch(showError);
  showBalance(me);
  show($("tabs"), true);
  route();
  loadPending().catch(() => {});
  loadCallerId().catch(() => {});
  const calls = await loadHistory().catch(() => []);
  const last = calls[0];
  preferCountry(last?.country);
  await refreshLastRate(last?.to || null);
}

function showSignIn() {
  signedIn = false;
  state.me = null;
  state.balance = null;
  state.lastNumber = null;
  resetCallScreen();
  destroyDevice();
  stopWatchingPayments();
  stopCallerId();
  stopMicrophoneTest();
  clearNumber();
  clearError();
  resetDeleteForm();
  useBrowserConsent();
  show($("checkout-status"), false);
  show($("tabs"), false);
  show($("balance-box"), false);
  show($("account-banner"), false);
  show($("low-balance"), false);
  show($("pending-banner"), false);
  $("history").replaceChildren();
  $("ledger").replaceChildren();
  const entra = state.config.sign_in === "entra";
  show($("dev-login"), !entra);
  show($("entra-sign-in"), entra);
  // Back to this page once signed in (the server accepts only paths of this site).
  $("continue-with-google").href = `/api/auth/login?returnTo=${encodeURIComponent(window.location.pathname)}`;
  route();
}

async function signOut(path) {
  clearError();
  try {
    await api(path, { method: "POST" });
  } catch (error) {
    showError(error);
    return;
  }
  tabs?.postMessage("signed-out");
  showSignIn();
}

async function start() {
  const config = await api("config");
  state.config = config;
  if (config.mode === "sandbox") show($("mode"), true);
  if (config.support_email) showSupport(config.support_email);
  renderPacks(config.credit_packs, config.currency, showError);

  setUpDialer({
    call: (rate) => {
      clearError();
      stopMicrophoneTest();
      startCall(rate);
    },
  });
  setUpCallScreen();
  setUpMicrophone();
  setUpHistory({
    onRedial: (call) => {
      if (inCall()) return;
      closeSummary();
      window.location.hash = "#/call";
      fillNumber(call.formatted || call.to, call.country);
      $("number").focus();
    },
  });
  setUpCredit({ showError });
  setUpAccount({ showError });
  setUpCallerId({ showError });
  setUpConsentBanner({ showError });
  setUpCookieSettings({ showError });
  setUpMyData({ showProfile });
  setUpDeleteAccount({
    onDeleted: (summary) => {
      tabs?.postMessage("signed-out");
      forgetConsent();
      $("email").value = "";
      showSignIn();
      showDeletionSummary(summary);
    },
  });
  onDeviceError((error) => showError(error));
  onSessionEnded(() => {
    if (signedIn) showSignIn();
  });
  on("call-ended", async (call) => {
    await Promise.all([loadHistory(), loadLedger()]).catch(() => {});
    if (call) await refreshLastRate(call.to);
    refreshPreview();
  });
  on("credit", () => refreshPreview());
  window.addEventListener("hashchange", route);
  tabs?.addEventListener("message", async (event) => {
    if (event.data === "signed-out" && signedIn) showSignIn();
    if (event.data === "signed-in" && !signedIn) await boot();
  });
  // Back to a tab after a while: the session may have ended on another device.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && signedIn) refreshBalance().catch(() => {});
  });

  $("dev-login").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    try {
      await api("auth/dev-login", { method: "POST", body: { email: $("email").value } });
      tabs?.postMessage("signed-in");
      await boot();
    } catch (error) {
      showError(error);
    }
  });
  $("logout").addEventListener("click", () => signOut("auth/logout"));
  $("logout-all").addEventListener("click", () => signOut("auth/logout-all"));

  await loadCountries().catch(showError);
  await boot();
  await followCheckout().catch(showError);
}

async function boot() {
  try {
    await showSignedIn(await api("me", { quiet401: true }));
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) showSignIn();
    else showError(error);
  }
}

start().catch(showError);
