// Watches the plaintext part of a TLS 1.3 connection from outside the TLS
// library, so the test peers can say which group and whether a
// HelloRetryRequest happened. Node 24 does not expose either on the server
// side (getEphemeralKeyInfo() returns null there) and never exposes HRR, so
// the peers read the ClientHello(s) and ServerHello(s) off the wire instead.
// Only records sent before the first application_data record are examined:
// RFC 8446 §5 — everything after ServerHello is encrypted.
import { Duplex } from 'node:stream';

export const GROUP_NAMES = {
  0x001d: 'X25519', 0x0017: 'P-256', 0x0018: 'P-384', 0x0019: 'P-521', 0x001e: 'X448',
  0x0100: 'ffdhe2048', 0x0101: 'ffdhe3072',
  0x11ec: 'X25519MLKEM768', 0x11eb: 'SecP256r1MLKEM768', 0x11ed: 'SecP384r1MLKEM1024',
  0x0200: 'MLKEM512', 0x0201: 'MLKEM768', 0x0202: 'MLKEM1024',
  0x6399: 'X25519Kyber768Draft00', 0xfe30: 'X25519Kyber512Draft00',
  0xfe32: 'P256Kyber768Draft00', 0x2f3a: 'P256Kyber512',
};
const PQ_GROUPS = new Set([0x11ec, 0x11eb, 0x11ed, 0x0200, 0x0201, 0x0202, 0x6399, 0xfe30, 0xfe32, 0x2f3a]);
export const groupName = (id) => GROUP_NAMES[id] ?? `0x${id.toString(16).padStart(4, '0')}`;
export const isPq = (id) => PQ_GROUPS.has(id);

