// Cookie settings on the account page: the analytics switch, and the list of every cookie and
// browser-storage item, as the privacy registry declares them (GET /api/privacy/cookies).

import { api } from "/api.js";
import { choose, currentChoice, gpcOn } from "/consent.js";
import { $, el, show } from "/dom.js";
import { on } from "/state.js";

let listed = false;

export function setUpCookieSettings({ showError }) {
  const toggle = $("analytics-consent");
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      await choose(toggle.checked, "account");
    } catch (error) {
      showError(error);
    } finally {
      toggle.disabled = false;
      refresh();
    }
  });
  on("consent", refresh);
}

export async function loadCookieList() {
  if (listed) return;
  const { cookies } = await api("privacy/cookies");
  $("cookie-list").replaceChildren(...cookies.map(cookieItem));
  listed = true;
}

function refresh() {
  const choice = currentChoice();
  const gpc = gpcOn() || Boolean(choice?.gpc);
  $("analytics-consent").checked = Boolean(choice?.analytics) && !gpcOn();
  show($("analytics-gpc"), gpc);
  $("analytics-status").textContent = describe(choice);
}

function describe(choice) {
  if (!choice?.changed_at) return "You have not chosen yet: analytics are off.";
  const when = new Date(choice.changed_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  const where = choice.source === "account" ? "on this page" : "on the banner";
  return `Analytics ${choice.analytics ? "allowed" : "off"}: chosen ${when}, ${where}.`;
}

function cookieItem(cookie) {
  const kind = cookie.necessary ? "Necessary, always on" : "Analytics, only with your consent";
  return el(
    "li",
    { "data-cookie": cookie.name },
    el("span", { class: "what" }, el("code", { text: cookie.name })),
    el("span", { class: cookie.necessary ? "tag" : "tag optional", text: kind }),
    el("span", { class: "purpose", text: cookie.purpose }),
    el("span", { class: "sub", text: `${storageName(cookie.storage)} set by ${cookie.set_by} · ${cookie.lifetime}` }),
  );
}

function storageName(storage) {
  return storage === "cookie" ? "A cookie" : `Browser storage (${storage})`;
}
