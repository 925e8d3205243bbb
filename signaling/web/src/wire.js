// The vamp data-channel wire format, written from docs/protocol.md: one binary message
// per data-channel message, byte 0 the type, integers little-endian.
// Pure: no DOM, no network. decode() throws ProtocolError for anything malformed.

export const PROTOCOL_VERSION = 1;
export const MAX_MESSAGE_BYTES = 16384;
export const CHUNK_HEADER_BYTES = 29;
export const MAX_CHUNK_PCM_BYTES = MAX_MESSAGE_BYTES - CHUNK_HEADER_BYTES;
export const HAVE_ENTRY_BYTES = 25;
export const WANT_ENTRY_BYTES = 32;
export const MAX_HAVE_ENTRIES = Math.floor((MAX_MESSAGE_BYTES - 3) / HAVE_ENTRY_BYTES);
export const MAX_WANT_ENTRIES = Math.floor((MAX_MESSAGE_BYTES - 3) / WANT_ENTRY_BYTES);
export const MAX_NAME_BYTES = 64;

export const HELLO = 0x01;
export const TAKE_START = 0x02;
export const CHUNK = 0x03;
export const TAKE_END = 0x04;
export const HAVE = 0x05;
export const WANT = 0x06;
export const BYE = 0x07;

export const FLAG_ENDED = 0x01;
export const FLAG_COMPLETE = 0x02;

/** Sample formats by wire code: bytes per sample. */
export const FORMATS = { 1: { name: 'int16', bytes: 2 }, 2: { name: 'int32', bytes: 4 }, 3: { name: 'float32', bytes: 4 } };
export const FORMAT_INT16 = 1;

export class ProtocolError extends Error {}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Frames of a take of `channels` channels in `format` that fit in one CHUNK. */
export function maxChunkFrames(frameBytes) {
  return Math.floor(MAX_CHUNK_PCM_BYTES / frameBytes);
}

export function frameBytes(info) {
  return info.channels * FORMATS[info.format].bytes;
}

