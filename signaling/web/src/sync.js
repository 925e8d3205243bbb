// The conversation rules of docs/protocol.md ("The conversation"), for one local peer and
// all its remotes: what each remote lacks and what to send it next. Pure: it reads and
// writes the TakeStore and returns encoded messages; the mesh sends them.
// A port of vamp_cli/core/sync.py, so the page and the CLI follow the same rules.

import * as wire from './wire.js';

/** "Everything from offset on", as the CLI spells it. */
export const WANT_REST = 2 ** 40;

class Remote {
  constructor(key) {
    this.key = key;
    this.name = null;
    this.greeted = false; // their first HAVE arrived: push cursors are set from it
    this.control = []; // encoded messages due before any chunk
    this.sending = new Map(); // takeId -> {cursor, limit}
    this.holdings = new Map(); // takeId -> frames they hold contiguously (their word)
    this.confirmed = new Set(); // our takes they hold complete
    this.announced = new Set(); // takes we sent TAKE_START for
    this.endsSent = new Set();
  }
}

export class Sync {
  /** onEvent({kind, key, name, takeId, reason}) reports what a user should see. */
  constructor(store, name, onEvent = () => {}) {
    this.store = store;
    this.name = name;
    this.remotes = new Map();
    this.requestedFrom = new Map(); // takeId -> remote key serving our WANT
    this.onEvent = onEvent;
    this._status = new Map();
    store.subscribe((takeId, what) => this._onStoreChange(takeId, what));
  }

  /** A channel to a new remote is open: queue our greeting. */
  addPeer(key) {
    const remote = new Remote(key);
    this.remotes.set(key, remote);
    remote.control.push(wire.encodeHello(this.name));
    for (const take of this.store.all()) this._announce(remote, take);
    remote.control.push(...this._haveMessages());
  }

  removePeer(key) {
    this.remotes.delete(key);
    for (const [takeId, source] of this.requestedFrom) {
      if (source === key) this.requestedFrom.delete(takeId);
    }
    this._plan();
  }

  confirmedBy(takeId) {
    return [...this.remotes.values()].filter((r) => r.confirmed.has(takeId)).map((r) => r.name);
  }

  /** Apply one raw message from `key`; refused content is reported, never thrown. */
  receive(key, data) {
    const remote = this.remotes.get(key);
    if (!remote) return;
    try {
      this._receive(remote, wire.decode(data));
    } catch (err) {
      this.onEvent({ kind: 'misbehaved', key, name: remote.name, reason: err.message });
    }
  }

  _receive(remote, msg) {
    switch (msg.type) {
      case wire.HELLO:
        remote.name = msg.name;
        this.onEvent({ kind: 'greeted', key: remote.key, name: msg.name });
        this._plan();
        break;
      case wire.TAKE_START: {
        const known = this.store.get(msg.info.takeId) !== undefined;
        this.store.start(msg.info);
        if (!remote.holdings.has(msg.info.takeId)) remote.holdings.set(msg.info.takeId, 0);
        if (!known) this.onEvent({ kind: 'take-announced', key: remote.key, name: remote.name, takeId: msg.info.takeId });
        this._plan();
        break;
      }
      case wire.CHUNK: {
        const take = this.store.get(msg.takeId);
        if (!take) throw new Error(`chunk for unknown take ${msg.takeId.slice(0, 8)}`);
        if (msg.pcm.length !== msg.frames * take.frameBytes) {
          throw new Error(`chunk of take ${msg.takeId.slice(0, 8)} has ${msg.pcm.length} bytes for ${msg.frames} frames`);
        }
        const end = msg.offset + msg.frames;
        if (end > (remote.holdings.get(msg.takeId) ?? 0)) remote.holdings.set(msg.takeId, end);
        this.store.append(msg.takeId, msg.offset, msg.pcm);
        break;
      }
      case wire.TAKE_END:
        if (!this.store.get(msg.takeId)) throw new Error(`end of unknown take ${msg.takeId.slice(0, 8)}`);
        this.store.end(msg.takeId, msg.length, msg.sha256);
        break;
      case wire.HAVE:
        this._receiveHave(remote, msg.entries);
        break;
      case wire.WANT:
        for (const entry of msg.entries) this._receiveWant(remote, entry);
        break;
      case wire.BYE:
        this.onEvent({ kind: 'bye', key: remote.key, name: remote.name });
        break;
      default:
        break;
    }
  }

  _receiveHave(remote, entries) {
    const theirs = new Map(entries.map((e) => [e.takeId, e]));
    for (const e of entries) {
      remote.holdings.set(e.takeId, Math.max(remote.holdings.get(e.takeId) ?? 0, e.contiguous));
      const take = this.store.get(e.takeId);
      if ((e.flags & wire.FLAG_COMPLETE) && take && take.info.owner === this.name && !remote.confirmed.has(e.takeId)) {
        remote.confirmed.add(e.takeId);
        this.onEvent({ kind: 'confirmed', key: remote.key, name: remote.name, takeId: e.takeId });
      }
    }
    if (!remote.greeted) {
      // Their first HAVE: push each of our own takes from where they stand.
      remote.greeted = true;
      for (const take of this.store.all()) {
        if (take.info.owner !== this.name) continue;
        const held = theirs.get(take.info.takeId);
        if (held && (held.flags & wire.FLAG_COMPLETE)) continue;
        this._sendFrom(remote, take, held ? held.contiguous : 0, WANT_REST);
      }
    }
    this._plan();
  }

