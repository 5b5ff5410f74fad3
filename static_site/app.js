import { api, ApiError } from "/api.js";

const $ = (id) => document.getElementById(id);
let ledgerContinuation = null;
// One per page view: a double-clicked "Buy" sends it twice and gets the same Checkout.
const checkoutNonce = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) =>
  b.toString(16).padStart(2, "0"),
).join("");

function showError(error) {
  $("error").textContent = error instanceof ApiError ? error.message : "Something went wrong.";
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function describe(entry) {
  const labels = {
    credit_purchase: "Credit bought",
    call_charge: "Call",
    refund: "Refund",
    dispute: "Payment disputed",
    dispute_reversal: "Dispute resolved",
    refund_reversal: "Refund reversed",
    adjustment: "Adjustment",
  };
  return labels[entry.kind] || entry.kind;
}

function renderEntries(entries, append) {
  const body = $("ledger").querySelector("tbody");
  if (!append) body.replaceChildren();
  for (const entry of entries) {
    const row = document.createElement("tr");
    const cells = [
      new Date(entry.created_at).toLocaleString(),
      describe(entry),
      entry.amount,
      entry.balance_after,
    ];
    cells.forEach((text, index) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (index >= 2) cell.className = "amount";
      row.append(cell);
    });
    body.append(row);
  }
  $("ledger-empty").hidden = body.children.length > 0;
}

async function loadLedger(append = false) {
  const query = append && ledgerContinuation ? `&continuation=${encodeURIComponent(ledgerContinuation)}` : "";
  const page = await api(`ledger?limit=20${query}`);
  ledgerContinuation = page.continuation;
  renderEntries(page.entries, append);
  $("ledger-more").hidden = !ledgerContinuation;
}

async function showAccount() {
  const me = await api("me");
  $("who-name").textContent = me.name || "";
  $("who-name").hidden = !me.name;
  $("who").textContent = me.email;
  $("balance").textContent = me.balance;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  await Promise.all([loadLedger(), loadSessions()]);
}

// Where this account is signed in: each session with its device, and a way to end it.
async function loadSessions() {
  const { sessions } = await api("me/sessions");
  const list = $("sessions");
  list.replaceChildren();
  for (const session of sessions) {
    const item = document.createElement("li");
    const device = document.createElement("span");
    device.className = "device";
    device.textContent = session.device || "An unknown browser";
    if (session.current) {
      const mark = document.createElement("span");
      mark.className = "current";
      mark.textContent = "this browser";
      device.append(" ", mark);
    }
    const when = document.createElement("span");
    when.className = "hint";
    when.textContent =
      `Signed in ${formatTime(session.created_at)} · last seen ${formatTime(session.last_seen_at)}`;
    item.append(device, when);
    if (!session.current) {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "secondary";
      end.textContent = "Sign out there";
      end.setAttribute("aria-label", `Sign out ${device.textContent}`);
      end.addEventListener("click", async () => {
        clearError();
        await api(`me/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" })
          .then(loadSessions)
          .catch(showError);
      });
      item.append(end);
    }
    list.append(item);
  }
}

function formatTime(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function renderPacks(packs) {
  const buttons = packs.map((pack) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.pack = pack.id;
    button.textContent =
      pack.credit === pack.price ? `Buy ${pack.price}` : `Buy ${pack.credit} for ${pack.price}`;
    button.addEventListener("click", () => buy(pack.id));
    return button;
  });
  $("packs").replaceChildren(...buttons);
}

async function buy(packId) {
  clearError();
  try {
    const checkout = await api("checkout", {
      method: "POST",
      body: { pack: packId, nonce: checkoutNonce },
    });
    window.location.assign(checkout.url);
  } catch (error) {
    showError(error);
  }
}

function showCheckoutStatus(text) {
  $("checkout-status").textContent = text;
  $("checkout-status").hidden = false;
}

// Back from Checkout: only the webhook credits, so wait briefly for it to arrive.
async function followCheckout() {
  const returned = new URLSearchParams(window.location.search).get("checkout");
  if (!returned) return;
  window.history.replaceState(null, "", window.location.pathname);
  if (returned === "cancelled") {
    showCheckoutStatus("Checkout cancelled: nothing was charged.");
    return;
  }
  const messages = {
    paid: (c) => `Payment received: ${c.credit} added to your balance.`,
    failed: () => "The payment failed: nothing was added.",
    refunded: () => "This payment was refunded.",
    partially_refunded: () => "This payment was partly refunded.",
    disputed: () => "This payment is disputed.",
    refused: () =>
      "This payment did not match the pack's price, so no credit was added; it will be refunded.",
  };
  for (let attempt = 0; attempt < 30; attempt += 1) {
    const checkout = await api(`checkout/${encodeURIComponent(returned)}`);
    if (!["open", "pending"].includes(checkout.status)) {
      const message = messages[checkout.status];
      showCheckoutStatus(message ? message(checkout) : `Payment status: ${checkout.status}.`);
      await showAccount();
      return;
    }
    showCheckoutStatus("Waiting for the payment to be confirmed…");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  showCheckoutStatus("The payment is still being confirmed; your balance updates when it is.");
}

async function showSignIn(config) {
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  const entra = config.sign_in === "entra";
  $("dev-login").hidden = entra;
  $("entra-sign-in").hidden = !entra;
  // Back to this page once signed in (the server accepts only paths of this site).
  $("continue-with-google").href =
    `/api/auth/login?returnTo=${encodeURIComponent(window.location.pathname)}`;
}

async function start() {
  const config = await api("config");
  if (config.mode === "sandbox") {
    $("mode").textContent = "Sandbox: no real calls, no real money.";
    $("mode").hidden = false;
  }
  renderPacks(config.credit_packs);
  try {
    await showAccount();
    await followCheckout();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) await showSignIn(config);
    else showError(error);
  }

  $("dev-login").addEventListener("submit", async (event) => {
    event.preventDefault();
    clearError();
    try {
      await api("auth/dev-login", { method: "POST", body: { email: $("email").value } });
      await showAccount();
    } catch (error) {
      showError(error);
    }
  });
  $("logout").addEventListener("click", async () => {
    await api("auth/logout", { method: "POST" }).catch(showError);
    await showSignIn(config);
  });
  $("logout-all").addEventListener("click", async () => {
    clearError();
    try {
      await api("auth/logout-all", { method: "POST" });
      await showSignIn(config);
    } catch (error) {
      showError(error);
    }
  });
  $("ledger-more").addEventListener("click", () => loadLedger(true).catch(showError));
}

start().catch(showError);
