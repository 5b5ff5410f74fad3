// Microsoft Application Insights in the browser, and only with consent. Its standalone build is
// copied from npm into /vendor/applicationinsights/ by scripts/vendor-sdk (never loaded from a
// CDN) and added as a <script src> of this origin only when the visitor allowed analytics, a
// connection string is configured and Global Privacy Control is off. Withdrawing stops it and
// deletes what it stored. No phone number or email leaves the browser in what it sends: every
// URL loses its query and fragment, and digit runs and addresses in any text are masked.

import { addScript } from "./script-loader.js";

export const ANALYTICS_SDK_URL = "/vendor/applicationinsights/applicationinsights-web.min.js";
// What the SDK can store: its two cookies (the privacy registry declares ai_user and
// ai_session; ai_authUser is never set, since no signed-in id is given to it) and, were its
// browser storage not turned off below, keys that start with ai_ or AI_.
const COOKIES = ["ai_user", "ai_session", "ai_authUser"];
const STORAGE_KEYS = /^ai_/i;
// Requests whose query holds a phone number are never timed, whatever the scrubbing does.
const NOT_TRACKED = [/\/api\/rates/i];
// Seven digits or more, single spaces, dots, dashes, slashes or brackets between them: how a
// phone number is written (an email's too, below); durations (00:00:01.250) are not.
const DIGIT_RUN = /\+?\d(?:[\s().\/-]?\d){6,}/g;
const EMAIL = /[^\s@"'<>]+@[^\s@"'<>]+\.[^\s@"'<>]+/g;
// Fields that hold the SDK's own ids and timings, never anything a person typed.
const KEEP = new Set(["duration", "ver", "time", "iKey", "sdkVersion", "ai.internal.sdkVersion"]);
const ID = /id$/i;
const URL_TAIL = /(https?:\/\/[^\s?#"']*|\/[^\s?#"']*)[?#][^\s"']*/g;

let sdk = null;
let wanted = false;
let loading = null;

export function gpcOn() {
  return navigator.globalPrivacyControl === true;
}

export function analyticsRunning() {
  return sdk !== null;
}

/** Starts analytics (once): resolves true when running, false when it may not run. */
export async function startAnalytics(connectionString) {
  if (!connectionString || gpcOn()) return false;
  wanted = true;
  if (sdk) return true;
  loading ??= insertScript().finally(() => {
    loading = null;
  });
  await loading;
  // Withdrawn while the script loaded, or started by a parallel call: nothing more to do.
  if (!wanted || gpcOn()) return false;
  sdk ??= create(connectionString);
  return true;
}

/** Stops analytics and deletes its cookies and any storage it made. */
export function stopAnalytics() {
  wanted = false;
  if (sdk) {
    const running = sdk;
    sdk = null;
    try {
      running.getCookieMgr().setEnabled(false);
      running.unload(false);
    } catch {
      // Unloading is best effort: what it stored is deleted below either way.
    }
  }
  forget();
}

function create(connectionString) {
  const { ApplicationInsights } = globalThis.Microsoft.ApplicationInsights;
  const instance = new ApplicationInsights({
    config: {
      connectionString,
      // Its two cookies only: no localStorage or sessionStorage (nor its send buffer there).
      isStorageUseDisabled: true,
      enableSessionStorageBuffer: false,
      // Nothing ties a browser to an account or to the server's traces: no user or account
      // id is ever set, and our API calls carry no correlation headers.
      disableCorrelationHeaders: true,
      enableCorsCorrelation: false,
      enableRequestHeaderTracking: false,
      enableResponseHeaderTracking: false,
      enableAjaxErrorStatusText: false,
      excludeRequestFromAutoTrackingPatterns: NOT_TRACKED,
      enableAutoRouteTracking: false,
      autoTrackPageVisitTime: false,
      enableUnhandledPromiseRejectionTracking: false,
      // No calls home but the ingestion endpoint: not its feature configuration from
      // js.monitor.azure.com, nor its own usage statistics.
      extensionConfig: { AppInsightsCfgSyncPlugin: { cfgUrl: "", blkCdnCfg: true, syncMode: 0 } },
      featureOptIn: { SdkStats: { mode: 2 } },
    },
  });
  instance.loadAppInsights();
  instance.addTelemetryInitializer(scrub);
  instance.trackPageView({ name: document.title });
  return instance;
}

// Telemetry initializer: false drops the item.
function scrub(item) {
  const data = item.baseData || {};
  if (item.baseType === "RemoteDependencyData" && !ownOrigin(data.data || data.name)) return false;
  for (const part of ["baseData", "data", "tags", "ext"]) {
    if (item[part]) item[part] = clean(item[part], 0);
  }
  return true;
}

// A dependency's data is "GET /api/me" or "POST https://elsewhere.example/…".
function ownOrigin(request) {
  try {
    const url = String(request || "").replace(/^[A-Z]+ /, "");
    return new URL(url, window.location.href).origin === window.location.origin;
  } catch {
    return false;
  }
}

function clean(value, depth) {
  if (typeof value === "string") {
    return value.replace(URL_TAIL, "$1").replace(EMAIL, "[email]").replace(DIGIT_RUN, "[number]");
  }
  if (depth > 6 || value === null || typeof value !== "object") return value;
  for (const key of Object.keys(value)) {
    if (!KEEP.has(key) && !ID.test(key)) value[key] = clean(value[key], depth + 1);
  }
  return value;
}

function forget() {
  for (const name of COOKIES) {
    document.cookie = `${name}=; Max-Age=0; Path=/`;
  }
  for (const storage of [window.localStorage, window.sessionStorage]) {
    try {
      for (const key of Object.keys(storage)) {
        if (STORAGE_KEYS.test(key)) storage.removeItem(key);
      }
    } catch {
      // Storage refused (a private window's policy): then nothing was stored there either.
    }
  }
}

function insertScript() {
  if (globalThis.Microsoft?.ApplicationInsights?.ApplicationInsights) return Promise.resolve();
  return addScript(ANALYTICS_SDK_URL).catch(() => {
    throw new Error(`The analytics SDK could not be loaded from ${ANALYTICS_SDK_URL}.`);
  });
}
