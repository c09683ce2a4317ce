// WebSocket peers for tests/e2e/edge_websocket.sh, on Node 24 alone (no npm package).
//   node ws_peer.mjs origin            an echo origin: node:http's 'upgrade' event and the
//                                      RFC 6455 handshake and framing written here; prints
//                                      "listening on 127.0.0.1:PORT", then one line per
//                                      upgrade it took ("upgrade PATH key=...")
//   node ws_peer.mjs client URL        Node's global WebSocket (the WHATWG client): sends a
//                                      text, a 1 MiB binary, 50 small texts, then closes
//                                      with 1000 "bye"; prints one JSON line of what came back
import { createServer } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'; // RFC 6455 §1.3

function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, payload]); // a server's frames are not masked (§5.1)
}

function origin() {
  const server = createServer((req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }); res.end('websocket only\n'); });
  server.on('upgrade', (req, socket, head) => {
    const key = req.headers['sec-websocket-key'];
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || !key) { socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); return; }
    console.log(`upgrade ${req.url} key=${key}`);
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let buf = head.length ? Buffer.from(head) : Buffer.alloc(0);
    let parts = [], partOp = 0;
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        if (buf.length < 2) return;
        const fin = buf[0] & 0x80, op = buf[0] & 15, masked = buf[1] & 0x80;
        let n = buf[1] & 127, off = 2;
        if (n === 126) { if (buf.length < 4) return; n = buf.readUInt16BE(2); off = 4; }
        else if (n === 127) { if (buf.length < 10) return; n = Number(buf.readBigUInt64BE(2)); off = 10; }
        if (!masked) { socket.destroy(); return; } // §5.1: a client's frames are masked
        if (buf.length < off + 4 + n) return;
        const mask = buf.subarray(off, off + 4), data = Buffer.from(buf.subarray(off + 4, off + 4 + n));
        for (let i = 0; i < n; i++) data[i] ^= mask[i & 3];
        buf = buf.subarray(off + 4 + n);
        if (op === 8) { socket.end(frame(8, data)); return; } // close: echo it, then close (§5.5.1)
        if (op === 9) { socket.write(frame(10, data)); continue; } // ping -> pong
        if (op === 0 || op === 1 || op === 2) {
          if (op !== 0) partOp = op;
          parts.push(data);
          if (fin) { socket.write(frame(partOp, Buffer.concat(parts))); parts = []; }
        }
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1', () => console.log(`listening on 127.0.0.1:${server.address().port}`));
}

function client(url) {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const big = randomBytes(1 << 20), sha = (b) => createHash('sha256').update(b).digest('hex');
  const got = { opened: false, texts: 0, firstText: null, bigBytes: 0, bigSha: null, wantSha: sha(big), closeCode: null, closeReason: null, error: null };
  const timer = setTimeout(() => { got.error = 'timed out'; console.log(JSON.stringify(got)); process.exit(1); }, 20000);
  ws.onopen = () => {
    got.opened = true;
    ws.send('hello through the edge');
    ws.send(big);
    for (let i = 0; i < 50; i++) ws.send(`message ${i}`);
  };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      if (got.firstText === null) got.firstText = ev.data;
      got.texts++;
      if (got.texts === 51) ws.close(1000, 'bye');
    } else {
      got.bigBytes = ev.data.byteLength;
      got.bigSha = sha(Buffer.from(ev.data));
    }
  };
  ws.onerror = (ev) => { got.error = String(ev.message || ev.error || 'error'); };
  ws.onclose = (ev) => {
    clearTimeout(timer);
    got.closeCode = ev.code;
    got.closeReason = ev.reason;
    console.log(JSON.stringify(got));
  };
}

if (process.argv[2] === 'origin') origin();
else if (process.argv[2] === 'client') client(process.argv[3]);
else { console.error('usage: ws_peer.mjs origin | client URL'); process.exit(2); }
