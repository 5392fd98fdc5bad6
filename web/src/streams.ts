// The worker's streams: rate per hour and per month, a balance ticking every second between
// reads, debt when the employer's pool is short, Withdraw (a transaction) and Withdraw without
// gas (a signed WithdrawRequest relayed by the relayer).
import type { Address } from 'viem';
import type { App } from './app';
import { abiEvent, payrollAbi, showAddress, tokenOf } from './config';
import { h, setText } from './dom';
import { amount, parseAmount, short, tickDigits, when } from './format';

/** `PayrollTypes.StreamView`. */
interface StreamView {
  employer: Address;
  worker: Address;
  token: Address;
  rate: bigint;
  start: number;
  end: number;
  status: number;
  lastUpdate: number;
  owedScaled: bigint;
}

/** `PayrollTypes.PoolView`. */
interface PoolView {
  exists: boolean;
  decimals: number;
  balance: bigint;
  totalRate: bigint;
  surplus: bigint;
  debt: bigint;
}

export interface StreamRow {
  id: bigint;
  view: StreamView;
  earned: bigint;
  withdrawable: bigint;
  pool: PoolView;
  symbol: string;
  decimals: number;
  /** The latest block's time (s) at the read (when the node computed `earned`). */
  chainTime: number;
  /** The wall clock (ms) at the read. */
  readAt: number;
  /** The wall-clock time (ms) `earned` is taken to be from: the block's time when the chain's
   * clock agrees with ours (a live chain), else the read (a devnet whose clock was moved). */
  baseMs: number;
}

const STATUS = ['Active', 'Paused', 'Canceled'];

/** Every stream whose worker is the connected account (`StreamCreated` logs, then the views). */
export async function loadStreams(app: App): Promise<StreamRow[]> {
  const { account, pub } = app.conn;
  const logs = await app.logs(app.config.payroll, abiEvent(payrollAbi, 'StreamCreated'), { worker: account });
  const ids = [...new Set(logs.map((log) => BigInt((log as unknown as { args: { streamId: bigint } }).args.streamId)))];
  const block = await pub.getBlock();
  const chainTime = Number(block.timestamp);
  const readAt = Date.now();
  const skewMs = readAt - chainTime * 1000;
  const baseMs = skewMs >= 0 && skewMs <= 120_000 ? chainTime * 1000 : readAt;
  const payroll = app.config.payroll;
  return Promise.all(
    ids.map(async (id) => {
      const [view, earned, withdrawable] = await Promise.all([
        app.read<StreamView>(payroll, payrollAbi, 'getStream', [id]),
        app.read<bigint>(payroll, payrollAbi, 'earned', [id]),
        app.read<bigint>(payroll, payrollAbi, 'withdrawable', [id]),
      ]);
      const pool = await app.read<PoolView>(payroll, payrollAbi, 'getPool', [view.employer, view.token]);
      const token = tokenOf(app.config, view.token);
      return {
        id,
        view,
        earned,
        withdrawable,
        pool,
        symbol: token?.symbol ?? short(view.token),
        decimals: token?.decimals ?? Number(pool.decimals),
        chainTime,
        readAt,
        baseMs,
      };
    }),
  );
}

/** Scaled (18-decimal) units to token units. */
function unscale(scaled: bigint, decimals: number): bigint {
  return scaled / 10n ** BigInt(18 - decimals);
}

/** Whether the stream accrues at chain time `t`. */
function accruing(row: StreamRow, t: number): boolean {
  const { status, start, end } = row.view;
  return status === 0 && t >= Number(start) && (Number(end) === 0 || t < Number(end));
}

/**
 * What the stream has earned now: the read's `earned` (as of the latest block) plus the accrual
 * since, at the stream's rate, within its start and end. The next read corrects the estimate.
 */
export function liveEarned(row: StreamRow, nowMs = Date.now()): bigint {
  if (row.view.status !== 0) return row.earned;
  let elapsedMs = Math.max(0, nowMs - row.baseMs);
  const blockMs = row.chainTime * 1000;
  const startMs = Number(row.view.start) * 1000;
  if (startMs > blockMs) elapsedMs = Math.max(0, elapsedMs - (startMs - blockMs));
  if (Number(row.view.end) !== 0) elapsedMs = Math.min(elapsedMs, Math.max(0, Number(row.view.end) * 1000 - blockMs));
  if (elapsedMs === 0) return row.earned;
  return row.earned + unscale((row.view.rate * BigInt(Math.floor(elapsedMs))) / 1000n, row.decimals);
}

