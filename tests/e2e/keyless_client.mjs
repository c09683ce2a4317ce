// A gokeyless client in Node 24 (OpenSSL 3.5): an implementation apart from pqify's,
// for `pqify keyserver` end to end. It encodes packets by hand from
// shared/vectors/keyless/README.md (header: major, minor, u16 body length, u32 id;
// items: tag, u16 length, value), connects with mutual TLS, and verifies each
// signature with Node's crypto.
//   node keyless_client.mjs PORT CA CERT|- KEY|- GROUPS JOB...
// JOB: ping | ecdsa:SKIHEX:PUBPEM | ed25519:SKIHEX:PUBPEM | unknown
// Prints "group NAME" (the negotiated key exchange), then one line per job:
// "pong", "verified ecdsa", "verified ed25519", "error N", in job order (answers come
// in any order, matched by id); "closed" if the server
// closed before answering; exit 0 when every answer came (verified or an error code).
import tls from 'node:tls';
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';

const [port, ca, cert, key, groups, ...jobs] = process.argv.slice(2);
const opts = { host: '127.0.0.1', port: +port, ca: readFileSync(ca), servername: 'localhost',
               minVersion: 'TLSv1.3', ecdhCurve: groups };
if (cert !== '-') { opts.cert = readFileSync(cert); opts.key = readFileSync(key); }

function item(tag, value) {
  const h = Buffer.alloc(3);
  h.writeUInt8(tag, 0);
  h.writeUInt16BE(value.length, 1);
  return Buffer.concat([h, value]);
}
function packet(id, opcode, ski, payload) {
  const items = [item(0x11, Buffer.from([opcode]))];
  if (ski) items.push(item(0x04, ski));
  if (payload) items.push(item(0x12, payload));
  const body = Buffer.concat(items);
  const h = Buffer.alloc(8);
  h.writeUInt8(1, 0); h.writeUInt8(0, 1); h.writeUInt16BE(body.length, 2); h.writeUInt32BE(id, 4);
  return Buffer.concat([h, body]);
}
function parse(buf) { // -> {id, opcode, payload}
  const len = buf.readUInt16BE(2), id = buf.readUInt32BE(4);
  let off = 8, opcode = 0, payload = Buffer.alloc(0);
  while (off < 8 + len) {
    const tag = buf[off], n = buf.readUInt16BE(off + 1);
    const v = buf.subarray(off + 3, off + 3 + n);
    if (tag === 0x11) opcode = v[0];
    if (tag === 0x12) payload = Buffer.from(v);
    off += 3 + n;
  }
  return { id, opcode, payload };
}

const pending = new Map();
const results = [];
const say = (id, line) => { results[id - 100] = line; };
const msg = Buffer.from('pqify keyless end to end');
const sock = tls.connect(opts, () => {
  const info = sock.getEphemeralKeyInfo ? sock.getEphemeralKeyInfo() : {};
  console.log(`group ${info.name ?? info.type ?? '?'}`);
  jobs.forEach((job, i) => {
    const id = 100 + i;
    const [kind, skiHex, pub] = job.split(':');
    pending.set(id, { kind, pub });
    if (kind === 'ping') sock.write(packet(id, 0xF1, null, Buffer.from('hello')));
    else if (kind === 'ecdsa')
      sock.write(packet(id, 0x15, Buffer.from(skiHex, 'hex'), crypto.createHash('sha256').update(msg).digest()));
    else if (kind === 'ed25519') sock.write(packet(id, 0x18, Buffer.from(skiHex, 'hex'), msg));
    else sock.write(packet(id, 0x15, Buffer.alloc(20, 0xab), crypto.createHash('sha256').update(msg).digest()));
  });
});
let acc = Buffer.alloc(0);
sock.on('data', (d) => {
  acc = Buffer.concat([acc, d]);
  while (acc.length >= 8 && acc.length >= 8 + acc.readUInt16BE(2)) {
    const n = 8 + acc.readUInt16BE(2);
    const p = parse(acc.subarray(0, n));
    acc = acc.subarray(n);
    const job = pending.get(p.id);
    if (!job) { console.log(`FAIL unexpected id ${p.id}`); process.exit(1); }
    pending.delete(p.id);
    if (p.opcode === 0xFF) say(p.id, `error ${p.payload[0]}`);
    else if (p.opcode === 0xF2) say(p.id, p.payload.toString() === 'hello' ? 'pong' : 'FAIL pong');
    else {
      const k = crypto.createPublicKey(readFileSync(job.pub));
      const ok = job.kind === 'ed25519' ? crypto.verify(null, msg, k, p.payload)
                                        : crypto.verify('sha256', msg, k, p.payload);
      say(p.id, ok ? `verified ${job.kind}` : `FAIL ${job.kind} does not verify`);
    }
    if (pending.size === 0) {
      results.forEach((l) => console.log(l));
      sock.end();
      process.exit(0);
    }
  }
});
sock.on('error', (e) => { console.log(`closed ${e.code ?? e.message}`); process.exit(1); });
sock.on('close', () => { console.log('closed'); process.exit(pending.size === 0 ? 0 : 1); });
setTimeout(() => { console.log('FAIL timeout'); process.exit(1); }, 20000);
