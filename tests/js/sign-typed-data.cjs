// Signs EIP-712 typed data with @metamask/eth-sig-util, the implementation MetaMask and many
// wallets use, so the Rust tests can check ShiftPay's typed data against an independent signer.
// Input (stdin): {"privateKey": "0x..", "typedData": {types, primaryType, domain, message}}
// Output (stdout): {"signature": "0x..", "digest": "0x.."}
'use strict';
const { signTypedData, TypedDataUtils, SignTypedDataVersion } = require('@metamask/eth-sig-util');

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const { privateKey, typedData } = JSON.parse(input);
  const key = Buffer.from(privateKey.replace(/^0x/, ''), 'hex');
  const signature = signTypedData({ privateKey: key, data: typedData, version: SignTypedDataVersion.V4 });
  const digest = '0x' + TypedDataUtils.eip712Hash(typedData, SignTypedDataVersion.V4).toString('hex');
  process.stdout.write(JSON.stringify({ signature, digest }) + '\n');
});
