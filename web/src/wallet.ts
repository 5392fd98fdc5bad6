// The wallet: EIP-6963 discovery (window.ethereum as fallback), connection, and making sure the
// wallet is on the deployment's chain (wallet_switchEthereumChain, then wallet_addEthereumChain
// when the wallet does not know the chain). Every failure is a WalletError with a message for
// the user; nothing is sent when one is thrown.
import { type Address, type Chain, numberToHex } from 'viem';

/** An EIP-1193 provider. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

/** EIP-6963 provider info. */
export interface WalletInfo {
  uuid: string;
  name: string;
  icon: string;
  rdns: string;
}

export interface DiscoveredWallet {
  info: WalletInfo;
  provider: Eip1193Provider;
}

export type WalletErrorKind = 'rejected' | 'missing' | 'wrong_chain' | 'failed';

export class WalletError extends Error {
  constructor(
    readonly kind: WalletErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'WalletError';
  }
}

/** EIP-1193 "user rejected the request". */
export const USER_REJECTED = 4001;
/** "Unrecognized chain id": add it with wallet_addEthereumChain first. */
export const UNKNOWN_CHAIN = 4902;

/** The JSON-RPC error code of `err`, looking through viem's and wallets' wrappers. */
export function errorCode(err: unknown): number | undefined {
  let current: unknown = err;
  for (let depth = 0; current && depth < 8; depth += 1) {
    const e = current as { code?: unknown; data?: { originalError?: { code?: unknown } }; cause?: unknown };
    if (typeof e.code === 'number' && e.code !== -32603) return e.code;
    const original = e.data?.originalError?.code;
    if (typeof original === 'number') return original;
    current = e.cause;
  }
  const message = String((err as Error)?.message ?? '');
  if (/user (rejected|denied)/i.test(message)) return USER_REJECTED;
  if (/unrecognized chain/i.test(message)) return UNKNOWN_CHAIN;
  return undefined;
}

/** Whether the user declined in the wallet. */
export function isRejection(err: unknown): boolean {
  return errorCode(err) === USER_REJECTED;
}

/**
 * Wallets announced through EIP-6963 within `waitMs`; `window.ethereum` when none announced
 * itself; an empty list when there is no wallet at all.
 */
export function discoverWallets(waitMs = 300): Promise<DiscoveredWallet[]> {
  return new Promise((resolve) => {
    const found = new Map<string, DiscoveredWallet>();
    const onAnnounce = (event: Event) => {
      const detail = (event as CustomEvent<DiscoveredWallet>).detail;
      if (detail?.info?.uuid && detail.provider) found.set(detail.info.uuid, detail);
    };
    window.addEventListener('eip6963:announceProvider', onAnnounce);
    window.dispatchEvent(new Event('eip6963:requestProvider'));
    setTimeout(() => {
      window.removeEventListener('eip6963:announceProvider', onAnnounce);
      const wallets = [...found.values()];
      const injected = (window as unknown as { ethereum?: Eip1193Provider }).ethereum;
      if (wallets.length === 0 && injected) {
        wallets.push({
          info: { uuid: 'window.ethereum', name: 'Browser wallet', icon: '', rdns: 'window.ethereum' },
          provider: injected,
        });
      }
      resolve(wallets);
    }, waitMs);
  });
}

/** Asks the wallet for its accounts (the connection prompt). */
export async function requestAccount(provider: Eip1193Provider): Promise<Address> {
  let accounts: unknown;
  try {
    accounts = await provider.request({ method: 'eth_requestAccounts' });
  } catch (err) {
    if (isRejection(err)) {
      throw new WalletError('rejected', 'You declined the connection in your wallet. Nothing was sent.');
    }
    throw new WalletError('failed', `The wallet did not connect: ${(err as Error).message ?? err}`);
  }
  const list = Array.isArray(accounts) ? accounts : [];
  if (list.length === 0 || typeof list[0] !== 'string') {
    throw new WalletError('failed', 'The wallet returned no account: unlock it and try again.');
  }
  return (list[0] as string).toLowerCase() as Address;
}

/** The wallet's current chain id. */
export async function walletChainId(provider: Eip1193Provider): Promise<number> {
  return Number(BigInt((await provider.request({ method: 'eth_chainId' })) as string));
}

function wrongChain(current: number, chain: Chain, why: string): WalletError {
  return new WalletError(
    'wrong_chain',
    `Wrong network: your wallet is on chain ${current}, this page works on ${chain.name} (chain id ${chain.id}). ${why} Switch the network in your wallet and try again. Nothing was sent.`,
  );
}

/**
 * Makes sure the wallet is on `chain`: switches, adding the chain first when the wallet does not
 * know it (error 4902). Throws a `wrong_chain` WalletError when the user declines or the wallet
 * cannot switch.
 */
export async function ensureChain(provider: Eip1193Provider, chain: Chain): Promise<void> {
  const current = await walletChainId(provider);
  if (current === chain.id) return;
  const chainId = numberToHex(chain.id);
  try {
    await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
  } catch (err) {
    const code = errorCode(err);
    if (code === USER_REJECTED) throw wrongChain(current, chain, 'The network switch was declined.');
    if (code !== UNKNOWN_CHAIN) {
      throw wrongChain(current, chain, `The wallet could not switch (${(err as Error).message ?? err}).`);
    }
    const rpcUrls = [...chain.rpcUrls.default.http];
    if (rpcUrls.length === 0) {
      throw wrongChain(current, chain, 'The wallet does not know this network and there is no public RPC URL to add it with.');
    }
    try {
      await provider.request({
        method: 'wallet_addEthereumChain',
        params: [
          {
            chainId,
            chainName: chain.name,
            nativeCurrency: chain.nativeCurrency,
            rpcUrls,
            blockExplorerUrls: chain.blockExplorers ? [chain.blockExplorers.default.url] : undefined,
          },
        ],
      });
      // MetaMask switches after adding; others need the switch again.
      if ((await walletChainId(provider)) !== chain.id) {
        await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId }] });
      }
    } catch (addErr) {
      if (isRejection(addErr)) throw wrongChain(current, chain, 'Adding the network was declined.');
      throw wrongChain(current, chain, `The wallet could not add the network (${(addErr as Error).message ?? addErr}).`);
    }
  }
  const now = await walletChainId(provider);
  if (now !== chain.id) throw wrongChain(now, chain, 'The wallet did not switch.');
}
