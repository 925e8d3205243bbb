// The page's mesh: Socket.IO signaling (the original Vamp events) and one simple-peer
// connection with one data channel per remote, as the original Vamp client did: the
// newcomer initiates to every id in `all users`, members answer `user joined` signals.

import { io } from 'socket.io-client';
import SimplePeer from 'simple-peer';

const HIGH_WATER = 1 << 20; // bytes queued on a channel above which we wait for it to drain
const LOW_WATER = 256 << 10;
const DUPLICATE = 'vamp-duplicate'; // a CLI member's reply: "that link of ours still works"
const NAME_TAKEN = 'vamp-name-taken'; // a member's reply: "that is my name" (takes are owned by name)

/** One remote peer: its simple-peer connection and our pump towards it. */
class Link {
  constructor(mesh, id, initiator) {
    this.mesh = mesh;
    this.id = id; // the remote's current socket id
    this.initiator = initiator;
    this.name = null;
    this.session = null;
    this.state = 'connecting'; // connecting | open | closed
    this.saidBye = false;
    this.received = 0; // messages, for the page's state
    this.peer = new SimplePeer({
      initiator,
      trickle: mesh.options.trickle,
      config: { iceServers: mesh.iceServers },
      channelConfig: { ordered: true },
    });
    this.peer.on('signal', (signal) => mesh._sendSignal(this, signal));
    this.peer.on('connect', () => this._opened());
    this.peer.on('data', (data) => {
      // simple-peer says 'connect' only once ICE reports connected too, but the channel
      // can deliver the remote's greeting before that: the channel being open is enough.
      if (this.state === 'connecting') this._opened();
      this.received += 1;
      mesh.sync.receive(this, data);
      this.pump(); // a HAVE or WANT may have made something due
      mesh._changed();
    });
    this.peer.on('close', () => this._closed('close'));
    this.peer.on('error', (err) => this._closed(err.code || err.message));
  }

  get channel() {
    return this.peer._channel; // simple-peer's RTCDataChannel: we need bufferedAmount
  }

  _opened() {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    const channel = this.channel;
    channel.bufferedAmountLowThreshold = LOW_WATER;
    channel.addEventListener('bufferedamountlow', () => this.pump());
    this.mesh.sync.addPeer(this);
    this.mesh._changed();
    this.pump();
  }

  /** Send what this remote lacks until the channel holds HIGH_WATER bytes; the next
   * store change or `bufferedamountlow` calls us again. */
  pump() {
    if (this.state !== 'open') return;
    const channel = this.channel;
    try {
      while (channel.readyState === 'open' && channel.bufferedAmount < HIGH_WATER) {
        const messages = this.mesh.sync.outgoing(this);
        if (!messages.length) break;
        for (const message of messages) channel.send(message);
      }
    } catch (err) {
      this._closed(`send failed: ${err.message}`);
    }
  }

  _closed(why) {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.mesh._linkClosed(this, wasOpen, why);
  }

  /** Leave on purpose: BYE, then close the channel (a clean close on the far side). */
  leave() {
    if (this.state === 'open') {
      this.mesh.sync.outgoing(this, 1e9).forEach((m) => this.channel.send(m));
      this.channel.close();
    }
  }

  destroy() {
    this.state = 'closed';
    this.peer.destroy();
  }
}

export class Mesh {
  /**
   * options: {url, vamp, name, token, trickle}; onEvent(text) reports joins, leaves and
   * problems; onChange() is called whenever state a user sees may have changed.
   */
  constructor(sync, options, { onEvent, onChange }) {
    this.sync = sync;
    this.options = options;
    this.onEvent = onEvent;
    this.onChange = onChange;
    this.session = crypto.randomUUID().replaceAll('-', '');
    this.iceServers = [];
    this.links = new Map(); // socket id -> Link
    this.status = 'connecting';
    this.error = null;
    this.leaving = false;
    sync.onEvent = (event) => this._syncEvent(event);
    sync.store.subscribe(() => this.wakeAll());
    this.socket = io(options.url, {
      transports: ['websocket'],
      auth: options.token ? { token: options.token } : undefined,
      reconnectionDelay: 200,
      reconnectionDelayMax: 2000,
    });
    this._listen();
  }

  get links_() {
    return [...this.links.values()];
  }

  wakeAll() {
    for (const link of this.links.values()) link.pump();
  }

