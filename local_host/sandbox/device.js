// The sandbox device: what the dialer loads instead of @twilio/voice-sdk 2.x in sandbox
// mode. Only the sandbox serves it (GET /sandbox/telephony/device.js), so it never ships.
//
// Mirrors the SDK's Device, Call and device.audio as the dialer uses them: names, states,
// event arguments and order, TwilioError codes (read from twilio-voice.js). connect()
// resolves with a 'connecting' Call, then asks for the microphone: refused, the Call emits
// 'disconnect' then 'error' 31401 (31402: none usable). An 'error' nobody hears throws.
//
// Differs: no WebRTC or signalling. The call is POST /sandbox/telephony/calls (which checks
// the token as Twilio does), then its state is polled every 250 ms: events come that late.
// Nobody is on the line: the ringback and an answer chime are made here; the microphone is
// metered, sent nowhere. Warnings and reconnects come from the sandbox's quality endpoint.
// tokenWillExpire is timed from the token's exp, once per token (the SDK's, from the
// server's ttl, fires once only: twilio-voice.js #93); an expired token is the Device's
// 'error' 20104. A call the sandbox failed ends as a hangup carrying an error: 'error' 31005
// (the sandbox's code and message in originalError), then 'disconnect'. No register() or
// incoming calls: device.calls stays empty and 'cancel' never fires, as for the SDK's
// outgoing calls. edge, closeProtection, codecPreferences, logLevel are kept, not used.

const SANDBOX = '/sandbox/telephony';
const EXPLAINED = {
  20101: ['AccessTokenInvalid', 'Twilio was unable to validate your Access Token'],
  20104: ['AccessTokenExpired', 'The Access Token provided to the Twilio API has expired'],
  31000: ['UnknownError', 'An unknown error has occurred.'],
  31005: ['ConnectionError', 'Error sent from gateway in HANGUP'],
  31401: ['PermissionDeniedError', 'The browser or end-user denied permissions to user media.'],
  31402: ['AcquisitionFailedError', 'Getting the user media failed.'],
  53405: ['ConnectionError', 'Media connection failed.'],
};

export class TwilioError extends Error {
  constructor(code, message, originalError) {
    const [name, explanation] = EXPLAINED[code];
    super(`${name} (${code}): ${message || explanation}`);
    Object.assign(this, { code, name, explanation, originalError });
  }
}

const named = (name, message) => Object.assign(new Error(message), { name });

class Emitter {
  #on = new Map();
  on(event, fn) { this.#on.set(event, [...this.listeners(event), fn]); return this; }
  addListener(event, fn) { return this.on(event, fn); }
  once(event, fn) {
    const once = (...args) => { this.off(event, once); fn.apply(this, args); };
    return this.on(event, Object.assign(once, { listener: fn }));
  }
  off(event, fn) {
    this.#on.set(event, this.listeners(event).filter((l) => l !== fn && l.listener !== fn));
    return this;
  }
  removeListener(event, fn) { return this.off(event, fn); }
  removeAllListeners(event) {
    if (event === undefined) this.#on.clear(); else this.#on.delete(event);
    return this;
  }
  listeners(event) { return this.#on.get(event) || []; }
  emit(event, ...args) {
    const all = this.listeners(event);
    // Thrown apart: a listener's bug must not stop the call's polling.
    const raise = (error) => setTimeout(() => { throw error; });
    if (event === 'error' && !all.length) raise(args[0]);
    all.forEach((fn) => { try { fn.apply(this, args); } catch (error) { raise(error); } });
    return all.length > 0;
  }
}

function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}

const post = (path, body = {}) => fetch(SANDBOX + path, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});
const stop = (stream) => stream?.getTracks().forEach((track) => track.stop());
// Loudness 0..1 as the SDK measures it: the mean of an fftSize-32 analyser's bins.
const meter = (ctx) => new AnalyserNode(ctx, { fftSize: 32, smoothingTimeConstant: 0.3 });
function loudness(analyser) {
  const bins = new Uint8Array(16);
  analyser?.getByteFrequencyData(bins);
  return bins.reduce((sum, bin) => sum + bin, 0) / 16 / 255;
}

export class Device extends Emitter {
  #options;
  #token;
  #state = 'unregistered';
  #call = null;
  #timers = [];
  #ctx = null;

  constructor(token, options = {}) {
    super();
    this.#options = { tokenRefreshMs: 10000, ...options };
    this.audio = new AudioHelper(this);
    this.updateToken(token);
  }

