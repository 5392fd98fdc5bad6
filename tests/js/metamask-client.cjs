// An independent ShiftPay client, as a wallet page would be: it writes the EIP-712 typed data
// itself (its own copy of the domains and types, deliberately NOT produced by the Rust bindings),
// reads what it needs from the node over plain JSON-RPC, signs with @metamask/eth-sig-util
// `signTypedData` V4 (the code behind MetaMask's `eth_signTypedData_v4`), POSTs the request to the
// relayer's API and polls it until it is confirmed, rejected or failed.
//
// Usage:
//   CLIENT_PRIVATE_KEY=0x.. node metamask-client.cjs --rpc URL --api URL --contract 0x.. \
//     withdraw --stream-id N --to 0x.. --amount UNITS
//   CLIENT_PRIVATE_KEY=0x.. node metamask-client.cjs --rpc URL --api URL --contract 0x.. \
//     approve --job-id N --milestone I
// Options: --nonce N and --deadline UNIX (default: `nonces(signer)` read from the contract, and
// the latest block's timestamp + 1 hour); --domain-chain-id N signs for another chain id than the
// node's while the body still names the node's (a tampered signature the relayer must refuse);
// --timeout-ms MS bounds the whole run (default 60000).
//
// Prints ONE JSON line on stdout:
//   {"kind", "signer", "chainId", "domainChainId", "nonce", "deadline", "digest", "signature",
//    "httpStatus", "id", "status", "txHash", "error", "relayerDigest", "relayerSigner", "polls"}
// (`digest`: eth-sig-util's EIP-712 hash; `relayer*`: what GET /v1/requests/{id} reports)
// `httpStatus` is the POST's status; for a refused request `error` is the API's error object and
// nothing is polled. Exit code 0 whenever the relayer gave a final answer (the caller judges it),
// 1 on a usage error, a transport failure or the timeout (message on stderr).
'use strict';
const {
  signTypedData,
  recoverTypedSignature,
  TypedDataUtils,
  SignTypedDataVersion,
} = require('@metamask/eth-sig-util');
// eth-sig-util's own dependency (hoisted or nested under it), for the key's address (which a
// wallet knows).
const path = require('node:path');
const { privateToAddress } = require(require.resolve('@ethereumjs/util', {
  paths: [path.dirname(require.resolve('@metamask/eth-sig-util'))],
}));

// The typed data, as the wallet page writes it (see contracts/src/Payroll.sol and
// MilestoneEscrow.sol: `EIP712("ShiftPay Payroll", "1")`, `EIP712("ShiftPay MilestoneEscrow", "1")`
// and their *_TYPEHASH strings).
const EIP712_DOMAIN = [
  { name: 'name', type: 'string' },
  { name: 'version', type: 'string' },
  { name: 'chainId', type: 'uint256' },
  { name: 'verifyingContract', type: 'address' },
];
const KINDS = {
  withdraw: {
    domain: { name: 'ShiftPay Payroll', version: '1' },
    primaryType: 'WithdrawRequest',
    fields: [
      { name: 'streamId', type: 'uint256' },
      { name: 'to', type: 'address' },
      { name: 'amount', type: 'uint256' },
      { name: 'nonce', type: 'uint256' },
      { name: 'deadline', type: 'uint256' },
    ],
  },
  approve: {
    domain: { name: 'ShiftPay MilestoneEscrow', version: '1' },
    primaryType: 'Approval',
    fields: [
      { name: 'jobId', type: 'uint256' },
      { name: 'milestoneIndex', type: 'uint256' },
      { name: 'nonce', type: 'uint256' },
      { name: 'deadline', type: 'uint256' },
    ],
  },
};
// keccak256("nonces(address)")[0..4]: both contracts expose `nonces(address) returns (uint256)`.
const NONCES_SELECTOR = '0x7ecebe00';
// Request states after which nothing changes any more (relayer/src/store: RequestStatus).
const FINAL = new Set(['confirmed', 'rejected', 'failed']);

