// Drives the wallet page in Debian's Chromium (playwright-core, never a downloaded browser) with
// an injected EIP-1193 wallet announced through EIP-6963. The wallet forwards JSON-RPC to anvil
// and signs eth_signTypedData_v4 / eth_sendTransaction with a test key (viem), so the page runs
// its real wallet code. Run by relayer/tests/it/web.rs, which starts anvil and the relayer
// (serving web/dist) and checks on chain what the page did.
//
// Environment:
//   SHIFTPAY_WEB_URL          the page (the relayer's base URL)
//   SHIFTPAY_RPC_URL          anvil, where the test wallet sends everything
//   SHIFTPAY_CHAIN_ID         the deployment's chain id (33)
//   SHIFTPAY_WORKER_KEY       key of the stream's worker (also the job's freelancer)
//   SHIFTPAY_CLIENT_KEY       key of the job's client
//   SHIFTPAY_STREAM_ID        the worker's stream
//   SHIFTPAY_DEBT_STREAM_ID   another stream of the worker, from an employer whose pool is short
//   SHIFTPAY_JOB_ID           the job (milestone 0 submitted, milestone 1 funded)
//   SHIFTPAY_DELIVERABLE      the text the worker submits for milestone 1 (its keccak256 goes on chain)
//   SHIFTPAY_CHANGES_REASON   the changes the client then asks for on milestone 1 (its keccak256 too)
//   SHIFTPAY_WITHDRAW_AMOUNT  human amount withdrawn by a transaction (e.g. 0.5)
//   SHIFTPAY_GASLESS_AMOUNT   human amount withdrawn gaslessly (e.g. 0.25)
//   SHIFTPAY_SCREENSHOT_DIR   where the PNG screenshots go
//   SHIFTPAY_CHROMIUM         the browser (default /usr/bin/chromium)
//   SHIFTPAY_TIMEOUT_MS       bound of the whole run (default 240000)
// Prints one JSON line on stdout (what happened, tx hashes, screenshots); exit 0 when every
// step passed, 1 with the reason on stderr otherwise (and a failure-*.png screenshot), 3 when
// Chromium is missing.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { privateKeyToAccount } from 'viem/accounts';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) fail(`set ${name}`);
  return value;
};

function fail(message) {
  process.stderr.write(`browser.mjs: ${message}\n`);
  process.exit(1);
}

const executablePath = env('SHIFTPAY_CHROMIUM', '/usr/bin/chromium');
if (!existsSync(executablePath)) {
  process.stderr.write(
    `browser.mjs: Chromium is missing at ${executablePath}. \`make test\` installs it (\`make chromium\`: apt-get install -y chromium); or run \`apt-get update && apt-get install -y chromium\`.\n`,
  );
  process.exit(3);
}

const WEB_URL = env('SHIFTPAY_WEB_URL').replace(/\/$/, '');
const RPC_URL = env('SHIFTPAY_RPC_URL');
const CHAIN_ID = Number(env('SHIFTPAY_CHAIN_ID', '33'));
const STREAM = env('SHIFTPAY_STREAM_ID');
const JOB = env('SHIFTPAY_JOB_ID');
const DEBT_STREAM = env('SHIFTPAY_DEBT_STREAM_ID');
const DELIVERABLE = env('SHIFTPAY_DELIVERABLE');
const CHANGES_REASON = env('SHIFTPAY_CHANGES_REASON');
const WITHDRAW_AMOUNT = env('SHIFTPAY_WITHDRAW_AMOUNT', '0.5');
const GASLESS_AMOUNT = env('SHIFTPAY_GASLESS_AMOUNT', '0.25');
const SHOTS = env('SHIFTPAY_SCREENSHOT_DIR');
const TIMEOUT_MS = Number(env('SHIFTPAY_TIMEOUT_MS', '240000'));
/** The chain the worker's wallet starts on: not the deployment's, and unknown to... nobody. */
const OTHER_CHAIN = 31337;

mkdirSync(SHOTS, { recursive: true });
rmSync(path.join(SHOTS, 'failure.png'), { force: true });
setTimeout(() => fail(`not done within ${TIMEOUT_MS} ms`), TIMEOUT_MS).unref();

const hex = (n) => `0x${n.toString(16)}`;
let rpcId = 0;
async function rpc(method, params) {
  rpcId += 1;
  const response = await fetch(RPC_URL, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code, data: answer.error.data });
  return answer.result;
}

function rpcError(code, message) {
  return Object.assign(new Error(message), { code });
}

