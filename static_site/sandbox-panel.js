// Sandbox only (loaded by import() when /api/config says sandbox): buttons on the call screen
// that make the telephony sandbox send what Twilio would on a bad network.

import { el } from "/dom.js";

export class SandboxPanel {
  constructor(container) {
    this.container = container;
    this.call = null;
  }

  // The call's sid is known only once Twilio (here the sandbox) has the call: read it late.
  showFor(call) {
    this.call = call;
    const button = (text, steps) =>
      el("button", { type: "button", class: "secondary", text, onclick: () => this.play(steps) });
    this.container.replaceChildren(
      el("p", { class: "hint", text: "Sandbox: make the network misbehave" }),
      button("Slow connection", [{ event: "warning", name: "high-rtt" }]),
      button("Losing sound", [{ event: "warning", name: "high-packet-loss" }]),
      button("Clear warnings", [
        { event: "warning-cleared", name: "high-rtt" },
        { event: "warning-cleared", name: "high-packet-loss" },
      ]),
      button("Drop and reconnect", [{ event: "reconnecting" }, { wait: 2000 }, { event: "reconnected" }]),
    );
    this.container.hidden = false;
  }

  hide() {
    this.container.hidden = true;
    this.call = null;
  }

  async play(steps) {
    for (const step of steps) {
      if (step.wait) {
        await new Promise((resolve) => setTimeout(resolve, step.wait));
        continue;
      }
      const sid = this.call?.parameters?.CallSid;
      if (!sid) return;
      await fetch(`/sandbox/telephony/calls/${encodeURIComponent(sid)}/quality`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(step),
      });
    }
  }
}