function fail(message) {
  process.stderr.write(`metamask-client: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const options = {};
  const positional = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg.startsWith('--')) {
      const value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) fail(`${arg} needs a value`);
      options[arg.slice(2)] = value;
      i += 1;
    } else {
      positional.push(arg);
    }
  }
  return { options, positional };
}

function need(options, name) {
  if (options[name] === undefined) fail(`--${name} is required`);
  return options[name];
}

function decimal(options, name) {
  const value = need(options, name);
  if (!/^[0-9]+$/.test(value)) fail(`--${name} must be a decimal integer, got ${value}`);
  return value;
}

function address(options, name) {
  const value = need(options, name);
  if (!/^0x[0-9a-fA-F]{40}$/.test(value)) fail(`--${name} must be an address, got ${value}`);
  return value;
}

async function main() {
  const { options, positional } = parseArgs(process.argv.slice(2));
  const kind = positional[0];
  if (!KINDS[kind]) fail(`the first argument is "withdraw" or "approve", got ${kind}`);
  const spec = KINDS[kind];
  const rpcUrl = need(options, 'rpc');
  const apiUrl = need(options, 'api').replace(/\/$/, '');
  const contract = address(options, 'contract');
  const timeoutMs = Number(options['timeout-ms'] || '60000');
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail('--timeout-ms must be a positive integer');
  const deadlineAt = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadlineAt - Date.now());
  setTimeout(() => fail(`no final answer within ${timeoutMs} ms`), timeoutMs).unref();

  const keyHex = process.env.CLIENT_PRIVATE_KEY || fail('set CLIENT_PRIVATE_KEY');
  const privateKey = Buffer.from(keyHex.replace(/^0x/, ''), 'hex');
  if (privateKey.length !== 32) fail('CLIENT_PRIVATE_KEY must be 32 bytes of hex');
  const signer = `0x${Buffer.from(privateToAddress(privateKey)).toString('hex')}`;

  let rpcId = 0;
  async function rpc(method, params) {
    rpcId += 1;
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: rpcId, method, params }),
      signal: AbortSignal.timeout(left()),
    });
    const answer = await response.json();
    if (answer.error) fail(`${method}: ${JSON.stringify(answer.error)}`);
    return answer.result;
  }

  // What a wallet page reads from the node.
  const chainId = Number(BigInt(await rpc('eth_chainId', [])));
  let nonce = options.nonce;
  if (nonce === undefined) {
    const data = NONCES_SELECTOR + signer.slice(2).toLowerCase().padStart(64, '0');
    nonce = BigInt(await rpc('eth_call', [{ to: contract, data }, 'latest'])).toString();
  } else {
    nonce = decimal(options, 'nonce');
  }
  let deadline = options.deadline;
  if (deadline === undefined) {
    const block = await rpc('eth_getBlockByNumber', ['latest', false]);
    deadline = (BigInt(block.timestamp) + 3600n).toString();
  } else {
    deadline = decimal(options, 'deadline');
  }
  const domainChainId = options['domain-chain-id'] === undefined
    ? chainId
    : Number(decimal(options, 'domain-chain-id'));

  const message = kind === 'withdraw'
    ? {
      streamId: decimal(options, 'stream-id'),
      to: address(options, 'to'),
      amount: decimal(options, 'amount'),
      nonce,
      deadline,
    }
    : {
      jobId: decimal(options, 'job-id'),
      milestoneIndex: decimal(options, 'milestone'),
      nonce,
      deadline,
    };
  // The API's body: the message's fields (decimal strings), the chain id the signer meant and
  // the contract (relayer/src/api/request.rs), and the signature below.
  const body = { kind, chainId, contract, ...message };
  const typedData = {
    types: { EIP712Domain: EIP712_DOMAIN, [spec.primaryType]: spec.fields },
    primaryType: spec.primaryType,
    domain: { ...spec.domain, chainId: domainChainId, verifyingContract: contract },
    message,
  };
  const version = SignTypedDataVersion.V4;
  const signature = signTypedData({ privateKey, data: typedData, version });
  const digest = `0x${Buffer.from(TypedDataUtils.eip712Hash(typedData, version)).toString('hex')}`;
  // The wallet's own sanity check: the signature recovers to the key's address.
  const recovered = recoverTypedSignature({ data: typedData, signature, version });
  if (recovered.toLowerCase() !== signer.toLowerCase()) {
    fail(`signature recovers to ${recovered}, not ${signer}`);
  }
  body.signature = signature;

  const posted = await fetch(`${apiUrl}/v1/requests`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(left()),
  });
  const accepted = await posted.json();
  const out = {
    kind,
    signer,
    chainId,
    domainChainId,
    nonce,
    deadline,
    digest,
    signature,
    httpStatus: posted.status,
    id: accepted.id ?? null,
    status: accepted.status ?? null,
    txHash: null,
    error: accepted.error ?? null,
    relayerDigest: null,
    relayerSigner: null,
    polls: 0,
  };
  if (posted.status === 200 || posted.status === 202) {
    // Accepted: poll the request until it is final.
    for (;;) {
      const polled = await fetch(`${apiUrl}/v1/requests/${accepted.id}`, {
        signal: AbortSignal.timeout(left()),
      });
      const state = await polled.json();
      out.polls += 1;
      if (polled.status !== 200) {
        fail(`GET /v1/requests/${accepted.id}: ${polled.status} ${JSON.stringify(state)}`);
      }
      out.status = state.status;
      out.txHash = state.txHash ?? null;
      out.error = state.error ?? null;
      out.relayerDigest = state.digest ?? null;
      out.relayerSigner = state.signer ?? null;
      if (FINAL.has(state.status)) break;
      await new Promise((resolve) => { setTimeout(resolve, Math.min(200, left())); });
    }
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch((err) => fail(err && err.stack ? err.stack : String(err)));