/** The test wallet: its chain, its key, knobs to refuse, and a record of what it did. */
class TestWallet {
  constructor(key, startChain) {
    this.account = privateKeyToAccount(key);
    this.address = this.account.address.toLowerCase();
    this.chainId = startChain;
    this.known = new Set([startChain]);
    this.refuseSwitch = false;
    this.rejectSign = false;
    this.sent = [];
    this.signed = [];
    this.added = [];
    this.methods = [];
    this.page = undefined;
  }

  emit(event, arg) {
    this.page?.evaluate(([e, a]) => window.__shiftpayEmit?.(e, a), [event, arg]).catch(() => {});
  }

  async handle(method, params) {
    this.methods.push(method);
    switch (method) {
      case 'eth_chainId':
        return hex(this.chainId);
      case 'net_version':
        return String(this.chainId);
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [this.address];
      case 'wallet_switchEthereumChain': {
        const target = Number(BigInt(params[0].chainId));
        if (this.refuseSwitch) throw rpcError(4001, 'User rejected the request.');
        if (!this.known.has(target)) throw rpcError(4902, `Unrecognized chain ID "${params[0].chainId}". Try adding the chain using wallet_addEthereumChain first.`);
        if (target !== this.chainId) {
          this.chainId = target;
          setTimeout(() => this.emit('chainChanged', hex(target)), 0);
        }
        return null;
      }
      case 'wallet_addEthereumChain': {
        if (this.refuseSwitch) throw rpcError(4001, 'User rejected the request.');
        this.added.push(params[0]);
        this.known.add(Number(BigInt(params[0].chainId)));
        return null;
      }
      case 'eth_signTypedData_v4': {
        if (this.rejectSign) throw rpcError(4001, 'MetaMask Typed Message Signature: User denied message signature.');
        const [from, json] = params;
        if (from.toLowerCase() !== this.address) throw rpcError(-32602, `unknown account ${from}`);
        const data = typeof json === 'string' ? JSON.parse(json) : json;
        // Like MetaMask: typed data for another chain than the wallet's is refused.
        if (Number(data.domain.chainId) !== this.chainId) {
          throw rpcError(-32602, `Provided chainId "${data.domain.chainId}" must match the active chainId "${this.chainId}"`);
        }
        const types = { ...data.types };
        delete types.EIP712Domain;
        const message = { ...data.message };
        for (const field of types[data.primaryType]) {
          if (/^u?int\d*$/.test(field.type)) message[field.name] = BigInt(message[field.name]);
        }
        const domain = { ...data.domain, chainId: Number(data.domain.chainId) };
        const signature = await this.account.signTypedData({ domain, types, primaryType: data.primaryType, message });
        this.signed.push({ primaryType: data.primaryType, domain, message: data.message });
        return signature;
      }
      case 'eth_sendTransaction': {
        const tx = params[0];
        this.sent.push({ request: tx, chainId: this.chainId });
        if (this.chainId !== CHAIN_ID) throw rpcError(-32603, `the test wallet is on chain ${this.chainId}, it only sends on ${CHAIN_ID}`);
        if (tx.from && tx.from.toLowerCase() !== this.address) throw rpcError(-32602, `unknown account ${tx.from}`);
        const nonce = Number(BigInt(await rpc('eth_getTransactionCount', [this.address, 'pending'])));
        const gas = tx.gas ? BigInt(tx.gas) : BigInt(await rpc('eth_estimateGas', [{ ...tx, from: this.address }]));
        const gasPrice = tx.gasPrice ? BigInt(tx.gasPrice) : BigInt(await rpc('eth_gasPrice', []));
        const serialized = await this.account.signTransaction({
          type: 'legacy',
          chainId: CHAIN_ID,
          nonce,
          to: tx.to,
          data: tx.data ?? tx.input,
          value: tx.value ? BigInt(tx.value) : 0n,
          gas,
          gasPrice,
        });
        const hash = await rpc('eth_sendRawTransaction', [serialized]);
        this.sent[this.sent.length - 1].hash = hash;
        return hash;
      }
      default:
        if (this.chainId !== CHAIN_ID) throw rpcError(-32603, `the test wallet cannot read chain ${this.chainId}`);
        return rpc(method, params ?? []);
    }
  }
}

