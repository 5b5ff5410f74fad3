// Adds a classic <script src> of this origin once (the vendored SDKs are classic scripts, which
// the CSP's script-src 'self' allows: nothing inline, no eval). Resolves when it has run;
// rejects, removing the element so a later try adds it afresh, when it cannot be loaded.

export function addScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.addEventListener("load", () => resolve(), { once: true });
    script.addEventListener(
      "error",
      () => {
        script.remove();
        reject(new Error(`The script ${url} could not be loaded.`));
      },
      { once: true },
    );
    document.head.append(script);
  });
}
