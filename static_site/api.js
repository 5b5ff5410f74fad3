// The JSON API, with problem+json errors turned into exceptions that carry the sentence.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(`/api/${path}`, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && data.code === "reauth_required") {
    // A dangerous action wants a sign-in from the last few minutes: take the person through
    // a fresh one, and back to this page.
    const back = encodeURIComponent(window.location.pathname);
    window.location.assign(`/api/auth/login?prompt=login&returnTo=${back}`);
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}
