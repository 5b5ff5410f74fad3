// Buying credit (Stripe Checkout), following a checkout back to its credit, payments still
// being confirmed, and the ledger in words.

import { api, ApiError } from "/api.js";
import { refreshBalance } from "/balance.js";
import { $, el, show } from "/dom.js";
import { formatAmount, formatBalance, formatDuration, formatSigned, formatWhen } from "/format.js";
import { emit, state } from "/state.js";

const PAGE = 20;
const POLLS = 30;
let continuation = null;
// One per page view: a double-clicked "Buy" sends it twice and gets the same Checkout.
const checkoutNonce = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) =>
  b.toString(16).padStart(2, "0"),
).join("");

export function setUpCredit({ showError }) {
  $("ledger-more").addEventListener("click", () => loadLedger(true).catch(showError));
}

export function renderPacks(packs, currency, showError) {
  $("packs").replaceChildren(
    ...packs.map((pack) => {
      const price = formatAmount(pack.price_micros, currency);
      const credit = formatAmount(pack.credit_micros, currency);
      const bonus = pack.credit_micros > pack.price_micros
        ? Math.round(((pack.credit_micros - pack.price_micros) * 100) / pack.price_micros)
        : 0;
      const label = `${price} → ${credit} credit${bonus ? ` (+${bonus}%)` : ""}`;
      return el(
        "button",
        { type: "button", class: "pack", "data-pack": pack.id, "aria-label": `Buy: pay ${label}`, onclick: () => buy(pack.id, showError) },
        el("span", { class: "pay", text: `${price} →` }),
        el("span", { class: "get" }, `${credit} credit`, bonus ? el("span", { class: "bonus", text: ` (+${bonus}%)` }) : null),
      );
    }),
  );
}

async function buy(packId, showError) {
  try {
    const checkout = await api("checkout", { method: "POST", body: { pack: packId, nonce: checkoutNonce } });
    window.location.assign(checkout.url);
  } catch (error) {
    showError(error);
  }
}

function showCheckoutStatus(text) {
  $("checkout-status").textContent = text;
  show($("checkout-status"), Boolean(text));
}

// Back from Checkout: only the webhook credits, so wait for it to land.
export async function followCheckout() {
  const returned = new URLSearchParams(window.location.search).get("checkout");
  if (!returned) return;
  window.history.replaceState(null, "", `${window.location.pathname}#/credit`);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
  if (returned === "cancelled") {
    showCheckoutStatus("Checkout cancelled: nothing was charged.");
    return;
  }
  const messages = {
    paid: (c) => `Payment received: ${c.credit} added to your balance.`,
    pending: () => "Your payment is being confirmed by your bank. The credit is added as soon as it is; this can take a few days.",
    failed: () => "The payment failed: nothing was added.",
    refunded: () => "This payment was refunded.",
    partially_refunded: () => "This payment was partly refunded.",
    disputed: () => "This payment is disputed.",
    refused: () => "This payment did not match the pack's price, so no credit was added; it will be refunded.",
  };
  for (let attempt = 0; attempt < POLLS; attempt += 1) {
    let checkout;
    try {
      checkout = await api(`checkout/${encodeURIComponent(returned)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        showCheckoutStatus("That checkout is not one of yours.");
        return;
      }
      throw error;
    }
    if (checkout.status !== "open") {
      const message = messages[checkout.status];
      showCheckoutStatus(message ? message({ ...checkout, credit: formatAmount(checkout.credit_micros, state.config.currency) }) : `Payment status: ${checkout.status}.`);
      await creditChanged();
      return;
    }
    showCheckoutStatus("Waiting for the payment to be confirmed…");
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  showCheckoutStatus("The payment is still being confirmed; your balance updates when it is.");
}

export function stopWatchingPayments() {
  clearTimeout(pendingTimer);
  pendingIds = new Set();
}

export async function creditChanged() {
  await refreshBalance();
  await Promise.all([loadLedger(), loadPending()]);
  emit("credit", null);
}

// Payments our records hold as pending (a bank payment not yet confirmed): they stay in view,
// across reloads, until the webhook says how they ended.
let pendingIds = new Set();
let pendingTimer = null;
const PENDING_POLL_MS = 15_000;

export async function loadPending() {
  clearTimeout(pendingTimer);
  const { payments } = await api("payments?limit=10").catch(() => ({ payments: [] }));
  const pending = payments.filter((payment) => payment.status === "pending");
  const landed = [...pendingIds].some((id) => !pending.some((p) => p.payment_intent === id));
  pendingIds = new Set(pending.map((payment) => payment.payment_intent));
  // While a bank payment is on its way, look again now and then: its credit shows when it lands.
  if (pending.length) pendingTimer = setTimeout(() => loadPending().catch(() => {}), PENDING_POLL_MS);
  if (landed) await creditChanged();
  $("pending-payments").replaceChildren(
    ...pending.map((payment) =>
      el(
        "li",
        {},
        el("span", { class: "what", text: `${formatAmount(payment.amount_micros, state.config.currency)} payment being confirmed` }),
        el("span", { class: "sub", text: `Started ${formatWhen(payment.created_at)}. ${formatAmount(payment.credit_micros, state.config.currency)} credit is added when your bank confirms it.` }),
      ),
    ),
  );
  show($("pending-payments"), pending.length > 0);
  $("pending-banner-text").textContent = pending.length === 1
    ? "A payment is being confirmed by your bank; its credit is added when it is."
    : `${pending.length} payments are being confirmed by your bank; their credit is added when they are.`;
  show($("pending-banner"), pending.length > 0);
}

export async function loadLedger(append = false) {
  const query = append && continuation ? `&continuation=${encodeURIComponent(continuation)}` : "";
  const page = await api(`ledger?limit=${PAGE}${query}`);
  continuation = page.continuation;
  const items = page.entries.map(entryItem);
  if (append) $("ledger").append(...items);
  else $("ledger").replaceChildren(...items);
  show($("ledger-empty"), $("ledger").children.length === 0);
  show($("ledger-more"), Boolean(continuation));
}

function card(entry) {
  return entry.card?.last4 ? ` · card •••• ${entry.card.last4}` : "";
}

export function describeEntry(entry) {
  const details = entry.details || {};
  switch (entry.kind) {
    case "call_charge": {
      const to = entry.call?.formatted || entry.call?.to || details.destination || "a phone";
      const seconds = entry.call?.duration_seconds ?? details.duration_seconds;
      return `Call to ${to}${seconds ? ` · ${formatDuration(seconds)}` : ""}`;
    }
    case "credit_purchase":
      return `Credit bought${card(entry)}`;
    case "refund":
      return `Refund${card(entry)}`;
    case "dispute":
      return `Dispute${card(entry)}`;
    case "dispute_reversal":
      return "Dispute settled in your favour";
    case "refund_reversal":
      return "Refund reversed";
    case "adjustment":
      return "Adjustment";
    default:
      return entry.kind;
  }
}

function entryItem(entry) {
  const currency = state.config.currency;
  return el(
    "li",
    { "data-kind": entry.kind },
    el("span", { class: "what", text: describeEntry(entry) }),
    el("span", { class: "sub", text: formatWhen(entry.created_at) }),
    el("span", {
      class: `amount${entry.amount_micros > 0 ? " positive" : ""}`,
      text: formatSigned(entry.amount_micros, currency),
    }),
    el("span", { class: "after", text: `balance ${formatBalance(entry.balance_after_micros, currency)}` }),
  );
}
