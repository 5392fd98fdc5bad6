// The page's state and the two ways it acts on chain: a transaction sent by the wallet (legacy,
// explicit gas price: Rootstock takes no EIP-1559 transactions) and a signature relayed for free.
import {
  type Abi,
  type AbiEvent,
  type Address,
  type Chain,
  type Hex,
  type Log,
  type PublicClient,
  type WalletClient,
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  custom,
} from 'viem';
import type { DeploymentConfig } from './config';
import { h, byId } from './dom';
import { txLink } from './format';
import { RelayerError, type RequestState, followRequest, submitRequest } from './relayer';
import { typedData } from './typed';
import { type Eip1193Provider, WalletError, ensureChain, isRejection } from './wallet';

export interface Connection {
  provider: Eip1193Provider;
  account: Address;
  pub: PublicClient;
  wallet: WalletClient;
}

export class App {
  connection?: Connection;
  /** Set while the wallet is on another chain: nothing is read or sent. */
  wrongChain = false;
  private logCache = new Map<string, { scannedTo: bigint; logs: Log[] }>();
  /** Called after every confirmed action and on each poll. */
  onRefresh: () => Promise<void> = async () => {};

  constructor(
    readonly base: string,
    readonly config: DeploymentConfig,
    readonly chain: Chain,
  ) {}

  connect(provider: Eip1193Provider, account: Address): Connection {
    const transport = custom(provider);
    this.connection = {
      provider,
      account,
      pub: createPublicClient({ chain: this.chain, transport }) as PublicClient,
      wallet: createWalletClient({ chain: this.chain, transport, account }),
    };
    this.logCache.clear();
    return this.connection;
  }

  get conn(): Connection {
    if (!this.connection) throw new WalletError('missing', 'Connect your wallet first.');
    return this.connection;
  }

  // ---- notices and the activity list ----------------------------------------------------------

  notify(kind: 'info' | 'success' | 'error', text: string, extra?: Node): void {
    const notice = byId('notice');
    notice.replaceChildren(h('span', {}, text));
    if (extra) notice.append(h('span', { class: 'notice-extra' }, ' ', extra));
    notice.dataset.kind = kind;
    notice.hidden = false;
  }

  clearNotice(): void {
    const notice = byId('notice');
    notice.hidden = true;
    notice.replaceChildren();
    delete notice.dataset.kind;
  }

  /** A new entry of the activity list, updated as the action progresses. */
  activity(label: string) {
    const list = byId('activity-list');
    const state = h('span', { class: 'activity-state' }, 'starting');
    const link = h('span', { class: 'activity-link' });
    const item = h('li', { class: 'activity-item', testid: 'activity' }, h('strong', {}, label), ' ', state, ' ', link);
    item.dataset.state = 'pending';
    list.prepend(item);
    byId('activity').hidden = false;
    return {
      update(text: string, hash?: string | null, config?: DeploymentConfig) {
        state.textContent = text;
        if (hash && config && !link.dataset.hash) {
          link.dataset.hash = hash;
          link.replaceChildren(txLink(config, hash));
        }
      },
      finish(ok: boolean, text: string) {
        state.textContent = text;
        item.dataset.state = ok ? 'done' : 'failed';
      },
    };
  }

  // ---- chain reads ------------------------------------------------------------------------------

  /** Logs of `event` at `address` matching `args`, from the deployment block, paged by `logRange`. */
  async logs(address: Address, event: AbiEvent, args: Record<string, unknown>): Promise<Log[]> {
    const { pub } = this.conn;
    const key = `${address}:${event.name}:${JSON.stringify(args)}`;
    const cached = this.logCache.get(key) ?? { scannedTo: BigInt(this.config.deploymentBlock) - 1n, logs: [] };
    const head = await pub.getBlockNumber();
    const step = BigInt(Math.max(1, this.config.logRange));
    for (let from = cached.scannedTo + 1n; from <= head; from += step) {
      const to = from + step - 1n < head ? from + step - 1n : head;
      const page = await pub.getLogs({ address, event, args, fromBlock: from, toBlock: to } as Parameters<PublicClient['getLogs']>[0]);
      cached.logs.push(...(page as Log[]));
      cached.scannedTo = to;
    }
    this.logCache.set(key, cached);
    return cached.logs;
  }

  async read<T>(address: Address, abi: Abi, functionName: string, args: unknown[] = []): Promise<T> {
    return (await this.conn.pub.readContract({ address, abi, functionName, args })) as T;
  }

  // ---- acting -----------------------------------------------------------------------------------

  /** The wallet is connected and on the chain (switching if needed); false after a notice. */
  async ready(): Promise<boolean> {
    try {
      await ensureChain(this.conn.provider, this.chain);
      this.wrongChain = false;
      document.body.dataset.wrongChain = 'false';
      byId('switch-network').hidden = true;
      return true;
    } catch (err) {
      this.fail(err);
      if (err instanceof WalletError && err.kind === 'wrong_chain') {
        this.wrongChain = true;
        document.body.dataset.wrongChain = 'true';
        byId('switch-network').hidden = false;
      }
      return false;
    }
  }

  /** Shows an error as a notice, with the clearest message available. */
  fail(err: unknown, prefix = ''): void {
    console.error(err);
    let text: string;
    if (err instanceof WalletError || err instanceof RelayerError) text = err.message;
    else if (isRejection(err)) text = 'You declined the request in your wallet. Nothing was sent.';
    else text = revertReason(err);
    this.notify('error', prefix ? `${prefix}: ${text}` : text);
  }

