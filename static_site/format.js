// How the page writes money, durations, times and countries: in the browser's own language,
// with Intl, so nothing has to be downloaded for it.

const locale = navigator.languages?.[0] || navigator.language || "en-US";
const cache = new Map();

function formatter(key, make) {
  if (!cache.has(key)) cache.set(key, make());
  return cache.get(key);
}

function digitsOf(currency) {
  return formatter(`digits:${currency}`, () =>
    new Intl.NumberFormat(locale, { style: "currency", currency }).resolvedOptions()
      .maximumFractionDigits,
  );
}

function money(micros, currency, minDigits, maxDigits, roundingMode) {
  const format = formatter(`money:${currency}:${minDigits}:${maxDigits}:${roundingMode}`, () =>
    new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      currencyDisplay: "code",
      minimumFractionDigits: minDigits,
      maximumFractionDigits: maxDigits,
      roundingMode,
    }),
  );
  return format.format(micros / 1_000_000);
}

// A balance, in the currency's own decimals (2 for most). Rounded down, in integers (not
// with Intl's roundingMode, which older browsers ignore), so the page never shows more than
// the account holds.
export function formatBalance(micros, currency) {
  const digits = digitsOf(currency);
  const step = 10 ** (6 - digits);
  return money(Math.floor(micros / step) * step, currency, digits, digits, "halfExpand");
}

// An amount charged or credited, rounded to the nearest minor unit.
export function formatAmount(micros, currency) {
  const digits = digitsOf(currency);
  return money(micros, currency, digits, digits, "halfExpand");
}

// A price per minute, or a running cost: up to 4 decimals, since calls cost fractions of a cent.
export function formatPrice(micros, currency) {
  const digits = digitsOf(currency);
  return money(micros, currency, digits, Math.max(digits, 4), "halfExpand");
}

// A charge as the ledger has it, to the micro: "USD 0.015", "USD 0.01875".
export function formatCharge(micros, currency) {
  const digits = digitsOf(currency);
  return money(micros, currency, digits, 6, "halfExpand");
}

// A signed amount for the ledger: "+USD 10.00", "−USD 0.015".
export function formatSigned(micros, currency) {
  const text = formatCharge(Math.abs(micros), currency);
  return micros < 0 ? `−${text}` : micros > 0 ? `+${text}` : text;
}

export function flag(region) {
  if (!/^[A-Z]{2}$/.test(region || "")) return "🌐";
  return String.fromCodePoint(...[...region].map((c) => 0x1f1e6 + c.charCodeAt(0) - 65));
}

export function countryName(region) {
  if (!region) return "";
  try {
    const names = formatter("regions", () => new Intl.DisplayNames([locale], { type: "region" }));
    return names.of(region) || region;
  } catch {
    return region;
  }
}

// The region of the browser's language ("en-GB" → "GB"), if it names one.
export function localeRegion() {
  for (const tag of navigator.languages || [navigator.language]) {
    try {
      const region = new Intl.Locale(tag).maximize().region;
      if (region) return region;
    } catch {
      // An odd tag: try the next one.
    }
  }
  return null;
}

// "3 min 12 s", "45 s", "1 h 2 min".
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes) return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  return `${rest} s`;
}

// The call timer: "03:12", "1:02:03".
export function formatClock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const pad = (n) => String(n).padStart(2, "0");
  const hours = Math.floor(total / 3600);
  const clock = `${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
  return hours ? `${hours}:${clock}` : clock;
}

// "about 42 min": minutes rounded down, since the call is cut at the limit.
export function formatMinutes(seconds) {
  if (seconds === Infinity) return "as long as you like";
  const minutes = Math.floor(seconds / 60);
  if (minutes >= 1) return `${new Intl.NumberFormat(locale).format(minutes)} min`;
  return seconds > 0 ? "less than a minute" : "no time";
}

export function formatWhen(iso) {
  const when = new Date(iso);
  const today = new Date();
  const sameDay = when.toDateString() === today.toDateString();
  const options = sameDay ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" };
  return formatter(`when:${sameDay}`, () => new Intl.DateTimeFormat(locale, options)).format(when);
}

// Billing increments as a person says them: "60/1" → "first minute, then per second".
export function describeIncrements(increments) {
  const [first, next] = String(increments).split("/").map(Number);
  const unit = (s) => (s === 60 ? "minute" : s === 1 ? "second" : `${s} seconds`);
  if (first === next) return s(first);
  return `first ${unit(first)}, then per ${unit(next)}`;
  function s(n) {
    return n === 60 ? "billed per minute" : n === 1 ? "billed per second" : `billed per ${n} seconds`;
  }
}

export const NUMBER_TYPES = {
  mobile: "mobile",
  fixed_line: "landline",
  fixed_line_or_mobile: "landline or mobile",
  toll_free: "toll-free number",
  voip: "internet number",
  voicemail: "voicemail",
};
