// Web Audio for the page: playing takes (live as frames arrive, or from the start) and
// recording the microphone through an AudioWorklet into an int16 mono take.

import { FORMATS, FORMAT_INT16, newTakeId } from './wire.js';

const LIVE_LEAD = 0.08; // seconds of jitter buffer before live frames play
// Int16Array uses the platform's byte order; the wire is little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Float samples of interleaved PCM, one Float32Array per channel. */
export function toFloat(pcm, info) {
  const { channels, format } = info;
  const bytes = FORMATS[format].bytes;
  const frames = pcm.length / (channels * bytes);
  const view = new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      const at = (f * channels + c) * bytes;
      if (format === FORMAT_INT16) out[c][f] = view.getInt16(at, true) / 32768;
      else if (format === 2) out[c][f] = view.getInt32(at, true) / 2147483648;
      else out[c][f] = view.getFloat32(at, true);
    }
  }
  return out;
}

export class Audio {
  constructor() {
    this.context = null;
    this.live = new Map(); // takeId -> {next: context time, frames: frames scheduled}
    this.liveEnabled = true;
    this.recorder = null;
    this.playing = new Map(); // takeId -> sources playing it from the start
    this.onChange = () => {};
  }

  /** The AudioContext, created on first use; browsers start it suspended until a gesture. */
  ensureContext() {
    if (!this.context) this.context = new AudioContext();
    if (this.context.state === 'suspended') this.context.resume();
    return this.context;
  }

  get running() {
    return this.context !== null && this.context.state === 'running';
  }

  _buffer(take, fromFrame, toFrame) {
    const ctx = this.context;
    const fb = take.frameBytes;
    const channels = toFloat(take.bytes.subarray(fromFrame * fb, toFrame * fb), take.info);
    const buffer = ctx.createBuffer(take.info.channels, toFrame - fromFrame, take.info.sampleRate);
    channels.forEach((data, c) => buffer.copyToChannel(data, c));
    return buffer;
  }

  /** Schedule a remote take's newly arrived frames right after those already scheduled.
   * Frames that arrive while sound is off or live play is disabled are skipped, not queued:
   * enabling sound later must not play a backlog in one burst. */
  playArrived(take) {
    let state = this.live.get(take.info.takeId);
    if (!state) {
      state = { next: 0, frames: take.contiguous, played: 0 }; // joined late: from what arrives next
      this.live.set(take.info.takeId, state);
      return;
    }
    if (take.contiguous <= state.frames) return;
    if (!this.liveEnabled || !this.running) {
      state.frames = take.contiguous;
      return;
    }
    const ctx = this.context;
    const buffer = this._buffer(take, state.frames, take.contiguous);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const at = Math.max(state.next, ctx.currentTime + LIVE_LEAD);
    source.start(at);
    state.next = at + buffer.duration;
    state.played += take.contiguous - state.frames;
    state.frames = take.contiguous;
  }

  /** Frames of a take scheduled for live play so far. */
  liveFrames(takeId) {
    return this.live.get(takeId)?.played ?? 0;
  }

  /** Start watching a take for live play from its first frame. */
  follow(take) {
    if (!this.live.has(take.info.takeId)) this.live.set(take.info.takeId, { next: 0, frames: 0, played: 0 });
  }

  /** Play everything held of a take from its first frame; returns the source node. */
  playFromStart(take) {
    const ctx = this.ensureContext();
    if (take.contiguous === 0) return null;
    const source = ctx.createBufferSource();
    source.buffer = this._buffer(take, 0, take.contiguous);
    source.connect(ctx.destination);
    const id = take.info.takeId;
    this.playing.set(id, (this.playing.get(id) ?? 0) + 1);
    source.onended = () => {
      const left = this.playing.get(id) - 1;
      if (left > 0) this.playing.set(id, left);
      else this.playing.delete(id);
      this.onChange();
    };
    source.start();
    return source;
  }

  /**
   * Record the microphone into a new take of `store` owned by `owner`: onFrames is called
   * as PCM lands; it stops by itself after `maxFrames` frames (when given) or on stop().
   * Resolves to the take once capture runs.
   */
  async record(store, owner, { start = 0, maxFrames = null, onStopped = () => {} } = {}) {
    if (this.recorder) throw new Error('already recording');
    if (!LITTLE_ENDIAN) throw new Error('this browser is big-endian; vamp records little-endian PCM');
    const ctx = this.ensureContext();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    });
    await ctx.audioWorklet.addModule(new URL('capture-worklet.js', document.baseURI));
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, 'vamp-capture', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 1, channelCountMode: 'explicit' });
    const mute = ctx.createGain();
    mute.gain.value = 0; // the node must be pulled by the graph, but we do not want to hear ourselves
    source.connect(node).connect(mute).connect(ctx.destination);
    const info = { takeId: newTakeId(), owner, start, sampleRate: ctx.sampleRate, channels: 1, format: FORMAT_INT16 };
    const take = store.start(info);
    const recorder = { take, node, stream, source, mute, stopping: false, done: null };
    this.recorder = recorder;
    recorder.done = new Promise((resolve) => {
      node.port.onmessage = (event) => {
        const { pcm, frames, done } = event.data;
        if (pcm && !recorder.finished) {
          let keep = frames;
          if (maxFrames !== null) keep = Math.min(frames, maxFrames - take.contiguous);
          if (keep > 0) store.append(info.takeId, take.contiguous, new Uint8Array(pcm, 0, keep * 2));
          if (maxFrames !== null && take.contiguous >= maxFrames) this.stop();
        }
        if (done) resolve();
      };
    });
    recorder.finish = async () => {
      await recorder.done;
      recorder.finished = true;
      source.disconnect();
      node.disconnect();
      mute.disconnect();
      stream.getTracks().forEach((t) => t.stop());
      this.recorder = null;
      const digest = await store.seal(info.takeId);
      onStopped(take, digest);
    };
    return take;
  }

  /** Stop recording: the worklet flushes what it holds, then the take is sealed. */
  stop() {
    const recorder = this.recorder;
    if (!recorder || recorder.stopping) return;
    recorder.stopping = true;
    recorder.node.port.postMessage('stop');
    recorder.finish();
  }
}
