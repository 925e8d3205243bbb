// A vamp peer as the original web client talks: socket.io-client 4, events with spaces.
// usage: node signal_peer.mjs <server url> <vamp>
// Joins <vamp>; offers to every member in `all users`; prints every event it gets as one
// JSON line on stdout; exits 0 after its offer is answered and the member has left.
import { io } from "socket.io-client";

const [url, vamp] = process.argv.slice(2);
const say = (event, payload) => console.log(JSON.stringify({ event, payload }));
const socket = io(url, { reconnection: false }); // default transports: polling, then websocket
const fail = (why) => { console.error(why); process.exit(1); };
setTimeout(() => fail("timed out"), 15000).unref();

socket.on("connect", () => {
  say("connect", socket.id);
  socket.emit("join vamp", vamp);
});
socket.on("connect_error", (err) => fail(`connect_error: ${err.message}`));
socket.on("ice servers", (servers) => say("ice servers", servers));
socket.on("vamp error", (error) => say("vamp error", error));
socket.on("all users", (users) => {
  say("all users", users);
  for (const id of users) {
    socket.emit("sending signal", {
      userToSignal: id, callerID: socket.id, signal: { type: "offer", sdp: "js-offer" },
    });
  }
});
socket.on("user joined", ({ signal, callerID }) => {
  say("user joined", { signal, callerID });
  socket.emit("returning signal", { signal: { type: "answer", sdp: "js-answer" }, callerID });
});
socket.on("receiving returned signal", (payload) => say("receiving returned signal", payload));
socket.on("user left", (id) => {
  say("user left", id);
  socket.disconnect();
  process.exit(0);
});