/** Injected before the page's scripts: the EIP-1193 provider, announced through EIP-6963. */
function injectWallet() {
  const listeners = {};
  const provider = {
    async request({ method, params }) {
      const answer = await window.__shiftpayWallet({ method, params: params ?? [] });
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        throw error;
      }
      return answer.result;
    },
    on(event, listener) {
      (listeners[event] ??= []).push(listener);
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] ?? []).filter((l) => l !== listener);
    },
  };
  window.__shiftpayEmit = (event, arg) => (listeners[event] ?? []).forEach((l) => l(arg));
  const info = {
    uuid: '5f1c2a5e-0b6e-4c39-9b1a-5b2f1d7a9e01',
    name: 'ShiftPay Test Wallet',
    icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23333'/%3E%3C/svg%3E",
    rdns: 'org.shiftpay.testwallet',
  };
  const announce = () =>
    window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }));
  window.addEventListener('eip6963:requestProvider', announce);
  announce();
}

async function openPage(browser, wallet, label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.exposeFunction('__shiftpayWallet', async ({ method, params }) => {
    try {
      return { result: (await wallet.handle(method, params)) ?? null };
    } catch (err) {
      return { error: { code: err.code ?? -32603, message: err.message } };
    }
  });
  await context.addInitScript(injectWallet);
  const page = await context.newPage();
  wallet.page = page;
  const posts = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().includes('/v1/requests')) posts.push(request.postDataJSON());
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') process.stderr.write(`[${label} console] ${msg.text()}\n`);
  });
  page.on('pageerror', (err) => process.stderr.write(`[${label} page error] ${err.message}\n`));
  await page.goto(`${WEB_URL}/?poll=2`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20000 });
  return { page, posts, context };
}

const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Waits for the notice to be of `kind` and contain `text`; returns its text. */
async function notice(page, kind, text, timeout = 30000) {
  const locator = page.locator(`[data-testid="notice"][data-kind="${kind}"]`, { hasText: text });
  try {
    await locator.waitFor({ timeout });
  } catch {
    const current = await page.locator('[data-testid="notice"]').textContent().catch(() => '');
    throw new Error(`no ${kind} notice containing "${text}" within ${timeout} ms; the notice says: ${current}`);
  }
  return (await locator.textContent()).trim();
}

