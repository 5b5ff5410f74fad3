// What the page's parts share: the public config, the signed-in account, and the events that
// tell every part to catch up (a call ended, credit landed, the session ended).

export const state = {
  config: null,
  me: null,
  balance: null,
  // The rate of the last number called, for "about N min to …"; null before the first call.
  lastRate: null,
  countries: [],
};

const bus = new EventTarget();

export function emit(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function on(name, listener) {
  bus.addEventListener(name, (event) => listener(event.detail));
}