  _receiveWant(remote, entry) {
    const take = this.store.get(entry.takeId);
    if (!take) throw new Error(`WANT for unknown take ${entry.takeId.slice(0, 8)}`);
    if (entry.frames === 0) {
      remote.sending.delete(entry.takeId);
      return;
    }
    this._sendFrom(remote, take, entry.offset, entry.offset + entry.frames);
  }

  /** Up to `max` encoded messages due to `key` now: control first, then chunks, taking turns between takes. */
  outgoing(key, max = 16) {
    const remote = this.remotes.get(key);
    if (!remote) return [];
    const out = remote.control.splice(0, max);
    while (out.length < max && remote.sending.size) {
      let progressed = false;
      for (const takeId of [...remote.sending.keys()]) {
        if (out.length >= max) break;
        const message = this._nextOfTake(remote, takeId);
        if (message) {
          out.push(message);
          progressed = true;
        }
      }
      if (!progressed) break;
    }
    return out;
  }

  _nextOfTake(remote, takeId) {
    const take = this.store.get(takeId);
    const range = remote.sending.get(takeId);
    if (!take || !range) {
      remote.sending.delete(takeId);
      return null;
    }
    let available = Math.min(range.limit, take.contiguous);
    if (take.length !== null) available = Math.min(available, take.length);
    if (range.cursor < available) {
      const frames = Math.min(available - range.cursor, wire.maxChunkFrames(take.frameBytes));
      const fb = take.frameBytes;
      const pcm = take.bytes.subarray(range.cursor * fb, (range.cursor + frames) * fb);
      const message = wire.encodeChunk(takeId, range.cursor, frames, pcm);
      range.cursor += frames;
      return message;
    }
    const finished = range.cursor >= range.limit || (take.length !== null && range.cursor >= take.length);
    if (finished) {
      remote.sending.delete(takeId);
      if (take.length !== null && take.announcedSha256 && !remote.endsSent.has(takeId)) {
        remote.endsSent.add(takeId);
        return wire.encodeTakeEnd(takeId, take.length, take.announcedSha256);
      }
    }
    return null;
  }

  /** Queue BYE to every remote, after whatever control is already queued. */
  sayBye() {
    for (const remote of this.remotes.values()) remote.control.push(wire.encodeBye());
  }

  _sendFrom(remote, take, cursor, limit) {
    this._announce(remote, take);
    const existing = remote.sending.get(take.info.takeId);
    if (existing) {
      existing.cursor = Math.min(existing.cursor, cursor);
      existing.limit = Math.max(existing.limit, limit);
    } else {
      remote.sending.set(take.info.takeId, { cursor, limit });
    }
    remote.endsSent.delete(take.info.takeId);
  }

  _announce(remote, take) {
    if (remote.announced.has(take.info.takeId)) return;
    remote.announced.add(take.info.takeId);
    remote.control.push(wire.encodeTakeStart(take.info));
  }

  _haveEntry(take) {
    let flags = 0;
    if (take.ended) flags |= wire.FLAG_ENDED;
    if (take.status === 'complete') flags |= wire.FLAG_COMPLETE;
    return { takeId: take.info.takeId, contiguous: take.contiguous, flags };
  }

  _haveMessages() {
    const entries = this.store.all().map((t) => this._haveEntry(t));
    const out = [];
    for (let i = 0; i < Math.max(entries.length, 1); i += wire.MAX_HAVE_ENTRIES) {
      out.push(wire.encodeHave(entries.slice(i, i + wire.MAX_HAVE_ENTRIES)));
    }
    return out;
  }

  _onStoreChange(takeId, what) {
    const take = this.store.get(takeId);
    if (!take) return;
    const own = take.info.owner === this.name;
    if (own && what === 'started') {
      // A take we are recording: every greeted remote gets it pushed from frame 0.
      for (const remote of this.remotes.values()) {
        if (remote.greeted) this._sendFrom(remote, take, 0, WANT_REST);
        else this._announce(remote, take);
      }
      return;
    }
    if (own) return;
    if (what === 'complete') {
      this.requestedFrom.delete(takeId);
      const have = wire.encodeHave([this._haveEntry(take)]);
      for (const remote of this.remotes.values()) remote.control.push(have);
      this.onEvent({ kind: 'complete', takeId });
    } else if (what === 'corrupt') {
      this.onEvent({ kind: 'corrupt', takeId });
    }
  }

  /** Ask for takes whose owner is not connected from the remote that holds the most. */
  _plan() {
    const connected = new Set([...this.remotes.values()].map((r) => r.name).filter(Boolean));
    for (const take of this.store.all()) {
      const takeId = take.info.takeId;
      if (take.status === 'complete' || take.info.owner === this.name) continue;
      if (connected.has(take.info.owner) || this.requestedFrom.has(takeId)) continue;
      let best = null;
      for (const remote of this.remotes.values()) {
        const held = remote.holdings.get(takeId);
        if (held === undefined || !remote.greeted) continue;
        if (!best || held > (best.holdings.get(takeId) ?? 0)) best = remote;
      }
      if (!best) continue;
      const end = take.length !== null ? take.length : take.contiguous + WANT_REST;
      best.control.push(wire.encodeWant([{ takeId, offset: take.contiguous, frames: end - take.contiguous }]));
      this.requestedFrom.set(takeId, best.key);
    }
  }
}
