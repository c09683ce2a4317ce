// TLS 1.3 test client on Node 24 / OpenSSL 3.5: an independent peer for pqify.
// Config: one JSON argument or key=value pairs, see docs/serve-connect.md.
//   host, port       server address (host 127.0.0.1)
//   servername       SNI and the name the certificate must match
//                    (default "localhost"; "" sends no SNI)
//   ca               PEM of the CA that signed the server certificate
//   cert, key        client certificate, for mutual TLS
//   groups           OpenSSL group list (Node's ecdhCurve); OpenSSL 3.5 sends
//                    a key share for the first group only unless a group is
//                    marked with '*', so "X25519:X25519MLKEM768" makes a PQ-
//                    preferring server answer with a HelloRetryRequest
//   ciphersuites     OpenSSL TLS 1.3 suite list
//   alpn             list (JSON array or "a,b") of protocols
//   send             text to send (default: a line); the server must echo it
//   sendFile         send this file's bytes instead (large payloads)
//   expect           text the server must answer instead of the echo
//   http             true: send an HTTP/1.1 GET, read until close, print it
//   timeout          seconds before giving up (exit 3)
//   resume           true: connect twice, offering the first connection's
//                    session ticket on the second (RFC 8446 §4.6.1); prints a
//                    {"event":"resumption",...} line with isSessionReused()
//                    of both connections
// Prints {"event":"connected",...} and then {"event":"done",...} as JSON
// lines; exits 0 only if the handshake worked and the echo came back intact.
import tls from 'node:tls';
import net from 'node:net';
import fs from 'node:fs';
import { WireTap, parseArgs, emit, subjectName } from './tls_wire.mjs';

const cfg = parseArgs(process.argv.slice(2));
const alpn = typeof cfg.alpn === 'string' ? cfg.alpn.split(',') : cfg.alpn;
const host = cfg.host ?? '127.0.0.1';
const servername = cfg.servername ?? 'localhost';
const send = cfg.http
  ? `GET / HTTP/1.1\r\nHost: ${servername || host}\r\nConnection: close\r\n\r\n`
  : cfg.sendFile ? fs.readFileSync(cfg.sendFile, 'utf8')
  : (cfg.send ?? 'hello from node tls_client\n');

const want = cfg.expect ?? send;

setTimeout(() => { emit({ event: 'timeout' }); process.exit(3); }, (cfg.timeout ?? 20) * 1000).unref();

const opts = {
  minVersion: 'TLSv1.3',
  rejectUnauthorized: cfg.verify ?? true,
};
// RFC 6066 §3: no SNI for IP literals; servername "" means "send none".
if (servername !== '') opts.servername = servername;
if (servername !== '' && cfg.checkHost === undefined) {
  opts.checkServerIdentity = (name, cert) => tls.checkServerIdentity(servername, cert);
}
if (cfg.ca) opts.ca = fs.readFileSync(cfg.ca);
if (cfg.cert) opts.cert = fs.readFileSync(cfg.cert);
if (cfg.key) opts.key = fs.readFileSync(cfg.key);
if (cfg.groups) opts.ecdhCurve = cfg.groups;
// Node takes TLS 1.3 suites (TLS_*) through `ciphers`; it has no `ciphersuites`.
if (cfg.ciphersuites) opts.ciphers = cfg.ciphersuites;
if (alpn) opts.ALPNProtocols = alpn;
if (cfg.sigalgs) opts.sigalgs = cfg.sigalgs;

let tap = null;
let lastSession = null;
const rounds = [];
const fail = (e) => {
  const wire = tap.summary();
  emit({ event: 'error', message: e.message, code: e.code ?? null, hrr: wire.hrr, group: wire.group });
  process.exit(1);
};

function connectOnce(round, session) {
const sock = net.connect({ host, port: cfg.port });
tap = new WireTap(sock);
sock.on('connect', () => {
  const s = tls.connect({ ...opts, socket: tap, ...(session ? { session } : {}) }, () => {
    const wire = tap.summary();
    const eph = s.getEphemeralKeyInfo();
    emit({
      event: 'connected',
      version: s.getProtocol(),
      cipher: s.getCipher().standardName,
      group: wire.group,
      pq: wire.pq,
      hrr: wire.hrr,
      hrr_group: wire.hrr_group ?? null,
      // Node's own view, a cross-check of the wire: {type:'TLSGroup'} names
      // hybrids and ML-KEM, {type:'ECDH'} classical curves (prime256v1 …).
      node_group: eph && eph.name ? eph.name : null,
      alpn: s.alpnProtocol || null,
      server_cert: subjectName(s.getPeerCertificate()),
      // the leaf's SHA-256 fingerprint (AA:BB:...), as openssl x509 -fingerprint prints it
      server_cert_sha256: s.getPeerCertificate().fingerprint256 ?? null,
      client_hellos: wire.client_hellos,
      server_share_size: wire.server_share_size,
      parse_error: wire.parse_error,
      ...(cfg.resume ? { round, resumed: s.isSessionReused() } : {}),
    });
    const chunks = [];
    let got = 0;
    let reported = false;
    const report = () => {
      if (reported) return;
      reported = true;
      const received = Buffer.concat(chunks).toString('utf8');
      const ok = cfg.http ? /^HTTP\/1\.[01] 200/.test(received) : received === want;
      emit({ event: 'done', ok, sent: Buffer.byteLength(send), received: got,
             ...(cfg.http || !ok ? { text: received } : {}) });
      if (cfg.resume) rounds.push({ ok, resumed: s.isSessionReused(), ticket: lastSession !== null });
      process.exitCode = ok && process.exitCode !== 1 ? 0 : 1;
    };
    // TLS 1.3 tickets come after the handshake; keep the newest for round 2.
    s.on('session', (sess) => { lastSession = sess; });
    const next = () => {
      if (!cfg.resume || round === 2) return false;
      connectOnce(2, lastSession);
      return true;
    };
    s.on('data', (d) => {
      chunks.push(d); got += d.length;
      // Enough came back: judge now and close; some servers (openssl
      // s_server -rev) never close on their own.
      if (!cfg.http && got >= Buffer.byteLength(want)) {
        report(); s.end();
        if (!cfg.resume) setTimeout(() => process.exit(), 2000).unref();
      }
    });
    s.on('end', () => {
      report();
      if (next()) return;
      if (cfg.resume) {
        emit({ event: 'resumption', ticket_received: rounds[0]?.ticket ?? false,
               first_resumed: rounds[0]?.resumed ?? null, second_resumed: rounds[1]?.resumed ?? null });
        if (!(rounds[1]?.resumed)) process.exitCode = 1;
      }
      process.exit();
    });
    s.write(send);
  });
  s.on('error', fail);
});
sock.on('error', fail);
}
connectOnce(1, null);
