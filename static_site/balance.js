// The balance, always in view, what it buys, and the banners about the account's state.

import { api } from "/api.js";
import { affordableSeconds } from "/cost.js";
import { $, show } from "/dom.js";
import { formatBalance, formatMinutes } from "/format.js";
import { emit, state } from "/state.js";

const DISPUTED = "payment_disputed";

export function showBalance(balance) {
  state.balance = balance;
  const text = formatBalance(balance.balance_micros, balance.currency);
  $("balance").textContent = text;
  $("credit-balance").textContent = text;
  show($("balance-box"), true);
  renderMinutes();
  renderBanners();
  emit("balance", balance);
}

export async function refreshBalance() {
  showBalance(await api("balance"));
  await refreshLastRate();
}

// What the balance buys to the number called last: its rate, priced again for this balance.
export async function refreshLastRate(lastNumber = state.lastNumber) {
  state.lastNumber = lastNumber;
  if (!lastNumber) {
    state.lastRate = null;
  } else {
    const rate = await api(`rates?to=${encodeURIComponent(lastNumber)}`).catch(() => null);
    state.lastRate = rate && rate.e164 ? rate : null;
  }
  renderMinutes();
  renderBanners();
}

function minutesSentence() {
  const rate = state.lastRate;
  if (!rate || !state.balance) return "";
  const seconds = affordableSeconds(state.balance.balance_micros, rate);
  return `about ${formatMinutes(seconds)} to the ${rate.description} you last called`;
}

function renderMinutes() {
  const sentence = minutesSentence();
  const rate = state.lastRate;
  $("balance-minutes").textContent =
    rate && state.balance ? `≈ ${formatMinutes(affordableSeconds(state.balance.balance_micros, rate))} to ${rate.description}` : "";
  $("credit-minutes").textContent = sentence ? `That is ${sentence}.` : "";
  $("balance-box").title = sentence ? `Balance: ${sentence}` : "";
}

function renderBanners() {
  const balance = state.balance;
  if (!balance) return;
  const disputed = balance.flags.includes(DISPUTED);
  const negative = balance.balance_micros < 0;
  const banner = $("account-banner");
  if (disputed) {
    $("account-banner-text").textContent =
      "A payment on this account is disputed with your bank, so calls and new purchases are " +
      "paused until the dispute is settled. If the payment was yours, ask your bank to " +
      "withdraw the dispute; if you think it is a mistake, write to us.";
  } else if (negative) {
    $("account-banner-text").textContent =
      `Your balance is below zero (${formatBalance(balance.balance_micros, balance.currency)}) ` +
      "after a refund or a dispute. Buy credit to bring it back above zero before you call; " +
      "write to us if you think this is a mistake.";
  }
  show(banner, disputed || negative);
  const support = state.config?.support_email;
  show($("support"), Boolean(support) && (disputed || negative));

  const rate = state.lastRate;
  const limit = state.config?.low_balance_minutes ?? 5;
  let low = "";
  if (!disputed && !negative) {
    if (rate && affordableSeconds(balance.balance_micros, rate) < limit * 60) {
      low = `Low balance: ${minutesSentence().replace(/^about/, "it buys about")}.`;
    } else if (!rate && balance.balance_micros === 0) {
      low = "Your balance is empty: buy credit to make your first call.";
    }
  }
  $("low-balance-text").textContent = low;
  show($("low-balance"), Boolean(low));
}

export function showSupport(email) {
  for (const id of ["support-email", "footer-support-email"]) {
    $(id).href = `mailto:${email}`;
  }
  $("support-email").textContent = email;
  show($("footer-support"), true);
}
