// Jobs paid per milestone, as the freelancer (accept, submit a deliverable, dispute a change
// request, withdraw credits) and as the client (approve signed and gasless or as a transaction,
// request changes, dispute).
import { type Address, keccak256, stringToBytes, zeroAddress } from 'viem';
import type { App } from './app';
import { abiEvent, escrowAbi, showAddress, tokenOf } from './config';
import { h } from './dom';
import { amount, short, when } from './format';

/** `Job` (types/EscrowTypes.sol). */
interface Job {
  client: Address;
  deadline: bigint;
  milestoneCount: number;
  status: number;
  worker: Address;
  reviewPeriod: number;
  rulingPeriod: number;
  arbiterFeeBps: number;
  maxChangeRequests: number;
  token: Address;
  cancelNoticeEnd: bigint;
  arbiter: Address;
  metadataHash: string;
}

/** `Milestone`. */
interface Milestone {
  amount: bigint;
  status: number;
  changeRequests: number;
  windowEnd: bigint;
}

const JOB_STATUS = ['None', 'Offered', 'Active', 'Withdrawn', 'Cancelled', 'Resigned', 'Cancelling'];
const MILESTONE_STATUS = ['Unfunded', 'Funded', 'Submitted', 'Changes requested', 'Disputed', 'Released', 'Resolved', 'Refunded'];
const [, OFFERED, ACTIVE, , , , CANCELLING] = [0, 1, 2, 3, 4, 5, 6];
const [, FUNDED, SUBMITTED, CHANGES, DISPUTED] = [0, 1, 2, 3, 4];

export interface JobRow {
  id: bigint;
  job: Job;
  milestones: Milestone[];
  symbol: string;
  decimals: number;
}

export interface Credit {
  token: Address;
  owed: bigint;
  symbol: string;
  decimals: number;
}

export interface JobsData {
  asWorker: JobRow[];
  asClient: JobRow[];
  credits: Credit[];
}

async function jobIds(app: App, role: 'client' | 'worker'): Promise<bigint[]> {
  const logs = await app.logs(app.config.escrow, abiEvent(escrowAbi, 'JobCreated'), { [role]: app.conn.account });
  return [...new Set(logs.map((log) => BigInt((log as unknown as { args: { jobId: bigint } }).args.jobId)))];
}

async function jobRow(app: App, id: bigint): Promise<JobRow> {
  const [job, milestones] = await Promise.all([
    app.read<Job>(app.config.escrow, escrowAbi, 'getJob', [id]),
    app.read<Milestone[]>(app.config.escrow, escrowAbi, 'getMilestones', [id]),
  ]);
  const token = tokenOf(app.config, job.token);
  const decimals = token?.decimals ?? 18;
  return { id, job, milestones: [...milestones], symbol: token?.symbol ?? short(job.token), decimals };
}

export async function loadJobs(app: App): Promise<JobsData> {
  const [workerIds, clientIds] = await Promise.all([jobIds(app, 'worker'), jobIds(app, 'client')]);
  const asWorker = await Promise.all(workerIds.map((id) => jobRow(app, id)));
  const asClient = await Promise.all(clientIds.map((id) => jobRow(app, id)));
  const tokens = new Set<Address>([zeroAddress, ...[...asWorker, ...asClient].map((row) => row.job.token.toLowerCase() as Address)]);
  const credits: Credit[] = [];
  for (const token of tokens) {
    const owed = await app.read<bigint>(app.config.escrow, escrowAbi, 'owed', [token, app.conn.account]);
    if (owed > 0n) {
      const known = tokenOf(app.config, token);
      credits.push({ token, owed, symbol: known?.symbol ?? short(token), decimals: known?.decimals ?? 18 });
    }
  }
  return { asWorker, asClient, credits };
}

function windowLabel(m: Milestone): string {
  if (!m.windowEnd) return '';
  switch (m.status) {
    case SUBMITTED:
      return `review until ${when(m.windowEnd)}`;
    case CHANGES:
      return `respond until ${when(m.windowEnd)}`;
    case DISPUTED:
      return `ruling until ${when(m.windowEnd)}`;
    default:
      return '';
  }
}

