// The cookie banner: asks a visitor who has not chosen, with "Necessary only" and "Allow
// analytics" alike; under Global Privacy Control it does not ask, and says the signal is
// honoured. Hidden once a choice is made (the account page changes it later).

import { choose, currentChoice, gpcOn } from "/consent.js";
import { $, show } from "/dom.js";
import { on } from "/state.js";

export function setUpConsentBanner({ showError }) {
  const decide = (analytics) => choose(analytics, "banner").catch(showError);
  $("consent-necessary").addEventListener("click", () => decide(false));
  $("consent-allow").addEventListener("click", () => decide(true));
  $("consent-gpc-ok").addEventListener("click", () => decide(false));
  on("consent", refresh);
}

function refresh() {
  const asking = currentChoice() === null;
  const gpc = gpcOn();
  show($("consent-ask"), !gpc);
  show($("consent-gpc"), gpc);
  show($("consent-banner"), asking);
}
