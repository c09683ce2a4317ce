// Independent ML-KEM peers for tests/kem/test_crosscheck_node.c.
//
// Usage: node mlkem_crosscheck.mjs <peers_dir> <request_file>
//
// Each request line (hex fields separated by one space):
//   <set> <seed64> <m32> <ct_derand> <ct_random> <ct_bad>
// where set is 512, 768 or 1024, seed = d || z, ct_derand = pqify's
// Encaps_internal(ek, m), ct_random = pqify's randomized Encaps, and ct_bad is a
// ciphertext pqify's decaps must treat with implicit rejection.
//
// Each answer line, in the same order:
//   ok <ek_ossl> <dk_ossl> <ss_ossl(ct_derand)> <ss_ossl(ct_random)>
//      <ss_ossl(ct_bad)> <ct_ossl> <ss_ossl> <ek_noble> <dk_noble>
//      <ct_noble(m)> <ss_noble(m)> <ss_noble(ct_bad)>
// or "err <message>" when a peer throws. Nothing is compared here: the C side
// compares every value with pqify's, so a failure shows both byte strings.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [peersDir, requestFile] = process.argv.slice(2);
if (!peersDir || !requestFile) {
  process.stderr.write('usage: node mlkem_crosscheck.mjs <peers_dir> <request_file>\n');
  process.exit(2);
}

// The script lives in the source tree, not under .peers, so import noble by path.
const noblePath = path.join(peersDir, 'node_modules', '@noble', 'post-quantum', 'ml-kem.js');
const noble = await import(pathToFileURL(noblePath).href);

const SETS = {
  512: { osslType: 'ml-kem-512', noble: noble.ml_kem512, dkBytes: 1632 },
  768: { osslType: 'ml-kem-768', noble: noble.ml_kem768, dkBytes: 2400 },
  1024: { osslType: 'ml-kem-1024', noble: noble.ml_kem1024, dkBytes: 3168 },
};

// Minimal DER reader: returns {tag, start, end, next} for the TLV at off.
function derTlv(buf, off) {
  if (off + 2 > buf.length) throw new Error('DER: truncated header');
  const tag = buf[off];
  let len = buf[off + 1];
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || off + 2 + n > buf.length) throw new Error('DER: bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[off + 2 + i];
    hdr += n;
  }
  const start = off + hdr;
  const end = start + len;
  if (end > buf.length) throw new Error('DER: value overruns buffer');
  return { tag, start, end, next: end };
}

// OpenSSL 3.5 has no raw export of an ML-KEM private key, but its PKCS#8
// (draft-ietf-lamps-kyber-certificates) carries the expanded key: the private
// key OCTET STRING holds either SEQUENCE { seed, expandedKey } or a bare
// expandedKey OCTET STRING. Take the expanded key and check its length.
function expandedDkFromPkcs8(der, dkBytes) {
  const outer = derTlv(der, 0);
  if (outer.tag !== 0x30) throw new Error('PKCS#8: not a SEQUENCE');
  const version = derTlv(der, outer.start);
  const algId = derTlv(der, version.next);
  const priv = derTlv(der, algId.next);
  if (priv.tag !== 0x04) throw new Error('PKCS#8: privateKey is not an OCTET STRING');
  const inner = derTlv(der, priv.start);
  let dk;
  if (inner.tag === 0x30) {
    const seed = derTlv(der, inner.start);
    const expanded = derTlv(der, seed.next);
    if (seed.tag !== 0x04 || expanded.tag !== 0x04) throw new Error('PKCS#8: bad seed-priv form');
    dk = der.subarray(expanded.start, expanded.end);
  } else if (inner.tag === 0x04) {
    dk = der.subarray(inner.start, inner.end);
  } else {
    throw new Error(`PKCS#8: private key form 0x${inner.tag.toString(16)} carries no expanded key`);
  }
  if (dk.length !== dkBytes) throw new Error(`PKCS#8: expanded key is ${dk.length} bytes, want ${dkBytes}`);
  return dk;
}

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error('request: bad hex');
  return Buffer.from(s, 'hex');
};

function answer(line) {
  const f = line.split(' ');
  if (f.length !== 6) throw new Error(`request: ${f.length} fields, want 6`);
  const set = SETS[f[0]];
  if (!set) throw new Error(`request: unknown set ${f[0]}`);
  const [seed, m, ctDerand, ctRandom, ctBad] = f.slice(1).map(unhex);
  if (seed.length !== 64 || m.length !== 32) throw new Error('request: bad seed or m length');

  // OpenSSL 3.5 through Node's KeyObject API.
  const priv = crypto.createPrivateKey({ key: seed, format: 'raw-seed', asymmetricKeyType: set.osslType });
  const pub = crypto.createPublicKey(priv);
  const ekO = pub.export({ format: 'raw-public' });
  const dkO = expandedDkFromPkcs8(priv.export({ format: 'der', type: 'pkcs8' }), set.dkBytes);
  const ssODerand = crypto.decapsulate(priv, ctDerand);
  const ssORandom = crypto.decapsulate(priv, ctRandom);
  const ssOBad = crypto.decapsulate(priv, ctBad);
  const { sharedKey: ssO, ciphertext: ctO } = crypto.encapsulate(pub);

  // @noble/post-quantum: keygen(d || z), encapsulate(ek, m) is Encaps_internal.
  const { publicKey: ekN, secretKey: dkN } = set.noble.keygen(seed);
  const { cipherText: ctN, sharedSecret: ssN } = set.noble.encapsulate(ekN, m);
  const ssNBad = set.noble.decapsulate(ctBad, dkN);

  return ['ok', ekO, dkO, ssODerand, ssORandom, ssOBad, ctO, ssO, ekN, dkN, ctN, ssN, ssNBad]
    .map((v, i) => (i === 0 ? v : hex(v)))
    .join(' ');
}

const lines = fs.readFileSync(requestFile, 'latin1').split('\n').filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  try {
    out.push(answer(line));
  } catch (e) {
    out.push(`err ${String(e && e.message).replace(/\s+/g, ' ')}`);
  }
  // Flush in batches to keep memory modest; stdout to a pipe is synchronous on Linux.
  if (out.length >= 64) {
    process.stdout.write(out.join('\n') + '\n');
    out.length = 0;
  }
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
