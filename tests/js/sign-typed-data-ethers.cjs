// Signs EIP-712 typed data with ethers v6 (its own typed-data encoder and secp256k1 signer, a
// second implementation independent of @metamask/eth-sig-util) and returns the signature in both
// encodings the contracts accept: 65-byte `r || s || v` and 64-byte EIP-2098 compact `r || vs`
// (`vs` = yParity << 255 | s), the latter from ethers' `Signature.compactSerialized`.
// Input (stdin): {"privateKey": "0x..", "typedData": {types, primaryType, domain, message}}
// Output (stdout): {"signature": "0x..", "compact": "0x..", "digest": "0x.."}
'use strict';
const { SigningKey, TypedDataEncoder } = require('ethers');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { privateKey, typedData } = JSON.parse(input);
  // ethers derives the domain type from the domain's fields; it must not be among the types.
  const { EIP712Domain, ...types } = typedData.types;
  const digest = TypedDataEncoder.hash(typedData.domain, types, typedData.message);
  const signature = new SigningKey(privateKey).sign(digest);
  process.stdout.write(JSON.stringify({
    signature: signature.serialized,
    compact: signature.compactSerialized,
    digest,
  }) + '\n');
});
