// Encodes the messages described on stdin (JSON) with the page's wire.js and prints their
// hex; then decodes each given hex and prints it re-encoded. Lets Python compare the page's
// wire code with vamp_cli/core/wire.py byte for byte.
import * as wire from '../../signaling/web/src/wire.js';

const input = JSON.parse(await new Promise((resolve) => {
  let text = '';
  process.stdin.on('data', (d) => { text += d; });
  process.stdin.on('end', () => resolve(text));
}));

function encode(m) {
  switch (m.kind) {
    case 'hello': return wire.encodeHello(m.name);
    case 'take_start': return wire.encodeTakeStart(m.info);
    case 'chunk': return wire.encodeChunk(m.takeId, m.offset, m.frames, wire.unhex(m.pcm));
    case 'take_end': return wire.encodeTakeEnd(m.takeId, m.length, wire.unhex(m.sha256));
    case 'have': return wire.encodeHave(m.entries);
    case 'want': return wire.encodeWant(m.entries);
    case 'bye': return wire.encodeBye();
    default: throw new Error(m.kind);
  }
}

function reencode(msg) {
  switch (msg.type) {
    case wire.HELLO: return wire.encodeHello(msg.name);
    case wire.TAKE_START: return wire.encodeTakeStart(msg.info);
    case wire.CHUNK: return wire.encodeChunk(msg.takeId, msg.offset, msg.frames, msg.pcm);
    case wire.TAKE_END: return wire.encodeTakeEnd(msg.takeId, msg.length, msg.sha256);
    case wire.HAVE: return wire.encodeHave(msg.entries);
    case wire.WANT: return wire.encodeWant(msg.entries);
    case wire.BYE: return wire.encodeBye();
    default: throw new Error(String(msg.type));
  }
}

const rejected = input.junk.map((h) => {
  try { wire.decode(wire.unhex(h)); return false; } catch (e) { return e instanceof wire.ProtocolError; }
});
console.log(JSON.stringify({
  encoded: input.messages.map((m) => wire.hex(encode(m))),
  decoded: input.python.map((h) => wire.hex(reencode(wire.decode(wire.unhex(h))))),
  rejected,
}));
