// Verify keyless signatures with Node's crypto (OpenSSL 3.5), an implementation apart from
// the libcrypto 3.0 the key server signs with. Input: a file of lines
//   <alg> <public key PEM path> <message hex> <signature hex>
// alg: rsa-sha256 | rsa-pss-sha256 | ecdsa-sha256 | ecdsa-sha384 | ed25519.
// Prints "verified N" and exits 0 only if every line verifies.
import { readFileSync } from 'node:fs';
import crypto from 'node:crypto';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim() !== '');
let ok = 0;
for (const line of lines) {
  const [alg, pubPath, msgHex, sigHex] = line.trim().split(/\s+/);
  const key = crypto.createPublicKey(readFileSync(pubPath));
  const msg = Buffer.from(msgHex, 'hex');
  const sig = Buffer.from(sigHex, 'hex');
  let good;
  if (alg === 'ed25519') good = crypto.verify(null, msg, key, sig);
  else if (alg === 'rsa-pss-sha256')
    good = crypto.verify('sha256', msg, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
                                          saltLength: 32 }, sig);
  else good = crypto.verify(alg.split('-')[1], msg, key, sig);
  if (!good) {
    console.error(`node: ${alg} signature does not verify (${pubPath})`);
    process.exit(1);
  }
  ok++;
}
console.log(`verified ${ok}`);