function statusText(row: StreamRow): string {
  const now = row.chainTime + (Date.now() - row.readAt) / 1000;
  const base = STATUS[row.view.status] ?? `status ${row.view.status}`;
  if (row.view.status === 0 && now < Number(row.view.start)) return 'Starts later';
  if (row.view.status === 0 && Number(row.view.end) !== 0 && now >= Number(row.view.end)) return 'Ended';
  return base;
}

/** Creates or updates the stream cards in `container` (inputs typed by the user are kept). */
export function renderStreams(app: App, rows: StreamRow[], container: HTMLElement): void {
  if (rows.length === 0) {
    container.replaceChildren(h('p', { class: 'empty', testid: 'no-streams' }, 'No stream pays this address yet.'));
    return;
  }
  container.querySelector('.empty')?.remove();
  for (const row of rows) {
    const key = row.id.toString();
    let card = container.querySelector<HTMLElement>(`[data-stream="${key}"]`);
    if (!card) {
      card = streamCard(app, row);
      container.append(card);
    }
    updateCard(app, card, row);
  }
}

function field(label: string, testid: string, cls = ''): HTMLElement {
  return h('div', { class: `field ${cls}` }, h('span', { class: 'label' }, label), h('span', { class: 'value', testid }));
}

function streamCard(app: App, row: StreamRow): HTMLElement {
  const id = row.id.toString();
  const input = h('input', {
    type: 'text',
    inputmode: 'decimal',
    placeholder: 'all available',
    'aria-label': `Amount to withdraw from stream ${id}`,
    testid: `withdraw-amount-${id}`,
  });
  const card = h(
    'article',
    { class: 'card stream', testid: `stream-${id}` },
    h(
      'header',
      { class: 'card-head' },
      h('h3', {}, `Stream #${id}`),
      h('span', { class: 'badge', testid: `stream-status-${id}` }),
    ),
    h('div', { class: 'balance' }, h('span', { class: 'balance-value', testid: `stream-balance-${id}` }), ' ', h('span', { class: 'symbol', testid: `stream-symbol-${id}` })),
    h('p', { class: 'muted small' }, 'earned and not withdrawn yet, ticking every second'),
    h(
      'div',
      { class: 'fields' },
      field('Rate', `stream-rate-${id}`),
      field('Available now', `stream-available-${id}`),
      field('Employer', `stream-employer-${id}`, 'mono'),
      field('Since / until', `stream-period-${id}`),
    ),
    h('div', { class: 'warning', testid: `stream-debt-${id}`, hidden: true }),
    h(
      'div',
      { class: 'actions' },
      h('label', { class: 'amount' }, h('span', { class: 'label' }, 'Amount'), input),
      h(
        'button',
        { type: 'button', class: 'primary', testid: `withdraw-${id}`, onclick: () => withdraw(app, row.id, input, false) },
        'Withdraw',
      ),
      h(
        'button',
        { type: 'button', class: 'secondary', testid: `withdraw-gasless-${id}`, onclick: () => withdraw(app, row.id, input, true) },
        'Withdraw without gas',
      ),
    ),
  );
  card.dataset.stream = id;
  return card;
}

