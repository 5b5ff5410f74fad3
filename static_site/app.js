import { api, ApiError } from "/api.js";

const $ = (id) => document.getElementById(id);
let ledgerContinuation = null;

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
  $("who").textContent = me.email;
  $("balance").textContent = me.balance;
  $("signed-out").hidden = true;
  $("signed-in").hidden = false;
  await loadLedger();
}

async function showSignIn(config) {
  $("signed-in").hidden = true;
  $("signed-out").hidden = false;
  $("dev-login").hidden = config.sign_in !== "dev";
  $("no-dev-login").hidden = config.sign_in === "dev";
}

async function start() {
  const config = await api("config");
  if (config.mode === "sandbox") {
    $("mode").textContent = "Sandbox: no real calls, no real money.";
    $("mode").hidden = false;
  }
  try {
    await showAccount();
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
  $("ledger-more").addEventListener("click", () => loadLedger(true).catch(showError));
}

start().catch(showError);