async function shot(page, name, width) {
  await page.setViewportSize({ width, height: width < 600 ? 812 : 900 });
  // From the top: the sticky header would otherwise be drawn where the page was scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(300);
  const file = path.join(SHOTS, `${name}-${width}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function main() {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const out = { screenshots: [] };
  let current;
  try {
    // ---- the worker ------------------------------------------------------------------------
    const worker = new TestWallet(env('SHIFTPAY_WORKER_KEY'), OTHER_CHAIN);
    const w = await openPage(browser, worker, 'worker');
    current = w.page;
    const page = w.page;
    out.worker = worker.address;

    // 1. Wrong chain, and the user declines the switch: a message, no view, nothing sent.
    worker.refuseSwitch = true;
    await byTestId(page, 'connect').click();
    out.wrongChainAtConnect = await notice(page, 'error', 'Wrong network');
    check(await byTestId(page, 'switch-network').isVisible(), 'no "Switch network" button on the wrong chain');
    check(!(await page.locator('#views').isVisible()), 'the views show on the wrong chain');
    out.shotWrongChain = await shot(page, 'worker-wrong-chain', 375);
    out.screenshots.push(out.shotWrongChain);
    await page.setViewportSize({ width: 1280, height: 900 });

    // 2. The switch accepted: the wallet does not know the chain (4902), the page adds it.
    worker.refuseSwitch = false;
    await byTestId(page, 'switch-network').click();
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
    check(worker.chainId === CHAIN_ID, `the wallet is on ${worker.chainId} after the switch`);
    check(worker.added.length === 1 && Number(BigInt(worker.added[0].chainId)) === CHAIN_ID, `wallet_addEthereumChain: ${JSON.stringify(worker.added)}`);
    out.addedChain = worker.added[0];
    out.network = (await byTestId(page, 'network').textContent()).trim();

    // 3. The balance ticks between reads.
    const balance = byTestId(page, `stream-balance-${STREAM}`);
    await balance.waitFor({ timeout: 20000 });
    const units = async () => BigInt(await balance.getAttribute('data-units'));
    const first = await units();
    const firstText = (await balance.textContent()).trim();
    await page.waitForTimeout(2500);
    const second = await units();
    const secondText = (await balance.textContent()).trim();
    check(second > first, `the balance did not tick: ${first} then ${second}`);
    check(firstText !== secondText, `the balance text did not change: ${firstText}`);
    out.tick = { first: first.toString(), second: second.toString(), firstText, secondText };
    out.rate = (await byTestId(page, `stream-rate-${STREAM}`).textContent()).trim();
    // The stream whose employer's pool is short shows the debt.
    const debt = byTestId(page, `stream-debt-${DEBT_STREAM}`);
    await debt.waitFor({ timeout: 20000 });
    out.debtNotice = (await debt.textContent()).trim();
    check(out.debtNotice.includes('pool is short'), `no debt shown: ${out.debtNotice}`);

    // 4. Withdraw by transaction: legacy with an explicit gas price.
    await byTestId(page, `withdraw-amount-${STREAM}`).fill(WITHDRAW_AMOUNT);
    await byTestId(page, `withdraw-${STREAM}`).click();
    out.withdrawNotice = await notice(page, 'success', 'confirmed', 60000);
    check(worker.sent.length === 1, `${worker.sent.length} transactions sent for one withdrawal`);
    const sent = worker.sent[0];
    check(sent.request.gasPrice, `no explicit gasPrice: ${JSON.stringify(sent.request)}`);
    check(!sent.request.maxFeePerGas, `an EIP-1559 fee: ${JSON.stringify(sent.request)}`);
    check(sent.request.type === undefined || sent.request.type === '0x0', `not a legacy transaction: ${sent.request.type}`);
    out.withdrawTx = sent.hash;
    out.withdrawRequest = sent.request;
    const link = await page.locator('[data-testid="notice"] [data-tx-hash]').getAttribute('data-tx-hash');
    check(link === sent.hash, `the notice shows ${link}, the wallet sent ${sent.hash}`);

    // 5. The wallet moves to another chain and refuses to come back: messages, nothing sent.
    worker.chainId = OTHER_CHAIN;
    worker.refuseSwitch = true;
    const postsBefore = w.posts.length;
    await byTestId(page, `withdraw-amount-${STREAM}`).fill(WITHDRAW_AMOUNT);
    await byTestId(page, `withdraw-${STREAM}`).click();
    out.wrongChainWithdraw = await notice(page, 'error', 'Wrong network');
    await byTestId(page, `withdraw-amount-${STREAM}`).fill(GASLESS_AMOUNT);
    await byTestId(page, `withdraw-gasless-${STREAM}`).click();
    out.wrongChainGasless = await notice(page, 'error', 'declined');
    check(out.wrongChainGasless.includes('Wrong network'), `gasless on the wrong chain: ${out.wrongChainGasless}`);
    check(worker.sent.length === 1, `a transaction was sent on the wrong chain: ${JSON.stringify(worker.sent.slice(1))}`);
    check(worker.signed.length === 0, 'something was signed on the wrong chain');
    check(w.posts.length === postsBefore, 'a request was posted to the relayer on the wrong chain');
    out.wrongChainSent = { transactions: worker.sent.length - 1, signatures: worker.signed.length, posts: w.posts.length - postsBefore };
    worker.refuseSwitch = false;
    worker.chainId = CHAIN_ID;
    worker.emit('chainChanged', hex(CHAIN_ID));

    // 6. A declined signature: a message, nothing posted to the relayer.
    worker.rejectSign = true;
    await byTestId(page, `withdraw-amount-${STREAM}`).fill(GASLESS_AMOUNT);
    await byTestId(page, `withdraw-gasless-${STREAM}`).click();
    out.rejectedNotice = await notice(page, 'error', 'declined to sign');
    check(w.posts.length === postsBefore, 'a request was posted after a declined signature');
    check(worker.signed.length === 0, 'a declined signature was recorded as signed');
    out.rejectedSent = { signatures: worker.signed.length, posts: w.posts.length - postsBefore };
    worker.rejectSign = false;

    // 7. Withdraw without gas: signed, posted, followed until confirmed; the relayer pays.
    await byTestId(page, `withdraw-amount-${STREAM}`).fill(GASLESS_AMOUNT);
    await byTestId(page, `withdraw-gasless-${STREAM}`).click();
    out.gaslessNotice = await notice(page, 'success', 'gas paid by the relayer', 60000);
    check(worker.signed.length === 1 && worker.signed[0].primaryType === 'WithdrawRequest', `signed: ${JSON.stringify(worker.signed)}`);
    check(w.posts.length === postsBefore + 1, `${w.posts.length - postsBefore} requests posted for one gasless withdrawal`);
    out.gaslessBody = w.posts[w.posts.length - 1];
    out.gaslessTx = await page.locator('[data-testid="notice"] [data-tx-hash]').getAttribute('data-tx-hash');
    check(/^0x[0-9a-f]{64}$/.test(out.gaslessTx ?? ''), `no tx hash in the notice: ${out.gaslessTx}`);
    check(worker.sent.length === 1, 'the gasless withdrawal made the wallet send a transaction');
    out.workerTransactions = worker.sent.length;
    out.workerSignatures = worker.signed.length;
    out.workerPosts = w.posts.length;
    // 8. The freelancer submits milestone 2 (its deliverable's hash, by transaction).
    await byTestId(page, `deliverable-${JOB}-1`).fill(DELIVERABLE);
    await byTestId(page, `submit-${JOB}-1`).click();
    out.submitNotice = await notice(page, 'success', 'confirmed', 60000);
    check(worker.sent.length === 2, `${worker.sent.length} transactions after the submission`);
    out.submitTx = worker.sent[1].hash;
    await page.locator(`[data-testid="milestone-status-worker-${JOB}-1"]`, { hasText: 'Submitted' }).waitFor({ timeout: 20000 });

    out.screenshots.push(await shot(page, 'worker', 1280));
    out.screenshots.push(await shot(page, 'worker', 375));

    // ---- the client ------------------------------------------------------------------------
    const client = new TestWallet(env('SHIFTPAY_CLIENT_KEY'), CHAIN_ID);
    const c = await openPage(browser, client, 'client');
    current = c.page;
    out.client = client.address;
    await byTestId(c.page, 'connect').click();
    await c.page.waitForSelector('body[data-loaded="true"]', { timeout: 30000 });
    await byTestId(c.page, 'tab-client').click();
    const status = byTestId(c.page, `milestone-status-client-${JOB}-0`);
    await status.waitFor({ timeout: 20000 });
    out.milestoneBefore = (await status.textContent()).trim();
    check(out.milestoneBefore === 'Submitted', `milestone 0 is ${out.milestoneBefore}, not Submitted`);
    out.screenshots.push(await shot(c.page, 'client', 1280));
    out.screenshots.push(await shot(c.page, 'client', 375));
    await c.page.setViewportSize({ width: 1280, height: 900 });

    // 9. Approve by signature, relayed: no transaction from the client.
    await byTestId(c.page, `approve-gasless-${JOB}-0`).click();
    out.approveNotice = await notice(c.page, 'success', 'gas paid by the relayer', 60000);
    out.approveTx = await c.page.locator('[data-testid="notice"] [data-tx-hash]').getAttribute('data-tx-hash');
    check(client.signed.length === 1 && client.signed[0].primaryType === 'Approval', `signed: ${JSON.stringify(client.signed)}`);
    check(client.sent.length === 0, 'the client sent a transaction for a gasless approval');
    await c.page.locator(`[data-testid="milestone-status-client-${JOB}-0"]`, { hasText: 'Released' }).waitFor({ timeout: 20000 });
    out.milestoneAfter = 'Released';
    out.clientPosts = c.posts.length;
    out.screenshots.push(await shot(c.page, 'client-approved', 375));

    // 10. Request changes on milestone 2 (submitted by the freelancer above), by transaction:
    // an empty reason is refused with nothing sent, then the reason's hash goes on chain.
    await byTestId(c.page, `request-changes-${JOB}-1`).click();
    out.emptyReasonNotice = await notice(c.page, 'error', 'Nothing was sent');
    check(client.sent.length === 0, 'a change request without a reason was sent');
    await byTestId(c.page, `reason-${JOB}-1`).fill(CHANGES_REASON);
    await byTestId(c.page, `request-changes-${JOB}-1`).click();
    out.changesNotice = await notice(c.page, 'success', 'confirmed', 60000);
    check(client.sent.length === 1, `${client.sent.length} transactions for one change request`);
    const changes = client.sent[0];
    check(changes.request.gasPrice && !changes.request.maxFeePerGas, `not a legacy transaction: ${JSON.stringify(changes.request)}`);
    out.changesTx = changes.hash;
    await c.page.locator(`[data-testid="milestone-status-client-${JOB}-1"]`, { hasText: 'Changes requested' }).waitFor({ timeout: 20000 });
    out.clientTransactions = client.sent.length;
  } catch (err) {
    if (current) {
      const file = path.join(SHOTS, 'failure.png');
      await current.screenshot({ path: file, fullPage: true }).catch(() => {});
      process.stderr.write(`browser.mjs: failure screenshot: ${file}\n`);
    }
    await browser.close();
    fail(err.stack ?? String(err));
  }
  await browser.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch((err) => fail(err.stack ?? String(err)));