export function hex(bytes) {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function unhex(text) {
  if (!/^([0-9a-f]{2})*$/.test(text)) throw new ProtocolError(`not lowercase hex: ${text}`);
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A new random take id: 32 lowercase hex digits (a version-4 UUID without dashes). */
export function newTakeId() {
  return crypto.randomUUID().replaceAll('-', '');
}

function idBytes(takeId) {
  const raw = unhex(takeId);
  if (raw.length !== 16) throw new ProtocolError('a take id is 16 bytes');
  return raw;
}

function nameBytes(name) {
  const raw = utf8.encode(name);
  if (raw.length < 1 || raw.length > MAX_NAME_BYTES) {
    throw new ProtocolError(`a name is 1-${MAX_NAME_BYTES} bytes of UTF-8`);
  }
  return raw;
}

function u64(view, offset, value) {
  view.setBigUint64(offset, BigInt(value), true);
}

function readU64(view, offset, what) {
  const value = view.getBigUint64(offset, true);
  // Frame counts beyond 2^53 (about 6000 years at 48 kHz) cannot be real; refusing them
  // keeps every position an exact JavaScript number.
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${what} out of range`);
  return Number(value);
}

function message(size) {
  const bytes = new Uint8Array(size);
  return { bytes, view: new DataView(bytes.buffer) };
}

// --- encoding -------------------------------------------------------------------------

export function encodeHello(name) {
  const raw = nameBytes(name);
  const { bytes } = message(3 + raw.length);
  bytes[0] = HELLO;
  bytes[1] = PROTOCOL_VERSION;
  bytes[2] = raw.length;
  bytes.set(raw, 3);
  return bytes;
}

/** info: {takeId, start, sampleRate, channels, format, owner} */
export function encodeTakeStart(info) {
  const raw = nameBytes(info.owner);
  const { bytes, view } = message(32 + raw.length);
  bytes[0] = TAKE_START;
  bytes.set(idBytes(info.takeId), 1);
  u64(view, 17, info.start);
  view.setUint32(25, info.sampleRate, true);
  bytes[29] = info.channels;
  bytes[30] = info.format;
  bytes[31] = raw.length;
  bytes.set(raw, 32);
  return bytes;
}

/** pcm: a Uint8Array of exactly frames x frame_bytes bytes. */
export function encodeChunk(takeId, offset, frames, pcm) {
  if (frames < 1 || pcm.length === 0 || pcm.length % frames) {
    throw new ProtocolError('chunk PCM must hold a whole, non-zero number of frames');
  }
  const { bytes, view } = message(CHUNK_HEADER_BYTES + pcm.length);
  if (bytes.length > MAX_MESSAGE_BYTES) throw new ProtocolError('chunk too large');
  bytes[0] = CHUNK;
  bytes.set(idBytes(takeId), 1);
  u64(view, 17, offset);
  view.setUint32(25, frames, true);
  bytes.set(pcm, CHUNK_HEADER_BYTES);
  return bytes;
}

export function encodeTakeEnd(takeId, length, sha256) {
  if (sha256.length !== 32) throw new ProtocolError('sha256 must be 32 bytes');
  const { bytes, view } = message(57);
  bytes[0] = TAKE_END;
  bytes.set(idBytes(takeId), 1);
  u64(view, 17, length);
  bytes.set(sha256, 25);
  return bytes;
}

/** entries: [{takeId, contiguous, flags}] (at most MAX_HAVE_ENTRIES) */
export function encodeHave(entries) {
  if (entries.length > MAX_HAVE_ENTRIES) throw new ProtocolError('too many HAVE entries');
  const { bytes, view } = message(3 + HAVE_ENTRY_BYTES * entries.length);
  bytes[0] = HAVE;
  view.setUint16(1, entries.length, true);
  entries.forEach((e, i) => {
    const at = 3 + HAVE_ENTRY_BYTES * i;
    bytes.set(idBytes(e.takeId), at);
    u64(view, at + 16, e.contiguous);
    bytes[at + 24] = e.flags;
  });
  return bytes;
}

/** entries: [{takeId, offset, frames}] (at most MAX_WANT_ENTRIES) */
export function encodeWant(entries) {
  if (entries.length > MAX_WANT_ENTRIES) throw new ProtocolError('too many WANT entries');
  const { bytes, view } = message(3 + WANT_ENTRY_BYTES * entries.length);
  bytes[0] = WANT;
  view.setUint16(1, entries.length, true);
  entries.forEach((e, i) => {
    const at = 3 + WANT_ENTRY_BYTES * i;
    bytes.set(idBytes(e.takeId), at);
    u64(view, at + 16, e.offset);
    u64(view, at + 24, e.frames);
  });
  return bytes;
}

export function encodeBye() {
  return Uint8Array.of(BYE);
}

// --- decoding -------------------------------------------------------------------------

function exact(bytes, size, what) {
  if (bytes.length !== size) throw new ProtocolError(`${what}: expected ${size} bytes, got ${bytes.length}`);
}

function atLeast(bytes, size, what) {
  if (bytes.length < size) throw new ProtocolError(`${what}: truncated (${bytes.length} bytes)`);
}

function decodeName(raw, what) {
  if (raw.length < 1 || raw.length > MAX_NAME_BYTES) throw new ProtocolError(`${what}: bad name length`);
  try {
    return utf8Strict.decode(raw);
  } catch {
    throw new ProtocolError(`${what}: name is not UTF-8`);
  }
}

/**
 * Decode one message (ArrayBuffer or Uint8Array) into {type, ...fields}.
 * Throws ProtocolError for anything that is not valid vamp wire format.
 */
export function decode(data) {
  if (typeof data === 'string') throw new ProtocolError('text message; vamp messages are binary');
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length === 0) throw new ProtocolError('empty message');
  if (bytes.length > MAX_MESSAGE_BYTES) throw new ProtocolError(`message of ${bytes.length} bytes is too long`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (bytes[0]) {
    case HELLO: {
      atLeast(bytes, 3, 'HELLO');
      exact(bytes, 3 + bytes[2], 'HELLO');
      if (bytes[1] !== PROTOCOL_VERSION) throw new ProtocolError(`HELLO: unsupported version ${bytes[1]}`);
      return { type: HELLO, name: decodeName(bytes.subarray(3), 'HELLO'), version: bytes[1] };
    }
    case TAKE_START: {
      atLeast(bytes, 32, 'TAKE_START');
      exact(bytes, 32 + bytes[31], 'TAKE_START');
      const info = {
        takeId: hex(bytes.subarray(1, 17)),
        start: readU64(view, 17, 'TAKE_START start'),
        sampleRate: view.getUint32(25, true),
        channels: bytes[29],
        format: bytes[30],
        owner: decodeName(bytes.subarray(32), 'TAKE_START'),
      };
      if (!FORMATS[info.format]) throw new ProtocolError(`TAKE_START: unknown format ${info.format}`);
      if (info.sampleRate < 1 || info.sampleRate > 768000) throw new ProtocolError('TAKE_START: bad sample rate');
      if (info.channels < 1) throw new ProtocolError('TAKE_START: no channels');
      return { type: TAKE_START, info };
    }
    case CHUNK: {
      atLeast(bytes, CHUNK_HEADER_BYTES + 1, 'CHUNK');
      const frames = view.getUint32(25, true);
      const pcm = bytes.subarray(CHUNK_HEADER_BYTES);
      if (frames < 1 || pcm.length % frames) throw new ProtocolError('CHUNK: PCM is not a whole number of frames');
      return { type: CHUNK, takeId: hex(bytes.subarray(1, 17)), offset: readU64(view, 17, 'CHUNK offset'), frames, pcm };
    }
    case TAKE_END: {
      exact(bytes, 57, 'TAKE_END');
      return { type: TAKE_END, takeId: hex(bytes.subarray(1, 17)), length: readU64(view, 17, 'TAKE_END length'), sha256: bytes.slice(25, 57) };
    }
    case HAVE: {
      atLeast(bytes, 3, 'HAVE');
      const count = view.getUint16(1, true);
      exact(bytes, 3 + HAVE_ENTRY_BYTES * count, 'HAVE');
      const entries = [];
      for (let i = 0; i < count; i++) {
        const at = 3 + HAVE_ENTRY_BYTES * i;
        const flags = bytes[at + 24];
        if (flags & ~(FLAG_ENDED | FLAG_COMPLETE)) throw new ProtocolError(`HAVE: unknown flags ${flags}`);
        entries.push({ takeId: hex(bytes.subarray(at, at + 16)), contiguous: readU64(view, at + 16, 'HAVE contiguous'), flags });
      }
      return { type: HAVE, entries };
    }
    case WANT: {
      atLeast(bytes, 3, 'WANT');
      const count = view.getUint16(1, true);
      exact(bytes, 3 + WANT_ENTRY_BYTES * count, 'WANT');
      const entries = [];
      for (let i = 0; i < count; i++) {
        const at = 3 + WANT_ENTRY_BYTES * i;
        entries.push({
          takeId: hex(bytes.subarray(at, at + 16)),
          offset: readU64(view, at + 16, 'WANT offset'),
          // "Everything from here on" may be spelled with any huge count: clamp, never refuse.
          frames: Number(view.getBigUint64(at + 24, true) > BigInt(Number.MAX_SAFE_INTEGER)
            ? Number.MAX_SAFE_INTEGER : view.getBigUint64(at + 24, true)),
        });
      }
      return { type: WANT, entries };
    }
    case BYE:
      exact(bytes, 1, 'BYE');
      return { type: BYE };
    default:
      throw new ProtocolError(`unknown message type 0x${bytes[0].toString(16).padStart(2, '0')}`);
  }
}