  /**
   * Sends `functionName(args)` as a legacy transaction with an explicit gas price, after a
   * simulation (a call that would revert is refused with its decoded error, nothing sent).
   */
  async transact(label: string, address: Address, abi: Abi, functionName: string, args: unknown[]): Promise<boolean> {
    if (!(await this.ready())) return false;
    const { pub, wallet, account } = this.conn;
    const call = { address, abi, functionName, args, account };
    let gas: bigint;
    let gasPrice: bigint;
    try {
      await pub.simulateContract(call);
      const estimate = await pub.estimateContractGas(call);
      gas = (estimate * BigInt(100 + this.config.gasMarginPct)) / 100n;
      gasPrice = await pub.getGasPrice();
    } catch (err) {
      this.fail(err, `${label} would fail, nothing was sent`);
      return false;
    }
    this.notify('info', `${label}: confirm the transaction in your wallet…`);
    let hash: Hex;
    try {
      hash = await wallet.writeContract({ ...call, chain: this.chain, gas, gasPrice, type: 'legacy' } as Parameters<WalletClient['writeContract']>[0]);
    } catch (err) {
      if (isRejection(err)) this.notify('error', `You declined the transaction in your wallet. Nothing was sent.`);
      else this.fail(err, label);
      return false;
    }
    const item = this.activity(label);
    item.update('sent, waiting for the block…', hash, this.config);
    this.notify('info', `${label}: sent, waiting for it to be mined`, txLink(this.config, hash));
    try {
      const receipt = await pub.waitForTransactionReceipt({ hash, pollingInterval: 1000, timeout: 15 * 60 * 1000 });
      if (receipt.status !== 'success') {
        item.finish(false, 'reverted');
        this.notify('error', `${label}: the transaction reverted`, txLink(this.config, hash));
        return false;
      }
      item.finish(true, 'confirmed');
      this.notify('success', `${label}: confirmed`, txLink(this.config, hash));
    } catch (err) {
      item.finish(false, 'unknown');
      this.fail(err, `${label}: no receipt yet (it may still be mined)`);
      return false;
    }
    await this.onRefresh();
    return true;
  }

  /**
   * Signs `primaryType` with eth_signTypedData_v4 and submits it to the relayer, which pays the
   * gas; follows the request until its transaction is confirmed (or refused).
   */
  async relay(
    label: string,
    kind: 'withdraw' | 'approve',
    contract: 'payroll' | 'escrow',
    primaryType: string,
    message: Record<string, bigint | Address>,
  ): Promise<boolean> {
    if (!(await this.ready())) return false;
    const { wallet, account } = this.conn;
    const data = typedData(this.config, contract, primaryType, message);
    this.notify('info', `${label}: sign the request in your wallet (no gas, no transaction)…`);
    let signature: Hex;
    try {
      signature = await wallet.signTypedData({ account, ...data } as Parameters<WalletClient['signTypedData']>[0]);
    } catch (err) {
      if (isRejection(err)) {
        this.notify('error', 'You declined to sign in your wallet. Nothing was sent to the relayer.');
      } else {
        this.fail(err, `${label}: the wallet did not sign`);
      }
      return false;
    }
    const body: Record<string, unknown> = {
      kind,
      chainId: this.config.chainId,
      contract: data.domain.verifyingContract,
    };
    for (const [field, value] of Object.entries(message)) body[field] = String(value);
    body.signature = signature;
    const item = this.activity(`${label} (gasless)`);
    item.update('submitting to the relayer…');
    let id: string;
    try {
      id = await submitRequest(this.base, body);
    } catch (err) {
      item.finish(false, 'refused');
      this.fail(err, 'The relayer refused the request');
      return false;
    }
    this.notify('info', `${label}: the relayer accepted the request, it pays the gas`);
    let final: RequestState;
    try {
      final = await followRequest(this.base, id, (state) => {
        item.update(describe(state), state.txHash, this.config);
        const link = state.txHash ? txLink(this.config, state.txHash) : undefined;
        if (state.status !== 'confirmed') this.notify('info', `${label}: ${describe(state)}`, link);
      });
    } catch (err) {
      item.finish(false, 'unknown');
      this.fail(err, label);
      return false;
    }
    const link = final.txHash ? txLink(this.config, final.txHash) : undefined;
    if (final.status === 'confirmed') {
      item.finish(true, 'confirmed');
      this.notify('success', `${label}: confirmed, gas paid by the relayer`, link);
      await this.onRefresh();
      return true;
    }
    item.finish(false, final.status);
    this.notify('error', `${label}: the relayer ${final.status} it${final.error ? `: ${final.error}` : ''}`, link);
    await this.onRefresh();
    return false;
  }
}

function describe(state: RequestState): string {
  switch (state.status) {
    case 'queued':
      return 'queued at the relayer';
    case 'sending':
      return 'the relayer is sending it';
    case 'sent':
      return 'transaction sent, waiting for confirmations';
    case 'confirmed':
      return 'confirmed';
    case 'rejected':
      return 'rejected before sending';
    default:
      return 'failed';
  }
}

/** The decoded custom error of a reverted call, or viem's short message. */
export function revertReason(err: unknown): string {
  if (err instanceof BaseError) {
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName;
      if (name) return `the contract refuses it (${name})`;
      if (reverted.reason) return `the contract refuses it (${reverted.reason})`;
    }
    return err.shortMessage;
  }
  return (err as Error)?.message ?? String(err);
}
