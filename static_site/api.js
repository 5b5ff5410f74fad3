// The JSON API, with problem+json errors turned into exceptions that carry the sentence.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `The service answered ${status}.`);
    this.status = status;
    this.problem = problem;
    this.code = problem.code;
  }
}

let signedOutElsewhere = () => {};

// Called when a request finds the session gone (signed out in another tab, expired, ended
// from another device), so the page can go back to sign-in.
export function onSessionEnded(listener) {
  signedOutElsewhere = listener;
}

// A dangerous action wants a sign-in from the last few minutes: take the person through a
// fresh one, and back to this page and view.
export function signInAgain() {
  const back = encodeURIComponent(window.location.pathname + window.location.hash);
  window.location.assign(`/api/auth/login?prompt=login&returnTo=${back}`);
}

export async function api(path, { method = "GET", body, quiet401 = false } = {}) {
  let response;
  try {
    response = await fetch(`/api/${path}`, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, { detail: "OwnNumber can't be reached. Check your connection and try again." });
  }
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && data.code === "reauth_required") {
    signInAgain();
  } else if (response.status === 401 && !quiet401) {
    signedOutElsewhere();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
