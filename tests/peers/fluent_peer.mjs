// The Forward protocol peer for tests/logs: @fluent-org/logger's FluentClient and
// FluentServer, plus @msgpack/msgpack and Node's zlib as an independent decoder.
// Usage (PEERS = the .peers directory):
//   node fluent_peer.mjs PEERS client PORT MODE N [SHARED_KEY]
//     FluentClient sends N events with acks, in batches of 10, to 127.0.0.1:PORT.
//     Event i: tag "pqify.test", record {seq: i, msg: "m-<i>"}, time
//     EventTime(1700000000 + i, i * 1000), or integer seconds 1700000000 + i in mode
//     "Message-int". Prints "acked N" when every emit resolved.
//     With FLUENT_TLS_CA=FILE it speaks TLS (servername localhost) with the groups in
//     FLUENT_TLS_GROUPS (default X25519MLKEM768 only), and prints "tls GROUP" first.
//     FLUENT_SEQ_BASE offsets the sequence numbers; FLUENT_ACK_TIMEOUT_MS (default 10000)
//     bounds the wait for each ack.
//   node fluent_peer.mjs PEERS raw PORT KIND   (FLUENT_TLS_CA as for client)
//     A hostile sender over TLS: KIND "garbage" (the never-valid msgpack byte 0xc1),
//     "big:N" (a Message whose record holds N bytes) or "slow" (half a message, then
//     silence). Prints "closed by server" when the server closes, "still open" when
//     it has not after FLUENT_RAW_WAIT_MS (default 10000).
//   node fluent_peer.mjs PEERS server [SHARED_KEY]
//     FluentServer on 127.0.0.1:0; prints "listening on 127.0.0.1:PORT", then per entry
//     one JSON line {tag, sec, nsec, record}; exits when stdin closes. With
//     FLUENT_TLS_CERT/FLUENT_TLS_KEY it speaks TLS 1.3 offering only FLUENT_TLS_GROUPS
//     (default X25519MLKEM768).
//   node fluent_peer.mjs PEERS decode FILE
//     Decodes a file of our encoder's messages with @msgpack/msgpack, gunzip or
//     zstd (Node's own), prints {tag, sec, nsec, record, chunk, size, mode} per entry.
import { createRequire } from "node:module";
import * as zlib from "node:zlib";
import * as fs from "node:fs";
import * as readline from "node:readline";

const [peers, cmd, ...args] = process.argv.slice(2);
const require = createRequire(peers + "/node_modules/");
const logger = require("@fluent-org/logger");
const msgpack = require("@msgpack/msgpack");

function timeOf(t) {
  if (typeof t === "number") return { sec: t, nsec: 0 };
  return { sec: t.epoch, nsec: t.nano };
}

async function client(port, mode, n, key) {
  const intTime = mode === "Message-int";
  const opts = {
    eventMode: intTime ? "Message" : mode,
    socket: { host: "127.0.0.1", port: Number(port), disableReconnect: true,
              timeout: Number(process.env.FLUENT_ACK_TIMEOUT_MS || 10000) },
    ack: { ackTimeout: Number(process.env.FLUENT_ACK_TIMEOUT_MS || 10000) },
  };
  if (key) opts.security = { clientHostname: "node-client", sharedKey: key };
  if (process.env.FLUENT_TLS_CA) {
    opts.socket.tls = { ca: fs.readFileSync(process.env.FLUENT_TLS_CA), servername: "localhost",
      ecdhCurve: process.env.FLUENT_TLS_GROUPS || "X25519MLKEM768", minVersion: "TLSv1.3" };
  }
  const base = Number(process.env.FLUENT_SEQ_BASE || 0);
  const c = new logger.FluentClient(null, opts);
  await c.connect(); // disableReconnect also turns off the automatic connect
  if (opts.socket.tls) {
    const sock = c.socket.socket; // the TLSSocket under FluentSocket
    const eph = sock && sock.getEphemeralKeyInfo ? sock.getEphemeralKeyInfo() : {};
    console.log("tls " + (eph.name || "unknown"));
  }
  let acked = 0;
  for (let b = 0; b < n; b += 10) {
    const batch = [];
    for (let i = b; i < Math.min(n, b + 10); i++) {
      const t = intTime ? (1700000000 + i) * 1000 : new logger.EventTime(1700000000 + i, i * 1000);
      batch.push(c.emit("pqify.test", { seq: base + i, msg: "m-" + (base + i) }, t));
    }
    await Promise.all(batch);
    acked += batch.length;
  }
  await c.disconnect();
  console.log("acked " + acked);
  process.exit(0); // the client keeps a timer alive after disconnect
}

