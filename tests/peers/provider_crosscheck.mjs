// OpenSSL 3.5 (in Node 24) as the independent peer of pqify.so's KEMs, for
// tests/provider/test_provider.c. Node has ML-KEM but no hybrid key objects, so
// a hybrid is built here from its parts (Node's ML-KEM and Node's X25519 or
// ECDH) in the wire order of DESIGN.md "Groups", written out below on its own:
// a layout mistake in the provider shows as a mismatch.
//
// Usage: node provider_crosscheck.mjs <request_file>
// Each request line (hex fields separated by one space):
//   <alg> <seed64> <scalar> <provider_pub> <provider_ct>
// alg is one of the names in LAYOUT; seed64 = d || z makes Node's ML-KEM key,
// scalar Node's ECDH key ("-" for ML-KEM alone); provider_pub is a public key the
// provider generated; provider_ct is what the provider encapsulated to Node's
// public key (computed on the C side from the same seed and scalar).
// Each answer line:
//   ok <node_pub> <ss_node(provider_ct)> <node_ct(provider_pub)> <node_ss>
// or "err <message>". Nothing is compared here; the C side compares.
import crypto from 'node:crypto';
import fs from 'node:fs';

// [ML-KEM type, ek, ct, curve, point length, ECDH first]
const LAYOUT = {
  X25519MLKEM768: ['ml-kem-768', 1184, 1088, 'x25519', 32, false],
  SecP256r1MLKEM768: ['ml-kem-768', 1184, 1088, 'prime256v1', 65, true],
  SecP384r1MLKEM1024: ['ml-kem-1024', 1568, 1568, 'secp384r1', 97, true],
  'ML-KEM-512': ['ml-kem-512', 800, 768, null, 0, false],
  'ML-KEM-768': ['ml-kem-768', 1184, 1088, null, 0, false],
  'ML-KEM-1024': ['ml-kem-1024', 1568, 1568, null, 0, false],
};

const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error('request: bad hex');
  return Buffer.from(s, 'hex');
};

// Splits a share into its KEM and ECDH parts; joins parts in wire order.
function split(buf, kemLen, pointLen, ecdhFirst) {
  if (buf.length !== kemLen + pointLen) throw new Error(`length ${buf.length}, want ${kemLen + pointLen}`);
  return ecdhFirst
    ? { kem: buf.subarray(pointLen), ecdh: buf.subarray(0, pointLen) }
    : { kem: buf.subarray(0, kemLen), ecdh: buf.subarray(kemLen) };
}
const join = (kem, ecdh, ecdhFirst) => (ecdh === null ? kem : Buffer.concat(ecdhFirst ? [ecdh, kem] : [kem, ecdh]));

// Node's ECDH key from a scalar: { pub, secretWith(peerPoint) }
function ecdhKey(curve, scalar) {
  if (curve === 'x25519') {
    const priv = crypto.createPrivateKey({ key: scalar, format: 'raw-private', asymmetricKeyType: 'x25519' });
    return {
      pub: crypto.createPublicKey(priv).export({ format: 'raw-public' }),
      secretWith: (peer) => crypto.diffieHellman({
        privateKey: priv,
        publicKey: crypto.createPublicKey({ key: peer, format: 'raw-public', asymmetricKeyType: 'x25519' }),
      }),
    };
  }
  const e = crypto.createECDH(curve);
  if (scalar === null) e.generateKeys(); else e.setPrivateKey(scalar);
  return { pub: e.getPublicKey(), secretWith: (peer) => e.computeSecret(peer) };
}

function ephemeral(curve) {
  if (curve === 'x25519') {
    const { privateKey } = crypto.generateKeyPairSync('x25519');
    return ecdhKey('x25519', privateKey.export({ format: 'raw-private' }));
  }
  return ecdhKey(curve, null);
}

function answer(line) {
  const f = line.split(' ');
  if (f.length !== 5) throw new Error(`request: ${f.length} fields, want 5`);
  const L = LAYOUT[f[0]];
  if (!L) throw new Error(`request: unknown algorithm ${f[0]}`);
  const [type, ekLen, ctLen, curve, pointLen, ecdhFirst] = L;
  const seed = unhex(f[1]);
  const scalar = f[2] === '-' ? null : unhex(f[2]);
  const providerPub = unhex(f[3]);
  const providerCt = unhex(f[4]);

  // Node's key pair; its public key and its decapsulation of the provider's ct.
  const mPriv = crypto.createPrivateKey({ key: seed, format: 'raw-seed', asymmetricKeyType: type });
  const mPub = crypto.createPublicKey(mPriv).export({ format: 'raw-public' });
  const mine = curve ? ecdhKey(curve, scalar) : null;
  const nodePub = join(mPub, mine ? mine.pub : null, ecdhFirst);
  const pc = split(providerCt, ctLen, pointLen, ecdhFirst);
  const ssFromProvider = join(crypto.decapsulate(mPriv, pc.kem),
    mine ? mine.secretWith(pc.ecdh) : null, ecdhFirst);

  // Node encapsulates to the provider's public key.
  const pp = split(providerPub, ekLen, pointLen, ecdhFirst);
  const ek = crypto.createPublicKey({ key: pp.kem, format: 'raw-public', asymmetricKeyType: type });
  const { sharedKey, ciphertext } = crypto.encapsulate(ek);
  const eph = curve ? ephemeral(curve) : null;
  const nodeCt = join(ciphertext, eph ? eph.pub : null, ecdhFirst);
  const nodeSs = join(sharedKey, eph ? eph.secretWith(pp.ecdh) : null, ecdhFirst);

  return ['ok', hex(nodePub), hex(ssFromProvider), hex(nodeCt), hex(nodeSs)].join(' ');
}

const [requestFile] = process.argv.slice(2);
if (!requestFile) {
  process.stderr.write('usage: node provider_crosscheck.mjs <request_file>\n');
  process.exit(2);
}
const out = [];
for (const line of fs.readFileSync(requestFile, 'latin1').split('\n').filter((l) => l.length > 0)) {
  try {
    out.push(answer(line));
  } catch (e) {
    out.push(`err ${String(e && e.message).replace(/\s+/g, ' ')}`);
  }
}
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
