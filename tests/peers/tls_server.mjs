// TLS 1.3 test server on Node 24 / OpenSSL 3.5: an independent peer for pqify.
// Config: one JSON argument or key=value pairs, see docs/serve-connect.md.
//   cert, key          PEM files of the server
//   ca                 PEM of the CA for client certificates; with it the
//                      server requests a client certificate (requestCert)
//   requireClientCert  reject clients without a valid certificate (default:
//                      true when ca is given)
//   groups             OpenSSL group list (Node's ecdhCurve), e.g.
//                      "X25519MLKEM768:X25519"; a group the client sent no
//                      share for, listed alone, forces a HelloRetryRequest
//   ciphersuites       OpenSSL TLS 1.3 suite list
//   alpn               list (JSON array or "a,b") of protocols
//   host, port         where to listen (127.0.0.1, 0 = ephemeral)
//   once               exit after the first connection ends (default true)
//   closeAfter         close (close_notify) once this many bytes were echoed,
//                      for clients that wait for the server to close
//   neverClose         keep the connection open after the client's close_notify
//                      (a server that never closes, for clients that must not
//                      wait for it forever)
//   timeout            seconds before the server gives up and exits 3
// Prints JSON lines on stdout: {"event":"listening","port":N}, then per
// connection {"event":"accepted",...} with what was negotiated, and
// {"event":"closed",...}. Data is echoed back.
import tls from 'node:tls';
import net from 'node:net';
import fs from 'node:fs';
import { WireTap, parseArgs, emit, subjectName } from './tls_wire.mjs';

const cfg = parseArgs(process.argv.slice(2));
const once = cfg.once ?? true;
const alpn = typeof cfg.alpn === 'string' ? cfg.alpn.split(',') : cfg.alpn;
const wantClientCert = Boolean(cfg.ca);
const opts = {
  key: fs.readFileSync(cfg.key),
  cert: fs.readFileSync(cfg.cert),
  minVersion: 'TLSv1.3',
  requestCert: wantClientCert,
  rejectUnauthorized: wantClientCert ? (cfg.requireClientCert ?? true) : false,
};
if (cfg.ca) opts.ca = fs.readFileSync(cfg.ca);
if (cfg.groups) opts.ecdhCurve = cfg.groups;
// Node takes TLS 1.3 suites (TLS_*) through `ciphers`; it has no `ciphersuites`.
if (cfg.ciphersuites) opts.ciphers = cfg.ciphersuites;
if (alpn) opts.ALPNProtocols = alpn;
if (cfg.sigalgs) opts.sigalgs = cfg.sigalgs;
if (cfg.neverClose) opts.allowHalfOpen = true;

const timer = setTimeout(() => { emit({ event: 'timeout' }); process.exit(3); }, (cfg.timeout ?? 30) * 1000);
const finish = () => {
  if (!once) return;
  clearTimeout(timer);
  tcp.close();
  setImmediate(() => process.exit(0));
};

const tlsServer = tls.createServer(opts, (s) => {
  const wire = currentTap.summary();
  const peer = s.getPeerCertificate();
  emit({
    event: 'accepted',
    version: s.getProtocol(),
    cipher: s.getCipher().standardName,
    group: wire.group,
    pq: wire.pq,
    hrr: wire.hrr,
    hrr_group: wire.hrr_group ?? null,
    alpn: s.alpnProtocol || null,
    servername: s.servername || null,
    client_cert: peer && Object.keys(peer).length ? subjectName(peer) : null,
    authorized: s.authorized,
    resumed: s.isSessionReused(),
    client_hellos: wire.client_hellos,
    parse_error: wire.parse_error,
  });
  let echoed = 0;
  s.on('data', (d) => {
    echoed += d.length;
    s.write(d);
    if (cfg.closeAfter !== undefined && echoed >= cfg.closeAfter) s.end();
  });
  s.on('end', () => { if (!cfg.neverClose) s.end(); });
  s.on('error', (e) => emit({ event: 'error', message: e.message, code: e.code ?? null }));
  s.on('close', () => { emit({ event: 'closed', echoed }); finish(); });
});
tlsServer.on('tlsClientError', (e, s) => {
  const wire = currentTap ? currentTap.summary() : {};
  emit({ event: 'tls_error', message: e.message, code: e.code ?? null,
         client_hellos: wire.client_hellos ?? [] });
  finish();
});

// tls.Server wraps whatever Duplex it is handed (the documented use of
// server.emit('connection')). Connections are served one at a time, so the
// handlers above know which tap belongs to the TLS socket they are given.
let currentTap = null;
const waiting = [];
function serveNext() {
  if (currentTap || waiting.length === 0) return;
  const sock = waiting.shift();
  const tap = new WireTap(sock);
  tap.isServer = true;
  currentTap = tap;
  sock.on('close', () => { currentTap = null; serveNext(); });
  tlsServer.emit('connection', tap);
}
const tcp = net.createServer((sock) => { waiting.push(sock); serveNext(); });
tcp.listen(cfg.port ?? 0, cfg.host ?? '127.0.0.1', () => {
  emit({ event: 'listening', port: tcp.address().port });
});