  get state() { return this.#state; }
  get token() { return this.#token; }
  get isBusy() { return !!this.#call; }
  get calls() { return []; }

  updateToken(token) {
    this.#live('updateToken');
    if (typeof token !== 'string') throw named('InvalidArgumentError', 'Parameter "token" must be of type "string".');
    this.#token = token;
    this.#timers.forEach(clearTimeout);
    const left = claims(token).exp * 1000 - Date.now();
    const refresh = this.#options.tokenRefreshMs;
    if (Number.isNaN(left)) return; // no exp to time
    this.#timers = [setTimeout(() => this.emit('error', new TwilioError(20104)), left)];
    if (typeof refresh === 'number') {
      this.#timers.push(setTimeout(() => this.emit('tokenWillExpire', this), left - refresh));
    }
  }

  async connect({ params = {} } = {}) {
    this.#live('connect');
    if (this.#call) throw named('InvalidStateError', 'A Call is already active');
    // Before any await, so still in the click that placed the call: audio may start.
    this.#ctx ||= new AudioContext();
    this.#ctx.resume().catch(() => {});
    this._sink().catch(() => {});
    const call = (this.#call = new Call(this, this.#ctx, params));
    call.once('disconnect', () => { this.#call = null; });
    call._start(this.audio.inputDevice?.deviceId);
    return call;
  }

  disconnectAll() { this.#call?.disconnect(); }

  destroy() {
    this.disconnectAll();
    this.#timers.forEach(clearTimeout);
    this.audio._destroy();
    this.#ctx?.close().catch(() => {});
    this.#state = 'destroyed';
    this.emit('destroyed');
    this.removeAllListeners();
  }

  _call() { return this.#call; }

  async _sink() {
    const [speaker] = this.audio.speakerDevices.get();
    if (speaker && this.#ctx?.setSinkId) await this.#ctx.setSinkId(speaker.deviceId === 'default' ? '' : speaker.deviceId);
  }

  #live(what) {
    if (this.#state === 'destroyed') throw named('InvalidStateError', `Attempt to "${what}" when device is in state "destroyed".`);
  }
}

export class Call extends Emitter {
  direction = 'OUTGOING';
  parameters = {};
  #device;
  #ctx;
  #status = 'pending';
  #muted = false;
  #stream = null;
  #finished = false;
  #seq = 0;
  #timers = {};
  #sounds = new Set();
  #out;
  #outMeter;
  #inMeter;

  constructor(device, ctx, params) {
    super();
    this.#device = device;
    this.#ctx = ctx;
    this.customParameters = new Map(Object.entries(params).map(([k, v]) => [k, String(v)]));
    // All the call's sound goes through #out; its meter gives the output volume.
    this.#out = new GainNode(ctx);
    this.#outMeter = meter(ctx);
    this.#out.connect(this.#outMeter).connect(ctx.destination);
  }

  status() { return this.#status; }
  isMuted() { return this.#muted; }
  getLocalStream() { return this.#stream || undefined; }

  mute(shouldMute = true) {
    const was = this.#muted;
    this.#muted = !!shouldMute;
    this.#stream?.getAudioTracks().forEach((track) => { track.enabled = !this.#muted; });
    if (was !== this.#muted) this.emit('mute', this.#muted, this);
  }

  sendDigits(digits) {
    if (/[^0-9*#w]/.test(digits)) throw named('InvalidArgumentError', 'Illegal character passed into sendDigits');
    [...digits].forEach((key, i) => { // as the SDK plays them: one every 200 ms, 'w' silent
      const at = '123456789*0#'.indexOf(key);
      const t = this.#ctx.currentTime + i * 0.2;
      if (at >= 0) this.#tone([[697, 770, 852, 941][at / 3 | 0], [1209, 1336, 1477][at % 3]], t, 0.16, 0.1);
    });
    for (let i = 0; this.#status === 'open' && i < digits.length; i += 32) {
      post(`/calls/${this.parameters.CallSid}/digits`, { digits: digits.slice(i, i + 32) }).catch(() => {});
    }
  }

  disconnect() {
    const sid = this.#status !== 'closed' && !this.#finished && this.parameters.CallSid;
    this.#end();
    if (sid) post(`/calls/${sid}/hangup`).catch(() => {});
  }

  async _start(inputId) {
    this.#status = 'connecting';
    try {
      const audio = inputId ? { deviceId: { exact: inputId } } : true;
      this._use(await navigator.mediaDevices.getUserMedia({ audio }));
    } catch (error) {
      const denied = ['NotAllowedError', 'PermissionDeniedError'].includes(error?.name);
      return this.#end(new TwilioError(denied ? 31401 : 31402, null, error));
    }
    this.#device.audio._refresh(); // labels appear once the microphone is allowed
    if (this.#status === 'closed') return undefined; // hung up while the browser asked
    let answer;
    let body;
    try {
      const params = Object.fromEntries(this.customParameters);
      answer = await post('/calls', { token: this.#device.token, to: params.To || '', params });
      body = await answer.json();
    } catch (error) {
      return this.#end(new TwilioError(31005, 'The sandbox did not answer.', error), true);
    }
    if (answer.status === 401) {
      this.#device.emit('error', new TwilioError(/20104/.test(body.detail) ? 20104 : 20101, body.detail, body), this);
      return this.#end();
    }
    if (!answer.ok) return this.#end(new TwilioError(31000, body.detail, body), true);
    this.parameters = { CallSid: body.sid };
    if (this.#status === 'closed') return post(`/calls/${body.sid}/hangup`).catch(() => {});
    return this.#follow(body);
  }

  // Takes a microphone: the first, or one device.audio.setInputDevice chose during the call.
  _use(stream) {
    if (this.#status === 'closed') return stop(stream);
    if (stream !== this.#stream) stop(this.#stream);
    this.#stream = stream;
    this.mute(this.#muted);
    this.#inMeter?.disconnect();
    this.#inMeter = meter(this.#ctx);
    this.#ctx.createMediaStreamSource(stream).connect(this.#inMeter);
    this.#timers.volume ||= setInterval(() => this.emit('volume', loudness(this.#inMeter), loudness(this.#outMeter)), 100);
    return undefined;
  }

  // One state of the sandbox's call: the events the SDK would have emitted by now.
  // (Each step checks the status: a listener may have hung up meanwhile.)
  #follow(state) {
    const { dial } = state;
    // answerOnBridge: our leg is answered with the dialled one, or at once by TwiML that speaks.
    const answered = !!dial?.answered_at || state.spoken.length > 0;
    if (this.#status === 'connecting' && dial && (answered || ['ringing', 'no-answer'].includes(dial.status))) {
      this.#status = 'ringing';
      this.#ringback();
      this.emit('ringing', true);
    }
    if (answered && ['connecting', 'ringing'].includes(this.#status)) {
      this.#status = 'open';
      this.#hush();
      this.#greet();
      this.emit('accept', this);
    }
    state.events.slice(this.#seq).forEach((event) => { this.#seq = event.seq; this.#quality(event); });
    this.#finished = state.finished;
    if (state.finished) this.#end(state.error && new TwilioError(31005, null, state.error), true);
    else if (this.#status !== 'closed') this.#timers.poll = setTimeout(() => this.#poll(), 250);
  }

  async #poll() {
    try {
      const answer = await fetch(`${SANDBOX}/calls/${this.parameters.CallSid}`, { cache: 'no-store' });
      if (answer.ok) return this.#follow(await answer.json());
      if (answer.status === 404) {
        this.#finished = true;
        return this.#end(new TwilioError(31005, 'The sandbox has forgotten this call.'), true);
      }
    } catch {
      // The host restarting, or a blip: ask again.
    }
    if (this.#status !== 'closed') this.#timers.poll = setTimeout(() => this.#poll(), 250);
    return undefined;
  }

  #quality({ event, name }) {
    if (this.#status === 'closed') return;
    if (event === 'reconnecting' || event === 'reconnected') {
      const lost = event === 'reconnecting';
      this.#status = lost ? 'reconnecting' : 'open';
      this.#out.gain.value = lost ? 0 : 1; // silent while the media is lost
      this.emit(event, ...(lost ? [new TwilioError(53405)] : []));
    } else if (name !== 'constant-audio-output-level' && !(this.#muted && name === 'constant-audio-input-level')) {
      this.emit(event, name, null); // (the SDK never emits the first, nor the second when muted)
    }
  }

  // A hangup from afar has its error first; a failure here (the microphone) after.
  #end(error, remote = false) {
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    clearTimeout(this.#timers.poll);
    clearInterval(this.#timers.volume);
    this.#hush();
    this.#out.disconnect();
    stop(this.#stream);
    if (error && remote) this.emit('error', error);
    this.emit('disconnect', this);
    if (error && !remote) this.emit('error', error);
  }

  #tone(freqs, start, seconds, level, fade = false) {
    const gain = new GainNode(this.#ctx, { gain: 0 });
    gain.gain.setValueAtTime(level, start);
    if (fade) gain.gain.exponentialRampToValueAtTime(0.001, start + seconds);
    gain.gain.setValueAtTime(0, start + seconds);
    this.#sounds.add(gain.connect(this.#out) && gain);
    freqs.forEach((frequency) => {
      const osc = new OscillatorNode(this.#ctx, { frequency });
      osc.connect(gain);
      osc.start(start);
      osc.stop(start + seconds);
    });
  }

  // UK ringback: 400+450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off.
  #ringback() {
    const t = this.#ctx.currentTime + 0.05;
    this.#tone([400, 450], t, 0.4, 0.1);
    this.#tone([400, 450], t + 0.6, 0.4, 0.1);
    this.#timers.ring = setTimeout(() => this.#ringback(), 3000);
  }

  // Answered: three rising notes, then the silence of a quiet line.
  #greet() {
    const t = this.#ctx.currentTime + 0.05;
    [523.25, 659.25, 783.99].forEach((f, i) => this.#tone([f], t + i * 0.18, 0.8, 0.2, true));
  }

  #hush() {
    clearTimeout(this.#timers.ring);
    this.#sounds.forEach((sound) => sound.disconnect());
    this.#sounds.clear();
  }
}

class AudioHelper extends Emitter {
  availableInputDevices = new Map();
  availableOutputDevices = new Map();
  inputDevice = null;
  isOutputSelectionSupported = 'setSinkId' in AudioContext.prototype;
  #device;
  #speakers = new Set();
  #seen = '[]';
  _refresh = () => this.#refresh();

  constructor(device) {
    super();
    this.#device = device;
    navigator.mediaDevices?.addEventListener('devicechange', this._refresh);
    this._refresh();
  }

  speakerDevices = {
    get: () => this.#speakers,
    set: async (deviceIdOrIds) => {
      const ids = [deviceIdOrIds].flat();
      const missing = ids.filter((id) => !this.availableOutputDevices.has(id));
      if (!this.isOutputSelectionSupported) throw named('NotSupportedError', 'This browser does not support audio output selection');
      if (!ids.length) throw named('InvalidArgumentError', 'Must specify at least one device to set');
      if (missing.length) throw named('InvalidArgumentError', `Devices not found: ${missing.join(', ')}`);
      this.#speakers = new Set(ids.map((id) => this.availableOutputDevices.get(id)));
      await this.#device._sink(); // one AudioContext plays through one sink: the first
    },
  };

  async setInputDevice(deviceId) {
    const device = this.availableInputDevices.get(deviceId);
    if (!device) throw named('InvalidArgumentError', `Device not found: ${deviceId}`);
    // A refusal rejects with the browser's own error, as the SDK's does.
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: deviceId } } });
    this.inputDevice = device;
    const call = this.#device._call();
    if (call) call._use(stream); else stop(stream);
  }

  async unsetInputDevice() { this.inputDevice = null; }

  // On a change, 'deviceChange' with the devices in use that went away.
  async #refresh() {
    const found = (await navigator.mediaDevices?.enumerateDevices().catch(() => [])) || [];
    const [inputs, outputs] = [this.availableInputDevices, this.availableOutputDevices];
    const ids = new Set(found.map((d) => d.kind + d.deviceId));
    const lost = [this.inputDevice, ...this.#speakers].filter((d) => d && !ids.has(d.kind + d.deviceId));
    inputs.clear();
    outputs.clear();
    // (Without the microphone allowed, devices have no id yet.)
    found.forEach((d) => d.deviceId && { audioinput: inputs, audiooutput: outputs }[d.kind]?.set(d.deviceId, d));
    if (lost.includes(this.inputDevice)) this.inputDevice = null;
    lost.forEach((d) => this.#speakers.delete(d));
    // As the SDK's: no speaker chosen is the default one.
    if (!this.#speakers.size && outputs.size) this.#speakers.add(outputs.get('default') || [...outputs.values()][0]);
    if (JSON.stringify(found) !== this.#seen) this.emit('deviceChange', lost);
    this.#seen = JSON.stringify(found);
  }

  _destroy() { navigator.mediaDevices?.removeEventListener('devicechange', this._refresh); }
}
