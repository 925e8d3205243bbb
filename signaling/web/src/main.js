// The vamp web page: join `?vamp=NAME[&name=N][&token=T][&trickle=0|1]`, show every peer
// and take, play takes, record the microphone. State for people is the page; state for
// scripts and tests is window.vampState (a fresh snapshot on every read) and window.vamp.

import { Audio } from './audio.js';
import { Mesh } from './mesh.js';
import { Sync } from './sync.js';
import { TakeStore } from './takes.js';
import { ui } from './ui.js';

const params = new URLSearchParams(location.search);
const vamp = params.get('vamp');

function defaultName() {
  return `web-${crypto.randomUUID().slice(0, 6)}`;
}

function start() {
  if (!vamp) {
    ui.showLobby();
    return;
  }
  const name = (params.get('name') || defaultName()).slice(0, 64);
  const options = {
    url: location.origin,
    vamp,
    name,
    token: params.get('token'),
    trickle: params.get('trickle') !== '0',
  };
  const store = new TakeStore();
  const sync = new Sync(store, name);
  const audio = new Audio();
  const log = [];
  const event = (text) => {
    log.push({ time: Date.now(), text });
    if (log.length > 200) log.shift();
    ui.schedule();
  };
  const mesh = new Mesh(sync, options, { onEvent: event, onChange: () => ui.schedule() });
  // Live monitoring needs a running AudioContext; without a user gesture the browser keeps
  // it suspended and the page offers an "Enable sound" button.
  audio.ensureContext();
  audio.onChange = () => ui.schedule();

  store.subscribe((takeId, what) => {
    const take = store.get(takeId);
    ui.schedule();
    if (take.info.owner === name) return;
    if (what === 'started') {
      audio.follow(take);
      event(`${take.info.owner}'s take ${takeId.slice(0, 8)} is arriving`);
    }
    if (what === 'frames') audio.playArrived(take);
    if (what === 'complete') event(`${take.info.owner}'s take ${takeId.slice(0, 8)} complete, SHA-256 verified`);
  });

  const api = {
    /** Record from the microphone; stops by itself after `seconds` (when given). */
    async record(seconds = null) {
      const ctx = audio.ensureContext();
      const maxFrames = seconds ? Math.round(seconds * ctx.sampleRate) : null;
      const take = await audio.record(store, name, {
        maxFrames,
        onStopped: (t) => event(`recorded take ${t.info.takeId.slice(0, 8)}: ${(t.length / t.info.sampleRate).toFixed(2)} s`),
      });
      event(`recording take ${take.info.takeId.slice(0, 8)}`);
      ui.schedule();
      return take.info.takeId;
    },
    stop: () => audio.stop(),
    play: (takeId) => {
      audio.playFromStart(store.get(takeId));
      ui.schedule();
    },
    enableSound: () => audio.ensureContext(),
    setLive: (on) => { audio.liveEnabled = on; },
    /** SHA-256 (hex) of the PCM this page holds for a take, hashed afresh. */
    async pcmSha256(takeId) {
      const take = store.get(takeId);
      const digest = await crypto.subtle.digest('SHA-256', take.pcm(take.length ?? take.contiguous));
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    },
    leave: () => mesh.leave(),
  };

  const state = () => ({
    vamp,
    name,
    trickle: options.trickle,
    status: mesh.status,
    error: mesh.error,
    socketId: mesh.socket.id ?? null,
    sound: audio.running ? 'on' : 'off',
    recording: audio.recorder ? audio.recorder.take.info.takeId : null,
    peers: [...mesh.links.values()].map((l) => ({ id: l.id, name: l.name, state: l.state, received: l.received })),
    takes: store.all().map((t) => ({
      takeId: t.info.takeId,
      owner: t.info.owner,
      own: t.info.owner === name,
      start: t.info.start,
      sampleRate: t.info.sampleRate,
      channels: t.info.channels,
      frames: t.contiguous,
      length: t.length,
      complete: t.status === 'complete',
      status: t.status,
      sha256: t.sha256,
      liveFrames: audio.liveFrames(t.info.takeId),
      playing: audio.playing.has(t.info.takeId),
      confirmedBy: t.info.owner === name ? sync.confirmedBy(t.info.takeId) : [],
    })),
    log: log.map((l) => l.text),
  });
  Object.defineProperty(window, 'vampState', { get: state, configurable: true });
  window.vamp = api;

  // Leave on purpose when the tab goes away, so peers log a clean leave rather than a
  // connection lost ~30 s later.
  addEventListener('pagehide', () => mesh.leave());
  addEventListener('beforeunload', () => mesh.leave());

  ui.mount({ state, api });
}

start();