async function raw(port, kind) {
  const tlsmod = await import("node:tls");
  const sock = tlsmod.connect({ host: "127.0.0.1", port: Number(port),
    ca: fs.readFileSync(process.env.FLUENT_TLS_CA), servername: "localhost",
    ecdhCurve: process.env.FLUENT_TLS_GROUPS || "X25519MLKEM768", minVersion: "TLSv1.3" });
  sock.on("error", () => {});
  await new Promise((res, rej) => { sock.once("secureConnect", res); sock.once("error", rej); });
  let bytes;
  if (kind === "garbage") bytes = Buffer.from([0xc1, 0xc1, 0xc1, 0xc1]);
  else if (kind.startsWith("big:"))
    bytes = Buffer.from(msgpack.encode(["pqify.big", 1700000000, { x: "A".repeat(Number(kind.slice(4))) }]));
  else bytes = Buffer.from(msgpack.encode(["pqify.slow", 1700000000, { x: "slow" }])).subarray(0, 5);
  sock.write(bytes);
  const wait = Number(process.env.FLUENT_RAW_WAIT_MS || 10000);
  const closed = await new Promise(res => {
    const t = setTimeout(() => res(false), wait);
    sock.once("close", () => { clearTimeout(t); res(true); });
  });
  console.log(closed ? "closed by server" : "still open");
  sock.destroy();
  process.exit(0);
}

async function server(key) {
  const opts = { listenOptions: { host: "127.0.0.1", port: 0 } };
  if (key) opts.security = { serverHostname: "node-server", sharedKey: key, authorize: false, userDict: {} };
  // FLUENT_TLS_CERT/KEY: TLS 1.3 offering only FLUENT_TLS_GROUPS (default X25519MLKEM768),
  // so a handshake that succeeds negotiated that group
  if (process.env.FLUENT_TLS_CERT) {
    opts.tlsOptions = { cert: fs.readFileSync(process.env.FLUENT_TLS_CERT),
      key: fs.readFileSync(process.env.FLUENT_TLS_KEY), minVersion: "TLSv1.3",
      ecdhCurve: process.env.FLUENT_TLS_GROUPS || "X25519MLKEM768" };
  }
  const s = new logger.FluentServer(opts);
  s.on("entry", (tag, time, record) => {
    console.log(JSON.stringify({ tag, ...timeOf(time), record }));
  });
  await s.listen();
  console.log("listening on 127.0.0.1:" + s.port);
  process.stdin.resume();
  process.stdin.on("end", async () => { await s.close(); process.exit(0); });
}

const ext = new msgpack.ExtensionCodec();
ext.register({ type: 0, encode: () => null,
  decode: d => ({ epoch: Buffer.from(d).readUInt32BE(0), nano: Buffer.from(d).readUInt32BE(4) }) });

function decode(file) {
  const buf = fs.readFileSync(file);
  for (const m of msgpack.decodeMulti(buf, { extensionCodec: ext })) {
    const [tag, body, opt] = m;
    let raw = body;
    if (opt.compressed === "gzip") raw = zlib.gunzipSync(body);
    else if (opt.compressed === "zstd") raw = zlib.zstdDecompressSync(body);
    for (const [time, record] of msgpack.decodeMulti(raw, { extensionCodec: ext })) {
      console.log(JSON.stringify({ tag, ...timeOf(time), record, chunk: opt.chunk, size: opt.size,
        compressed: opt.compressed || "none" }));
    }
  }
}

if (cmd === "client") await client(args[0], args[1], Number(args[2]), args[3]);
else if (cmd === "server") await server(args[0]);
else if (cmd === "raw") await raw(args[0], args[1]);
else if (cmd === "decode") decode(args[0]);
else { console.error("unknown command " + cmd); process.exit(2); }