  _listen() {
    const s = this.socket;
    s.on('connect', () => {
      this.status = 'joining';
      s.emit('join vamp', this.options.vamp);
      this._changed();
    });
    s.on('disconnect', () => {
      if (!this.leaving) this.status = 'reconnecting';
      this._changed();
    });
    s.on('connect_error', (err) => {
      this.status = 'unreachable';
      this.error = `cannot reach the signaling server: ${err.message}`;
      this._changed();
    });
    s.on('ice servers', (servers) => {
      if (Array.isArray(servers)) this.iceServers = servers;
    });
    s.on('all users', (ids) => {
      this.status = 'joined';
      this.error = null;
      for (const id of Array.isArray(ids) ? ids : []) {
        if (!this.links.has(id)) this._addLink(id, true);
      }
      this._changed();
    });
    s.on('user joined', ({ signal, callerID } = {}) => {
      if (typeof callerID !== 'string' || !signal) return;
      let link = this.links.get(callerID);
      if (!link) {
        if (signal.type === 'offer' && signal.vamp && signal.vamp.name === this.sync.name) {
          this.socket.emit('returning signal', { signal: { type: NAME_TAKEN, vamp: this._meta() }, callerID });
          this.onEvent(`refused a peer that tried to join as ${signal.vamp.name}, our own name`);
          return;
        }
        if (signal.type === 'offer' && this._isDuplicate(signal, callerID)) return;
        link = this._addLink(callerID, false);
      }
      this._applySignal(link, signal);
    });
    s.on('receiving returned signal', ({ signal, id } = {}) => {
      const link = this.links.get(id);
      if (!signal) return;
      if (signal.type === NAME_TAKEN) {
        this.leave();
        this.status = 'refused';
        this.error = `the name ${this.sync.name} is already used in this vamp; reload with &name=another`;
        this._changed();
        return;
      }
      if (signal.type === DUPLICATE) {
        // Our offer duplicated a link that still works (we reconnected to signaling): keep
        // that link under the member's new socket id.
        if (link) { this.links.delete(id); link.destroy(); }
        this._remap(signal.vamp, id);
        return;
      }
      if (link) this._applySignal(link, signal);
    });
    s.on('user left', (id) => {
      const link = this.links.get(id);
      if (link) {
        link.destroy();
        this._linkClosed(link, true, 'left the vamp');
      }
    });
    s.on('room full', ({ vamp, maxPeers } = {}) => {
      this.status = 'refused';
      this.error = `vamp ${vamp} is full (${maxPeers} peers); try another vamp name`;
      this._changed();
    });
    s.on('vamp error', ({ code, message } = {}) => {
      this.error = `the signaling server refused a request (${code}): ${message}`;
      if (code === 'unauthorized') this.status = 'refused';
      this._changed();
    });
  }

  _addLink(id, initiator) {
    const link = new Link(this, id, initiator);
    this.links.set(id, link);
    this._changed();
    return link;
  }

  _applySignal(link, signal) {
    const meta = signal.vamp;
    if (meta && typeof meta.name === 'string' && !link.name) {
      link.name = meta.name;
      link.session = meta.session;
    }
    // simple-peer only wants its own fields; 'vamp' is our addition.
    const { vamp: _meta, ...plain } = signal;
    if (['offer', 'answer', 'candidate', 'renegotiate', 'transceiverRequest'].includes(plain.type) || plain.candidate) {
      link.peer.signal(plain);
    }
  }

  _isDuplicate(signal, callerID) {
    const meta = signal.vamp;
    if (!meta || typeof meta.name !== 'string') return false;
    const existing = this.links_.find((l) => l.name === meta.name && l.state !== 'closed');
    if (existing && existing.session === meta.session && existing.state === 'open') {
      this._remap(meta, callerID);
      this.socket.emit('returning signal', { signal: { type: DUPLICATE, vamp: this._meta() }, callerID });
      return true;
    }
    if (existing) {
      // Same name, new session: the peer restarted; its old link is dead.
      existing.destroy();
      this._linkClosed(existing, false, 'reconnected');
    }
    return false;
  }

  _remap(meta, id) {
    if (!meta) return;
    const link = this.links_.find((l) => l.name === meta.name && l.session === meta.session);
    if (link && link.id !== id) {
      this.links.delete(link.id);
      link.id = id;
      this.links.set(id, link);
    }
  }

  _meta() {
    return { name: this.sync.name, session: this.session };
  }

  _sendSignal(link, signal) {
    // Offers and answers carry who we are, so a CLI member can tell a reconnect from a duplicate.
    const payload = signal.type === 'offer' || signal.type === 'answer' ? { ...signal, vamp: this._meta() } : signal;
    if (link.initiator) {
      this.socket.emit('sending signal', { userToSignal: link.id, callerID: this.socket.id, signal: payload });
    } else {
      this.socket.emit('returning signal', { signal: payload, callerID: link.id });
    }
  }

  _syncEvent(event) {
    const link = event.key;
    switch (event.kind) {
      case 'greeted':
        if (link) link.name = event.name;
        this.onEvent(`${event.name} joined`);
        break;
      case 'bye':
        if (link) link.saidBye = true;
        break;
      case 'confirmed':
        this.onEvent(`${event.name} holds your take ${event.takeId.slice(0, 8)} complete`);
        break;
      case 'misbehaved':
        this.onEvent(`dropped a bad message from ${event.name || 'a peer'}: ${event.reason}`);
        break;
      case 'corrupt':
        this.onEvent(`take ${event.takeId.slice(0, 8)} failed its SHA-256 check`);
        break;
      default:
        break;
    }
    this._changed();
  }

  _linkClosed(link, wasOpen, why) {
    if (this.links.get(link.id) === link) this.links.delete(link.id);
    this.sync.removePeer(link);
    if (wasOpen && !this.leaving) {
      const who = link.name || link.id;
      this.onEvent(link.saidBye ? `${who} left` : `${who} left (${why})`);
    }
    link.state = 'closed';
    this._changed();
  }

  _changed() {
    this.onChange();
  }

  /** Leave gracefully (the tab is closing): BYE and a clean close on every channel, leave
   * the signaling vamp, then close the connections. Synchronous, for pagehide. */
  leave() {
    if (this.leaving) return;
    this.leaving = true;
    this.status = 'left';
    this.sync.sayBye();
    const links = this.links_;
    for (const link of links) link.leave();
    if (this.socket.connected) this.socket.emit('leave vamp');
    for (const link of links) link.destroy();
    this.socket.disconnect();
    this._changed();
  }
}
