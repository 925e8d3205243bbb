// The page's take store: every take's PCM in memory, appended idempotently by offset.
// Pure apart from crypto.subtle (SHA-256); no DOM, no network.

import { frameBytes, hex } from './wire.js';

export class TakeError extends Error {}

/** One take: its announced info and the frames held so far. */
export class Take {
  constructor(info) {
    this.info = info; // {takeId, owner, start, sampleRate, channels, format}
    this.frameBytes = frameBytes(info);
    this.bytes = new Uint8Array(this.frameBytes * Math.max(1, info.sampleRate)); // grows by doubling
    this.contiguous = 0; // frames held without a gap from frame 0
    this.pending = new Map(); // offset -> pcm, frames beyond a gap (only seen with WANT from several peers)
    this.length = null; // final length in frames, once TAKE_END (or our own stop) says so
    this.announcedSha256 = null; // Uint8Array(32) from TAKE_END
    this.sha256 = null; // hex of what we hashed ourselves
    this.status = 'incomplete'; // incomplete | complete | corrupt
    this.hashing = false;
  }

  get ended() {
    return this.length !== null;
  }

  /** The PCM of frames [0, frames) as a view (no copy). */
  pcm(frames = this.contiguous) {
    return this.bytes.subarray(0, Math.min(frames, this.contiguous) * this.frameBytes);
  }

  _ensure(byteLength) {
    if (byteLength <= this.bytes.length) return;
    let size = this.bytes.length;
    while (size < byteLength) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.contiguous * this.frameBytes));
    this.bytes = grown;
  }

  /**
   * Append `pcm` (a whole number of frames) at frame `offset`. Frames already held are
   * ignored when identical and refused (TakeError) when different; returns how many new
   * contiguous frames this made available.
   */
  append(offset, pcm) {
    if (pcm.length === 0 || pcm.length % this.frameBytes) {
      throw new TakeError(`chunk of ${pcm.length} bytes is not whole frames of ${this.frameBytes} bytes`);
    }
    const frames = pcm.length / this.frameBytes;
    if (this.length !== null && offset + frames > this.length) {
      throw new TakeError(`chunk beyond the end of take ${this.info.takeId.slice(0, 8)}`);
    }
    if (offset > this.contiguous) {
      this.pending.set(offset, pcm.slice());
      return 0;
    }
    const before = this.contiguous;
    this._appendContiguous(offset, pcm);
    // Frames that were waiting behind a gap may now follow on.
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const [at, waiting] of this.pending) {
        if (at <= this.contiguous) {
          this.pending.delete(at);
          this._appendContiguous(at, waiting);
          progressed = true;
        }
      }
    }
    return this.contiguous - before;
  }

  _appendContiguous(offset, pcm) {
    const fb = this.frameBytes;
    const overlapFrames = Math.min(this.contiguous - offset, pcm.length / fb);
    const held = this.bytes.subarray(offset * fb, (offset + overlapFrames) * fb);
    const again = pcm.subarray(0, overlapFrames * fb);
    for (let i = 0; i < held.length; i++) {
      if (held[i] !== again[i]) {
        throw new TakeError(`frames of take ${this.info.takeId.slice(0, 8)} at ${offset} differ from those held`);
      }
    }
    const fresh = pcm.subarray(overlapFrames * fb);
    if (fresh.length === 0) return;
    this._ensure((this.contiguous * fb) + fresh.length);
    this.bytes.set(fresh, this.contiguous * fb);
    this.contiguous += fresh.length / fb;
  }
}

/** All takes the page holds, by id, with change listeners. */
export class TakeStore {
  constructor() {
    this.takes = new Map();
    this._listeners = new Set();
  }

  /** Call fn(takeId, what) on every change; returns an unsubscribe function. */
  subscribe(fn) {
    this._listeners.add(fn);
    return () => this._listeners.delete(fn);
  }

  _changed(takeId, what) {
    for (const fn of this._listeners) fn(takeId, what);
  }

  get(takeId) {
    return this.takes.get(takeId);
  }

  all() {
    return [...this.takes.values()];
  }

  /** Add a take; the same info twice is harmless, a contradicting one is refused. */
  start(info) {
    const known = this.takes.get(info.takeId);
    if (known) {
      const a = known.info;
      if (a.owner !== info.owner || a.start !== info.start || a.sampleRate !== info.sampleRate
          || a.channels !== info.channels || a.format !== info.format) {
        throw new TakeError(`TAKE_START contradicts take ${info.takeId.slice(0, 8)} already known`);
      }
      return known;
    }
    const take = new Take(info);
    this.takes.set(info.takeId, take);
    this._changed(info.takeId, 'started');
    return take;
  }

  append(takeId, offset, pcm) {
    const take = this._take(takeId);
    const added = take.append(offset, pcm);
    if (added) this._changed(takeId, 'frames');
    this._maybeVerify(take);
    return added;
  }

  /** A remote's TAKE_END: the final length and the hash to check against. */
  end(takeId, length, sha256) {
    const take = this._take(takeId);
    if (take.length !== null) {
      if (take.length !== length || hex(take.announcedSha256) !== hex(sha256)) {
        throw new TakeError(`TAKE_END contradicts the end of take ${takeId.slice(0, 8)} already known`);
      }
      return;
    }
    if (take.contiguous > length) throw new TakeError(`TAKE_END of take ${takeId.slice(0, 8)} shorter than held`);
    take.length = length;
    take.announcedSha256 = sha256;
    this._changed(takeId, 'ended');
    this._maybeVerify(take);
  }

  /** End one of our own takes at what it holds; resolves to the SHA-256 we computed. */
  async seal(takeId) {
    const take = this._take(takeId);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', take.pcm()));
    take.length = take.contiguous;
    take.announcedSha256 = digest;
    take.sha256 = hex(digest);
    take.status = 'complete';
    this._changed(takeId, 'ended');
    this._changed(takeId, 'complete');
    return digest;
  }

  _take(takeId) {
    const take = this.takes.get(takeId);
    if (!take) throw new TakeError(`unknown take ${takeId.slice(0, 8)}`);
    return take;
  }

  async _maybeVerify(take) {
    if (take.status !== 'incomplete' || take.hashing || take.length === null || take.contiguous < take.length) return;
    take.hashing = true;
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', take.pcm(take.length)));
    take.hashing = false;
    take.sha256 = hex(digest);
    take.status = take.sha256 === hex(take.announcedSha256) ? 'complete' : 'corrupt';
    this._changed(take.info.takeId, take.status);
  }
}