function updateCard(app: App, card: HTMLElement, row: StreamRow): void {
  (card as HTMLElement & { row?: StreamRow }).row = row;
  const id = row.id.toString();
  const q = (testid: string) => card.querySelector<HTMLElement>(`[data-testid="${testid}"]`)!;
  const perHour = row.view.rate * 3600n;
  const perMonth = row.view.rate * BigInt(app.config.monthSeconds);
  setText(q(`stream-status-${id}`), statusText(row));
  setText(q(`stream-symbol-${id}`), row.symbol);
  setText(q(`stream-rate-${id}`), `${amount(perHour, 18, 6)} ${row.symbol} / hour · ${amount(perMonth, 18, 2)} ${row.symbol} / month`);
  setText(q(`stream-available-${id}`), `${amount(row.withdrawable, row.decimals, 8)} ${row.symbol}`);
  setText(q(`stream-employer-${id}`), short(showAddress(app.config, row.view.employer)));
  q(`stream-employer-${id}`).title = showAddress(app.config, row.view.employer);
  setText(q(`stream-period-${id}`), `${when(row.view.start)} → ${Number(row.view.end) ? when(row.view.end) : 'open-ended'}`);
  const debt = q(`stream-debt-${id}`);
  const uncovered = row.earned > row.withdrawable ? row.earned - row.withdrawable : 0n;
  if (row.pool.debt > 0n) {
    debt.hidden = false;
    setText(
      debt,
      `The employer's pool is short: ${amount(row.pool.debt, row.decimals, 8)} ${row.symbol} of earnings are not covered yet` +
        (uncovered > 0n ? ` (${amount(uncovered, row.decimals, 8)} ${row.symbol} of yours). ` : '. ') +
        'What you earned stays owed and becomes withdrawable when the employer deposits.',
    );
  } else {
    debt.hidden = true;
  }
  tickCard(card);
}

/** Updates the ticking balance of one card. */
export function tickCard(card: HTMLElement): void {
  const row = (card as HTMLElement & { row?: StreamRow }).row;
  if (!row) return;
  const el = card.querySelector<HTMLElement>('.balance-value');
  if (!el) return;
  const digits = tickDigits(unscale(row.view.rate, row.decimals), row.decimals);
  const now = row.chainTime + (Date.now() - row.readAt) / 1000;
  let value = accruing(row, now) ? liveEarned(row) : row.earned;
  // Between blocks a new read can return the same `earned` as the last one: never tick back
  // down unless the earnings really fell (a withdrawal).
  const shown = el.dataset.units ? BigInt(el.dataset.units) : undefined;
  const lastRead = el.dataset.read ? BigInt(el.dataset.read) : undefined;
  if (shown !== undefined && lastRead !== undefined && row.earned >= lastRead && value < shown && accruing(row, now)) {
    value = shown;
  }
  el.dataset.read = row.earned.toString();
  setText(el, amount(value, row.decimals, digits, true));
  el.dataset.units = value.toString();
}

async function withdraw(app: App, id: bigint, input: HTMLInputElement, gasless: boolean): Promise<void> {
  const card = input.closest<HTMLElement>('[data-stream]');
  const row = card ? (card as HTMLElement & { row?: StreamRow }).row : undefined;
  if (!row) return;
  app.clearNotice();
  const buttons = card!.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  try {
    let value: bigint;
    if (input.value.trim() === '') {
      if (!(await app.ready())) return;
      value = await app.read<bigint>(app.config.payroll, payrollAbi, 'withdrawable', [id]);
      if (value === 0n) {
        app.notify('error', `Nothing is withdrawable from stream #${id} yet. Nothing was sent.`);
        return;
      }
    } else {
      try {
        value = parseAmount(input.value, row.decimals, row.symbol);
      } catch (err) {
        app.notify('error', `${(err as Error).message}. Nothing was sent.`);
        return;
      }
      if (value === 0n) {
        app.notify('error', 'Enter an amount above zero. Nothing was sent.');
        return;
      }
    }
    const label = `Withdraw ${amount(value, row.decimals, row.decimals)} ${row.symbol} from stream #${id}`;
    const { account } = app.conn;
    if (!gasless) {
      if (await app.transact(label, app.config.payroll, payrollAbi, 'withdraw', [id, account, value])) input.value = '';
      return;
    }
    if (!(await app.ready())) return;
    const nonce = await app.read<bigint>(app.config.payroll, payrollAbi, 'nonces', [account]);
    const block = await app.conn.pub.getBlock();
    // Valid for an hour of chain time: enough for the relayer, short if the key leaks.
    const deadline = block.timestamp + 3600n;
    const ok = await app.relay(label, 'withdraw', 'payroll', 'WithdrawRequest', {
      streamId: id,
      to: account,
      amount: value,
      nonce,
      deadline,
    });
    if (ok) input.value = '';
  } catch (err) {
    app.fail(err);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}
