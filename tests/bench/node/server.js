// Baseline for `make bench`: the vamp signaling events (docs/signaling.md) on socket.io 4,
// as the original Vamp server did them, plus `leave vamp` and `user left`. No auth, no rate
// limit. Usage: node server.js PORT  (prints "ready" once listening on 127.0.0.1).
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 4568);
const httpServer = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok", sockets: io.engine.clientsCount }));
  } else {
    res.writeHead(404);
    res.end();
  }
});
const io = new Server(httpServer, { maxHttpBufferSize: 1 << 20 });
const vampOf = new Map(); // socket id -> vamp id

function leave(socket) {
  const vamp = vampOf.get(socket.id);
  if (vamp === undefined) return;
  vampOf.delete(socket.id);
  socket.leave(vamp);
  socket.to(vamp).emit("user left", socket.id);
}

io.on("connection", (socket) => {
  socket.on("join vamp", async (vamp) => {
    if (typeof vamp !== "string" || !vamp) return;
    leave(socket);
    const others = [...(io.sockets.adapter.rooms.get(vamp) || [])];
    vampOf.set(socket.id, vamp);
    socket.join(vamp);
    socket.emit("all users", others);
  });
  socket.on("sending signal", (payload) => {
    if (!payload || typeof payload.userToSignal !== "string") return;
    io.to(payload.userToSignal).emit("user joined", { signal: payload.signal, callerID: socket.id });
  });
  socket.on("returning signal", (payload) => {
    if (!payload || typeof payload.callerID !== "string") return;
    io.to(payload.callerID).emit("receiving returned signal", { signal: payload.signal, id: socket.id });
  });
  socket.on("leave vamp", () => leave(socket));
  socket.on("disconnect", () => leave(socket));
});

httpServer.listen(port, "127.0.0.1", () => console.log("ready"));
