// Node 24 (OpenSSL 3.5) clients for the end-to-end tests of `pqify serve`
// (tests/e2e/*.sh): an independent TLS 1.3 stack with X25519MLKEM768.
//   node clients.mjs MODE PORT CA [N]
// Every mode prints one line per finding ("key value ...") for the script to check,
// and bounds every wait in time so a hung server fails the test instead of hanging it.
import tls from 'node:tls';
import fs from 'node:fs';
import readline from 'node:readline';

const [mode, portArg, caPath, nArg] = process.argv.slice(2);
const port = Number(portArg);
const ca = fs.readFileSync(caPath);
const n = Number(nArg || 1);
const say = (s) => process.stdout.write(s + '\n');
const die = (s) => { say('FAIL ' + s); process.exit(1); };
setTimeout(() => die("the whole run took more than 500 s"), 500000).unref();

function open(extra = {}) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost',
                            ecdhCurve: 'X25519MLKEM768:X25519', ...extra });
    const t = setTimeout(() => { s.destroy(); reject(new Error('handshake timeout')); }, 30000);
    s.once('secureConnect', () => { clearTimeout(t); resolve(s); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}

function echo(s, msg) {
  return new Promise((resolve, reject) => {
    let got = '';
    const t = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
    const on = (d) => {
      got += d.toString();
      if (got.length >= msg.length) { clearTimeout(t); s.off('data', on); resolve(got); }
    };
    s.on('data', on);
    s.write(msg);
  });
}

// Opens n connections, at most `batch` handshakes at a time.
async function openMany(count, batch = 100) {
  const socks = [];
  for (let i = 0; i < count; i += batch) {
    const part = await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => open()));
    for (const s of part) { s.on('error', () => {}); socks.push(s); }
  }
  return socks;
}

function line() {
  const rl = readline.createInterface({ input: process.stdin });
  // A closed stdin counts as an empty line: the script may just close its end.
  return new Promise((resolve) => {
    rl.once('line', (l) => { rl.close(); resolve(l); });
    rl.once('close', () => resolve(''));
  });
}

// The server certificate, by its SHA-256 fingerprint (the script compares with openssl x509).
const cn = (s) => s.getPeerCertificate().fingerprint256;

if (mode === 'idle') {
  // n idle connections held open, then a new client must still be served.
  const socks = await openMany(n);
  const group = socks[0].getEphemeralKeyInfo ? socks[0].getEphemeralKeyInfo() : {};
  say(`held ${socks.length} group ${group.name || '?'}`);
  const fresh = await open();
  const back = await echo(fresh, 'still served');
  say(`fresh ${back === 'still served' ? 'ok' : 'wrong:' + back}`);
  fresh.end();
  let open_now = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
  say(`still-open ${open_now}`);
  await line();           // the script reads the server's state first
  for (const s of socks) s.destroy();
  process.exit(0);
} else if (mode === 'reload') {
  const first = await open();
  say(`first ${cn(first)} ${await echo(first, 'one')}`);
  await line();           // the script swapped the files and sent SIGHUP
  const second = await open();
  say(`second ${cn(second)} ${await echo(second, 'two')}`);
  say(`established ${cn(first)} ${await echo(first, 'three')}`);
  first.end(); second.end();
  process.exit(0);
} else if (mode === 'drain') {
  // n established connections; after SIGTERM each must end with close_notify
  // (Node: 'end' before 'close', no ECONNRESET).
  const socks = await openMany(n);
  let ended = 0, errors = 0, closed = 0;
  for (const s of socks) {
    s.removeAllListeners('error');
    s.on('end', () => { ended++; });
    s.on('error', () => { errors++; });
    s.on('close', () => { if (++closed === socks.length) { say(`ended ${ended} errors ${errors}`); process.exit(0); } });
    s.resume();
  }
  say(`held ${socks.length}`);
} else if (mode === 'alpn') {
  // --www answers HTTP/1.1: it must never agree to h2.
  const both = await open({ ALPNProtocols: ['h2', 'http/1.1'] });
  say(`both ${both.alpnProtocol}`);
  both.end();
  try {
    const h2 = await open({ ALPNProtocols: ['h2'] });
    say(`h2only ${h2.alpnProtocol}`);
    h2.end();
  } catch (e) {
    say(`h2only refused ${e.code || e.message}`);
  }
  process.exit(0);
} else if (mode === 'http') {
  // One raw request from stdin's first line (\r\n written as \\r\\n); prints the status line.
  const req = fs.readFileSync(0, 'utf8').split('\n')[0].replace(/\\r\\n/g, '\r\n').replace(/@PAD(\d+)@/, (_, k) => 'x'.repeat(Number(k)));
  const s = await open({ ALPNProtocols: ['http/1.1'] });
  let got = '';
  s.on('data', (d) => { got += d.toString(); });
  s.on('error', () => {});
  s.write(req);
  await new Promise((resolve) => { s.on('close', resolve); setTimeout(resolve, 10000); });
  say(`status ${got.split('\r\n')[0]}`);
  process.exit(0);
} else {
  die(`unknown mode ${mode}`);
}