// RFC 8446 §4.1.3: a ServerHello with this random is a HelloRetryRequest.
const HRR_RANDOM = Buffer.from(
  'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

// Bounds-checked reader: every read throws on truncation, so a malformed
// hello shows up as a parse error in the report instead of garbage.
class Reader {
  constructor(buf) { this.b = buf; this.p = 0; }
  need(n) { if (this.p + n > this.b.length) throw new Error('truncated hello'); }
  u8() { this.need(1); return this.b[this.p++]; }
  u16() { this.need(2); const v = this.b.readUInt16BE(this.p); this.p += 2; return v; }
  u24() { this.need(3); const v = this.b.readUIntBE(this.p, 3); this.p += 3; return v; }
  bytes(n) { this.need(n); const v = this.b.subarray(this.p, this.p + n); this.p += n; return v; }
  vec8() { return new Reader(this.bytes(this.u8())); }
  vec16() { return new Reader(this.bytes(this.u16())); }
  left() { return this.b.length - this.p; }
}

function parseExtensions(r) {
  const exts = new Map();
  if (r.left() === 0) return exts;
  const er = r.vec16();
  while (er.left() > 0) {
    const type = er.u16();
    exts.set(type, er.vec16());
  }
  return exts;
}

function parseClientHello(body) {
  const r = new Reader(body);
  r.u16(); r.bytes(32); r.vec8();
  const cs = r.vec16(); const suites = [];
  while (cs.left() > 0) suites.push(cs.u16());
  r.vec8();
  const exts = parseExtensions(r);
  const out = { suites, groups: [], key_shares: [], share_sizes: [], sni: null, alpn: [] };
  if (exts.has(0x000a)) {
    const gr = exts.get(0x000a).vec16();
    while (gr.left() > 0) out.groups.push(groupName(gr.u16()));
  }
  if (exts.has(0x0033)) {
    const kr = exts.get(0x0033).vec16();
    while (kr.left() > 0) {
      const g = kr.u16(); const ke = kr.vec16();
      out.key_shares.push(groupName(g)); out.share_sizes.push(ke.left());
    }
  }
  if (exts.has(0x0000)) {
    const sr = exts.get(0x0000).vec16();
    while (sr.left() > 0) {
      const t = sr.u8(); const name = sr.vec16();
      if (t === 0) out.sni = name.bytes(name.left()).toString('latin1');
    }
  }
  if (exts.has(0x0010)) {
    const ar = exts.get(0x0010).vec16();
    while (ar.left() > 0) { const p = ar.vec8(); out.alpn.push(p.bytes(p.left()).toString('latin1')); }
  }
  return out;
}

function parseServerHello(body) {
  const r = new Reader(body);
  r.u16(); const random = r.bytes(32); r.vec8();
  const suite = r.u16(); r.u8();
  const exts = parseExtensions(r);
  const hrr = random.equals(HRR_RANDOM);
  let group = null; let version = null; let share_size = null;
  if (exts.has(0x0033)) {
    const kr = exts.get(0x0033);
    group = kr.u16();
    if (!hrr) share_size = kr.vec16().left();
  }
  if (exts.has(0x002b)) version = exts.get(0x002b).u16();
  return { hrr, suite, group, version, share_size };
}

// Collects the handshake bytes of one direction while it is still plaintext.
class Direction {
  constructor() { this.rec = Buffer.alloc(0); this.hs = Buffer.alloc(0); this.done = false; this.messages = []; }
  feed(chunk) {
    if (this.done) return;
    this.rec = Buffer.concat([this.rec, chunk]);
    while (this.rec.length >= 5) {
      const type = this.rec[0]; const len = this.rec.readUInt16BE(3);
      if (this.rec.length < 5 + len) break;
      const frag = this.rec.subarray(5, 5 + len);
      this.rec = this.rec.subarray(5 + len);
      if (type === 23) { this.done = true; break; }   // encrypted from here on
      if (type === 22) this.hs = Buffer.concat([this.hs, frag]);
      // type 20 (compat ChangeCipherSpec, RFC 8446 D.4) and 21 are skipped
    }
    while (this.hs.length >= 4) {
      const len = this.hs.readUIntBE(1, 3);
      if (this.hs.length < 4 + len) break;
      this.messages.push({ type: this.hs[0], body: Buffer.from(this.hs.subarray(4, 4 + len)) });
      this.hs = this.hs.subarray(4 + len);
    }
  }
}

// A Duplex between a TCP socket and Node's TLS layer that sees every byte.
export class WireTap extends Duplex {
  constructor(sock) {
    super({ allowHalfOpen: true });
    this.sock = sock;
    this.c2s = new Direction(); this.s2c = new Direction();
    this.isServer = false;
    sock.on('data', (d) => {
      (this.isServer ? this.c2s : this.s2c).feed(d);
      if (!this.push(d)) sock.pause();
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
    sock.on('close', () => { if (!this.destroyed) this.push(null); });
  }
  _read() { this.sock.resume(); }
  _write(chunk, enc, cb) { (this.isServer ? this.s2c : this.c2s).feed(chunk); this.sock.write(chunk, cb); }
  _final(cb) { this.sock.end(); cb(); }
  _destroy(err, cb) { this.sock.destroy(); cb(err); }

  // What the wire showed: the hellos in order, the group chosen, HRR or not.
  summary() {
    const out = { hrr: false, group: null, pq: null, cipher_id: null, client_hellos: [], server_share_size: null };
    try {
      for (const m of this.c2s.messages) if (m.type === 1) out.client_hellos.push(parseClientHello(m.body));
      for (const m of this.s2c.messages) {
        if (m.type !== 2) continue;
        const sh = parseServerHello(m.body);
        if (sh.hrr) { out.hrr = true; out.hrr_group = groupName(sh.group); continue; }
        if (sh.group !== null) { out.group = groupName(sh.group); out.pq = isPq(sh.group); }
        out.cipher_id = sh.suite; out.server_share_size = sh.share_size;
      }
    } catch (e) {
      out.parse_error = e.message;
    }
    return out;
  }
}

// Standard name of a certificate subject: CN if present.
export function subjectName(cert) {
  if (!cert || !cert.subject) return null;
  return cert.subject.CN ?? JSON.stringify(cert.subject);
}

// Config comes as one JSON argument or as key=value pairs (values that parse
// as JSON are taken as JSON: port=0, alpn=["h2"], once=true).
export function parseArgs(argv) {
  if (argv.length === 1 && argv[0].startsWith('{')) return JSON.parse(argv[0]);
  const cfg = {};
  for (const a of argv) {
    const i = a.indexOf('=');
    if (i < 0) throw new Error(`argument '${a}' is not key=value`);
    const k = a.slice(0, i).replace(/^--/, ''); const v = a.slice(i + 1);
    try { cfg[k] = JSON.parse(v); } catch { cfg[k] = v; }
  }
  return cfg;
}

export const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
