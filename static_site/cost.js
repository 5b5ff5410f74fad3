// What a call costs after so many seconds: the server's rating rule (shared/calling/rating.py)
// in the same integer micros, so the running cost on screen is what the ledger will say.

function ceilDiv(a, b) {
  return Math.floor((a + b - 1) / b);
}

export function parseIncrements(increments) {
  const [first, next] = String(increments).split("/").map(Number);
  return { first, next };
}

export function billedSeconds(seconds, increments) {
  const { first, next } = parseIncrements(increments);
  if (seconds <= 0) return 0;
  if (seconds <= first) return first;
  return first + ceilDiv(seconds - first, next) * next;
}

export function chargeMicros(seconds, rate) {
  const billed = billedSeconds(Math.floor(seconds), rate.increments);
  if (billed === 0) return 0;
  return (rate.connect_fee_micros || 0) + ceilDiv(billed * rate.per_minute_micros, 60);
}

// How long the balance pays for at this rate: rating.max_seconds without its per-call cap
// (a single call stops at 4 hours; the balance may buy more than that in all).
export function affordableSeconds(balanceMicros, rate) {
  const budget = balanceMicros - (rate.connect_fee_micros || 0);
  if (balanceMicros <= 0 || budget < 0) return 0;
  if (!rate.per_minute_micros) return Infinity;
  const { first, next } = parseIncrements(rate.increments);
  const billed = Math.floor((budget * 60) / rate.per_minute_micros);
  if (billed < first) return 0;
  return first + Math.floor((billed - first) / next) * next;
}
