// Your data on the account page: download it all (GET /api/me/export, a ZIP) and correct your
// name and contact email (PATCH /api/me).

import { api, ApiError, signInAgain } from "/api.js";
import { $, show } from "/dom.js";
import { state } from "/state.js";

let onProfile = () => {};

export function setUpMyData({ showProfile }) {
  onProfile = showProfile;
  $("export").addEventListener("click", download);
  $("profile-form").addEventListener("submit", (event) => {
    event.preventDefault();
    correct();
  });
}

/** Fills the correction form with the profile as it is. */
export function fillProfileForm(me) {
  $("profile-name").value = me.name || "";
  $("profile-email").value = me.email || "";
  $("profile-status").textContent = "";
  showProblem("");
  show($("profile-unverified"), me.email_verified === false);
}

async function download() {
  const button = $("export");
  const status = $("export-status");
  button.disabled = true;
  status.textContent = "Preparing your data…";
  try {
    const response = await fetch("/api/me/export", { credentials: "same-origin" });
    if (!response.ok) {
      status.textContent = await refusal(response);
      return;
    }
    save(await response.blob(), fileName(response));
    status.textContent = "Your data is downloaded: a ZIP with a README that explains each file.";
  } catch {
    status.textContent = "OwnNumber can't be reached. Check your connection and try again.";
  } finally {
    button.disabled = false;
  }
}

async function refusal(response) {
  const problem = await response.json().catch(() => ({}));
  if (response.status === 401 && problem.code === "reauth_required") {
    signInAgain();
    return "Downloading your data needs a fresh sign-in: taking you there…";
  }
  if (response.status === 429) {
    const seconds = Number(response.headers.get("Retry-After"));
    if (seconds > 0) {
      const when = new Date(Date.now() + seconds * 1000).toLocaleTimeString(undefined, { timeStyle: "short" });
      return `You have downloaded your data several times this hour. You can try again at ${when}.`;
    }
  }
  return new ApiError(response.status, problem).message;
}

function fileName(response) {
  const header = response.headers.get("Content-Disposition") || "";
  const found = /filename="?([^";]+)"?/i.exec(header);
  return found ? found[1] : "ownnumber-data.zip";
}

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has its own copy once it starts; a minute is ample.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function correct() {
  const form = $("profile-form");
  showProblem("");
  $("profile-status").textContent = "";
  if (!form.reportValidity()) return;
  const name = $("profile-name").value.trim();
  const email = $("profile-email").value.trim();
  const emailChanged = email.toLowerCase() !== (state.me?.email || "").toLowerCase();
  // Only what changed is sent: a name, once given, is corrected, never emptied.
  const body = {};
  if (name !== (state.me?.name || "")) body.name = name;
  if (emailChanged) body.email = email;
  if (Object.keys(body).length === 0) {
    $("profile-status").textContent = "Nothing to change.";
    return;
  }
  try {
    const profile = await api("me", { method: "PATCH", body });
    state.me = { ...state.me, ...profile };
    onProfile(state.me);
    fillProfileForm(state.me);
    $("profile-status").textContent = emailChanged ? "Saved. Your new address is unverified until you next sign in." : "Saved.";
  } catch (error) {
    if (error instanceof ApiError && error.status === 400) showProblem(error.message);
    else showProblem(error.message || "Something went wrong.");
  }
}

function showProblem(text) {
  $("profile-error").textContent = text;
  show($("profile-error"), Boolean(text));
}