/** A key of what a card shows: cards are rebuilt only when it changes (typed text is kept). */
function rowKey(row: JobRow): string {
  return JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

export function renderJobs(app: App, rows: JobRow[], role: 'worker' | 'client', container: HTMLElement, credits: Credit[] = []): void {
  const cards: HTMLElement[] = [];
  if (role === 'worker' && credits.length > 0) {
    cards.push(
      h(
        'article',
        { class: 'card credits', testid: 'credits' },
        h('h3', {}, 'Credits from failed payouts'),
        ...credits.map((credit) =>
          h(
            'div',
            { class: 'actions' },
            h('span', { class: 'value' }, `${amount(credit.owed, credit.decimals, 8)} ${credit.symbol}`),
            h(
              'button',
              {
                type: 'button',
                class: 'primary',
                testid: `withdraw-credits-${credit.symbol}`,
                onclick: () => run(app, `Withdraw ${credit.symbol} credits`, 'withdraw', [credit.token, app.conn.account]),
              },
              'Withdraw credits',
            ),
          ),
        ),
      ),
    );
  }
  if (rows.length === 0) {
    cards.push(h('p', { class: 'empty' }, role === 'worker' ? 'No job offered to this address.' : 'No job created by this address.'));
  }
  for (const row of rows) {
    const key = rowKey(row);
    const existing = container.querySelector<HTMLElement>(`[data-job="${row.id}"]`);
    if (existing && existing.dataset.key === key) {
      cards.push(existing);
      continue;
    }
    const card = jobCard(app, row, role);
    card.dataset.key = key;
    cards.push(card);
  }
  container.replaceChildren(...cards);
}

function jobCard(app: App, row: JobRow, role: 'worker' | 'client'): HTMLElement {
  const { job } = row;
  const id = row.id.toString();
  const other = role === 'worker' ? job.client : job.worker;
  const accepted = job.status === ACTIVE || job.status === CANCELLING;
  const hasArbiter = job.arbiter.toLowerCase() !== zeroAddress;
  const total = row.milestones.reduce((sum, m) => sum + m.amount, 0n);
  const card = h(
    'article',
    { class: 'card job', testid: `job-${role}-${id}` },
    h('header', { class: 'card-head' }, h('h3', {}, `Job #${id}`), h('span', { class: 'badge', testid: `job-status-${id}` }, JOB_STATUS[job.status] ?? String(job.status))),
    h(
      'div',
      { class: 'fields' },
      h('div', { class: 'field' }, h('span', { class: 'label' }, role === 'worker' ? 'Client' : 'Freelancer'), h('span', { class: 'value mono', title: showAddress(app.config, other) }, short(showAddress(app.config, other)))),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'Total'), h('span', { class: 'value' }, `${amount(total, row.decimals, 8)} ${row.symbol}`)),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'Deadline'), h('span', { class: 'value' }, job.deadline ? when(job.deadline) : 'none')),
      h('div', { class: 'field' }, h('span', { class: 'label' }, 'Arbiter'), h('span', { class: 'value mono' }, hasArbiter ? short(showAddress(app.config, job.arbiter)) : 'none')),
      job.cancelNoticeEnd ? h('div', { class: 'field' }, h('span', { class: 'label' }, 'Cancel notice ends'), h('span', { class: 'value' }, when(job.cancelNoticeEnd))) : null,
    ),
  );
  if (role === 'worker' && job.status === OFFERED) {
    card.append(
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'button', class: 'primary', testid: `accept-${id}`, onclick: () => run(app, `Accept job #${id}`, 'acceptJob', [row.id]) }, 'Accept the job'),
      ),
    );
  }
  const list = h('ol', { class: 'milestones' });
  row.milestones.forEach((m, index) => {
    const mid = `${id}-${index}`;
    const actions = h('div', { class: 'actions' });
    const idx = BigInt(index);
    if (role === 'worker') {
      if (accepted && (m.status === FUNDED || m.status === CHANGES)) {
        const text = h('input', { type: 'text', placeholder: 'deliverable: link, commit, text…', 'aria-label': `Deliverable of milestone ${index + 1}`, testid: `deliverable-${mid}` });
        actions.append(
          text,
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              testid: `submit-${mid}`,
              onclick: () => {
                if (text.value.trim() === '') {
                  app.notify('error', 'Describe the deliverable (a link, a commit hash or text): its hash goes on chain. Nothing was sent.');
                  return;
                }
                void run(app, `Submit milestone ${index + 1} of job #${id}`, 'submit', [row.id, idx, keccak256(stringToBytes(text.value.trim()))]);
              },
            },
            m.status === CHANGES ? 'Resubmit' : 'Submit',
          ),
        );
      }
      if (m.status === CHANGES && hasArbiter) {
        actions.append(h('button', { type: 'button', class: 'danger', testid: `dispute-${mid}`, onclick: () => run(app, `Dispute milestone ${index + 1} of job #${id}`, 'dispute', [row.id, idx]) }, 'Dispute'));
      }
    } else {
      // Approve: funded (pay early, accepted jobs only), submitted, changes-requested and
      // disputed milestones (these stay to be resolved even after a cancellation).
      if ((accepted && m.status === FUNDED) || m.status === SUBMITTED || m.status === CHANGES || m.status === DISPUTED) {
        actions.append(
          h('button', { type: 'button', class: 'primary', testid: `approve-gasless-${mid}`, onclick: () => approveGasless(app, row.id, idx, index) }, 'Approve without gas'),
          h('button', { type: 'button', class: 'secondary', testid: `approve-${mid}`, onclick: () => run(app, `Approve milestone ${index + 1} of job #${id}`, 'approveMilestone', [row.id, idx]) }, 'Approve (transaction)'),
        );
      }
      if (m.status === SUBMITTED && m.changeRequests < job.maxChangeRequests) {
        const reason = h('input', { type: 'text', placeholder: 'what should change', 'aria-label': `Changes wanted on milestone ${index + 1}`, testid: `reason-${mid}` });
        actions.append(
          reason,
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              testid: `request-changes-${mid}`,
              onclick: () => {
                if (reason.value.trim() === '') {
                  app.notify('error', 'Say what should change: its hash goes on chain. Nothing was sent.');
                  return;
                }
                void run(app, `Request changes on milestone ${index + 1} of job #${id}`, 'requestChanges', [row.id, idx, keccak256(stringToBytes(reason.value.trim()))]);
              },
            },
            'Request changes',
          ),
        );
      }
      if ((m.status === SUBMITTED || m.status === CHANGES) && hasArbiter) {
        actions.append(h('button', { type: 'button', class: 'danger', testid: `dispute-${mid}`, onclick: () => run(app, `Dispute milestone ${index + 1} of job #${id}`, 'dispute', [row.id, idx]) }, 'Dispute'));
      }
    }
    const changes = m.changeRequests ? ` · ${m.changeRequests}/${job.maxChangeRequests} change requests` : '';
    list.append(
      h(
        'li',
        { class: `milestone status-${m.status}`, testid: `milestone-${role}-${mid}` },
        h(
          'div',
          { class: 'milestone-head' },
          h('span', { class: 'milestone-name' }, `Milestone ${index + 1}`),
          h('span', { class: 'milestone-amount' }, `${amount(m.amount, row.decimals, 8)} ${row.symbol}`),
          h('span', { class: 'badge', testid: `milestone-status-${role}-${mid}` }, MILESTONE_STATUS[m.status] ?? String(m.status)),
        ),
        h('div', { class: 'muted small' }, `${windowLabel(m)}${changes}`),
        actions.childElementCount ? actions : null,
      ),
    );
  });
  card.append(list);
  return card;
}

async function run(app: App, label: string, functionName: string, args: unknown[]): Promise<void> {
  app.clearNotice();
  try {
    await app.transact(label, app.config.escrow, escrowAbi, functionName, args);
  } catch (err) {
    app.fail(err, label);
  }
}

async function approveGasless(app: App, jobId: bigint, milestoneIndex: bigint, index: number): Promise<void> {
  app.clearNotice();
  try {
    if (!(await app.ready())) return;
    const nonce = await app.read<bigint>(app.config.escrow, escrowAbi, 'nonces', [app.conn.account]);
    const block = await app.conn.pub.getBlock();
    await app.relay(`Approve milestone ${index + 1} of job #${jobId}`, 'approve', 'escrow', 'Approval', {
      jobId,
      milestoneIndex,
      nonce,
      deadline: block.timestamp + 3600n,
    });
  } catch (err) {
    app.fail(err);
  }
}
