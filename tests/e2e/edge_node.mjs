// Node 24 (OpenSSL 3.5) clients of pqify edge for tests/e2e/edge.sh: an independent
// TLS 1.3 and HTTP stack offering X25519MLKEM768 first.
//   node edge_node.mjs h1|h2 PORT CA PATH [HOST]
// Prints "group G", "alpn A", "status N", "via V", "sha256 HEX" (of the body), "bytes N".
import tls from 'node:tls';
import https from 'node:https';
import http2 from 'node:http2';
import fs from 'node:fs';
import crypto from 'node:crypto';

const [mode, portArg, caPath, path, host = 'localhost'] = process.argv.slice(2);
const port = Number(portArg);
const ca = fs.readFileSync(caPath);
const say = (s) => process.stdout.write(s + '\n');
setTimeout(() => { say('FAIL took more than 60 s'); process.exit(1); }, 60000).unref();
const tlsOpts = { ca, servername: 'localhost', ecdhCurve: 'X25519MLKEM768:X25519' };

function report(sock, status, via, hash, bytes) {
  say(`group ${sock.getEphemeralKeyInfo().name}`);
  say(`alpn ${sock.alpnProtocol}`);
  say(`status ${status}`);
  say(`via ${via}`);
  say(`sha256 ${hash.digest('hex')}`);
  say(`bytes ${bytes}`);
}

if (mode === 'h1') {
  const req = https.request({ host: '127.0.0.1', port, path, headers: { host }, ...tlsOpts,
                              ALPNProtocols: ['http/1.1'], agent: false }, (res) => {
    const h = crypto.createHash('sha256');
    let n = 0;
    res.on('data', (d) => { h.update(d); n += d.length; });
    res.on('end', () => { report(res.socket, res.statusCode, res.headers.via, h, n); process.exit(0); });
  });
  req.on('error', (e) => { say('FAIL ' + e.message); process.exit(1); });
  req.end();
} else {
  const s = http2.connect(`https://127.0.0.1:${port}`, { ...tlsOpts });
  s.on('error', (e) => { say('FAIL ' + e.message); process.exit(1); });
  const req = s.request({ ':path': path, ':authority': host });
  const h = crypto.createHash('sha256');
  let n = 0, status = 0, via = '';
  req.on('response', (hd) => { status = hd[':status']; via = hd.via; });
  req.on('data', (d) => { h.update(d); n += d.length; });
  req.on('end', () => { report(s.socket, status, via, h, n); s.close(); process.exit(0); });
  req.end();
}
