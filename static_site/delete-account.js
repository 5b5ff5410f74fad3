// Deleting the account: the person types DELETE, the server erases what it may and says what
// it keeps and why (DELETE /api/me); the page then signs out here and shows that summary.

import { api, ApiError } from "/api.js";
import { $, el, show } from "/dom.js";

const WORD = "DELETE";
let deleted = () => {};

export function setUpDeleteAccount({ onDeleted }) {
  deleted = onDeleted;
  $("delete-form").addEventListener("submit", (event) => {
    event.preventDefault();
    remove();
  });
  $("delete-confirm").addEventListener("input", () => showProblem(""));
}

export function resetDeleteForm() {
  $("delete-confirm").value = "";
  showProblem("");
}

async function remove() {
  if ($("delete-confirm").value.trim() !== WORD) {
    showProblem(`Type ${WORD}, in capitals, to confirm.`);
    $("delete-confirm").focus();
    return;
  }
  const button = $("delete-account");
  button.disabled = true;
  try {
    const summary = await api("me", { method: "DELETE", body: { confirm: WORD } });
    deleted(summary);
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      // A call is up: the server's sentence says so (and the account stays as it is).
      showProblem(error.problem?.detail || "Hang up first: an account can't be deleted during a call.");
    } else if (!(error instanceof ApiError && error.status === 401)) {
      showProblem(error.message || "Something went wrong.");
    }
  } finally {
    button.disabled = false;
  }
}

/** The signed-out screen's account of what was erased and what is kept, and why: kinds the
 * account had none of are left out, and kinds kept for one reason share its sentence. */
export function showDeletionSummary(summary) {
  const had = (items) => (items || []).filter((item) => item.count > 0);
  const erased = had(summary.erased).map((item) => el("li", { text: `${item.title}: ${count(item.count)}` }));
  const reasons = new Map();
  for (const item of had(summary.kept)) {
    const reason = `${item.why} Kept until ${formatDate(item.kept_until)}.`;
    reasons.set(reason, [...(reasons.get(reason) || []), `${item.title}: ${count(item.count)}`]);
  }
  const kept = [...reasons].map(([reason, what]) =>
    el("li", {}, el("span", { class: "what", text: what.join(" · ") }), el("span", { class: "sub", text: reason })),
  );
  $("deleted-erased").replaceChildren(...erased);
  $("deleted-kept").replaceChildren(...kept);
  show($("deleted-kept-part"), kept.length > 0);
  show($("account-deleted"), true);
  $("account-deleted").focus();
}

export function hideDeletionSummary() {
  show($("account-deleted"), false);
}

function count(n) {
  return n === 1 ? "1 record" : `${n} records`;
}

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleDateString(undefined, { dateStyle: "long", timeZone: "UTC" });
}

function showProblem(text) {
  $("delete-error").textContent = text;
  show($("delete-error"), Boolean(text));
}
