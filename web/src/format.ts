// Human units and explorer links.
import { formatUnits, parseUnits } from 'viem';
import type { DeploymentConfig } from './config';

/**
 * `value` token units with `decimals`, cut (not rounded) to `maxFraction` fraction digits;
 * `fixed` keeps trailing zeros (a ticking number keeps its width).
 */
export function amount(value: bigint, decimals: number, maxFraction = 6, fixed = false): string {
  const text = formatUnits(value, decimals);
  const [whole, fraction = ''] = text.split('.');
  const digits = fraction.slice(0, maxFraction);
  const cut = fixed ? digits.padEnd(Math.min(maxFraction, decimals), '0') : digits.replace(/0+$/, '');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return cut ? `${grouped}.${cut}` : grouped;
}

/** Fraction digits that make one second of `ratePerSecondUnits` visible (at least 2). */
export function tickDigits(ratePerSecondUnits: bigint, decimals: number): number {
  if (ratePerSecondUnits <= 0n) return Math.min(decimals, 6);
  const magnitude = ratePerSecondUnits.toString().length - 1;
  return Math.max(2, Math.min(decimals, decimals - magnitude + 1));
}

/** A human amount typed by the user, in token units; a clear error otherwise. */
export function parseAmount(text: string, decimals: number, symbol: string): bigint {
  const trimmed = text.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) {
    throw new Error(`"${text}" is not an amount: write e.g. 1.5 (${symbol})`);
  }
  const fraction = trimmed.split('.')[1] ?? '';
  if (fraction.length > decimals) {
    throw new Error(`"${text}" has more decimals than ${symbol}'s ${decimals}`);
  }
  return parseUnits(trimmed, decimals);
}

/** A date from unix seconds (local time), or a dash for 0. */
export function when(seconds: bigint | number): string {
  const n = Number(seconds);
  if (!n) return '—';
  return new Date(n * 1000).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  });
}

/** `0x1234…cdef`. */
export function short(hex: string): string {
  return hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-6)}` : hex;
}

/** A link to a transaction on the chain's explorer, or its hash as text without one. */
export function txLink(config: DeploymentConfig, hash: string): HTMLElement {
  if (config.explorer) {
    const a = document.createElement('a');
    a.href = `${config.explorer}/tx/${hash}`;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = short(hash);
    a.title = hash;
    a.dataset.txHash = hash;
    return a;
  }
  const code = document.createElement('code');
  code.textContent = short(hash);
  code.title = hash;
  code.dataset.txHash = hash;
  return code;
}
