// What the page knows about the deployment: read at runtime from the relayer's `GET /v1/config`
// (chain, contracts, tokens, explorer, EIP-712 domains), never typed in here. The ABIs come from
// the committed artifacts (bindings/artifacts), imported at build time.
import { type Abi, type AbiEvent, type Address, type Chain, defineChain, getAbiItem, getAddress } from 'viem';
import { rootstock, rootstockTestnet } from 'viem/chains';
import { abi as payrollArtifactAbi } from '../../bindings/artifacts/Payroll.json';
import { abi as escrowArtifactAbi } from '../../bindings/artifacts/MilestoneEscrow.json';

export const payrollAbi = payrollArtifactAbi as Abi;
export const escrowAbi = escrowArtifactAbi as Abi;

/** An event of one of the ABIs, for `getLogs`. */
export function abiEvent(abi: Abi, name: string): AbiEvent {
  const item = getAbiItem({ abi, name });
  if (!item || item.type !== 'event') throw new Error(`the ABI has no event ${name}`);
  return item as AbiEvent;
}

export interface TokenConfig {
  address: Address;
  symbol: string;
  decimals: number;
  native: boolean;
}

export interface Eip712Config {
  name: string;
  version: string;
  /** Type strings, e.g. `WithdrawRequest(uint256 streamId,address to,...)`. */
  types: string[];
}

/** `GET /v1/config` (relayer/src/api/mod.rs, `client_config`). Addresses are lowercased here. */
export interface DeploymentConfig {
  chainId: number;
  chainName: string;
  nativeSymbol: string;
  publicRpcUrl: string | null;
  explorer: string | null;
  payroll: Address;
  escrow: Address;
  deploymentBlock: number;
  logRange: number;
  confirmations: number;
  gasMarginPct: number;
  relayer: Address;
  monthSeconds: number;
  tokens: TokenConfig[];
  eip712: { payroll: Eip712Config; escrow: Eip712Config };
}

/** The local devnet (anvil or RSKj regtest), chain id 33: viem has no definition of it. */
export const devnet = defineChain({
  id: 33,
  name: 'ShiftPay devnet',
  nativeCurrency: { name: 'Rootstock Bitcoin', symbol: 'RBTC', decimals: 18 },
  rpcUrls: { default: { http: ['http://127.0.0.1:8545'] } },
});

/**
 * The relayer this page talks to: `?relayer=https://relayer.example` (the page on a static
 * host), else the origin that served the page (the relayer itself).
 */
export function relayerBase(): string {
  const param = new URLSearchParams(window.location.search).get('relayer');
  const base = param && param.trim() !== '' ? param.trim() : window.location.origin;
  return base.replace(/\/+$/, '');
}

function lower(value: unknown, field: string): Address {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) {
    throw new Error(`the relayer's config has no valid \`${field}\` address`);
  }
  return value.toLowerCase() as Address;
}

/** Fetches and checks `GET {base}/v1/config`. */
export async function loadConfig(base: string): Promise<DeploymentConfig> {
  let response: Response;
  try {
    response = await fetch(`${base}/v1/config`, { headers: { accept: 'application/json' } });
  } catch (err) {
    throw new Error(`the relayer at ${base} cannot be reached (${(err as Error).message})`);
  }
  if (!response.ok) {
    throw new Error(`the relayer at ${base} answered ${response.status} to GET /v1/config`);
  }
  const raw = (await response.json()) as Record<string, unknown>;
  const tokens = Array.isArray(raw.tokens) ? raw.tokens : [];
  const eip712 = raw.eip712 as DeploymentConfig['eip712'] | undefined;
  if (typeof raw.chainId !== 'number' || !eip712?.payroll || !eip712?.escrow) {
    throw new Error(`the relayer at ${base} sent an incomplete config`);
  }
  return {
    ...(raw as unknown as DeploymentConfig),
    payroll: lower(raw.payroll, 'payroll'),
    escrow: lower(raw.escrow, 'escrow'),
    relayer: lower(raw.relayer, 'relayer'),
    tokens: tokens.map((t: TokenConfig) => ({ ...t, address: lower(t.address, 'tokens.address') })),
  };
}

/** The viem chain: viem's Rootstock definitions for 30 / 31, the devnet for 33, else built from the config. */
export function chainOf(config: DeploymentConfig): Chain {
  const known = [rootstock, rootstockTestnet, devnet].find((chain) => chain.id === config.chainId);
  const explorer = config.explorer
    ? { default: { name: `${config.chainName} explorer`, url: config.explorer } }
    : undefined;
  return defineChain({
    ...(known ?? {}),
    id: config.chainId,
    name: known?.name ?? config.chainName,
    nativeCurrency: known?.nativeCurrency ?? {
      name: config.nativeSymbol,
      symbol: config.nativeSymbol,
      decimals: 18,
    },
    rpcUrls: {
      default: { http: config.publicRpcUrl ? [config.publicRpcUrl] : [...(known?.rpcUrls.default.http ?? [])] },
    },
    // The project's explorer (chain preset), the one transaction links use.
    blockExplorers: explorer,
  });
}

/** An address as the chain shows it: EIP-1191 checksums on Rootstock (30, 31), EIP-55 elsewhere. */
export function showAddress(config: DeploymentConfig, address: Address): string {
  return config.chainId === 30 || config.chainId === 31
    ? getAddress(address, config.chainId)
    : getAddress(address);
}

/** The token at `address` (the native coin is the zero address), if the deployment knows it. */
export function tokenOf(config: DeploymentConfig, address: Address): TokenConfig | undefined {
  const key = address.toLowerCase();
  return config.tokens.find((t) => t.address === key);
}
