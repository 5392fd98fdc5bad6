// The wallet page: loads the deployment from the relayer, finds the wallet (EIP-6963), and shows
// the worker view (streams, freelancer jobs) and the client view (jobs as client).
import './style.css';
import { App } from './app';
import { chainOf, loadConfig, relayerBase, showAddress } from './config';
import { byId, h, setText } from './dom';
import { short } from './format';
import { loadJobs, renderJobs } from './jobs';
import { loadStreams, renderStreams, tickCard } from './streams';
import { type DiscoveredWallet, WalletError, discoverWallets, ensureChain, requestAccount, walletChainId } from './wallet';

/** Seconds between two reads of the chain (`?poll=5` to change it). */
function pollSeconds(): number {
  const value = Number(new URLSearchParams(window.location.search).get('poll'));
  return Number.isFinite(value) && value >= 1 ? value : 15;
}

let app: App;
let pollTimer: number | undefined;
let refreshing: Promise<void> | undefined;

async function boot(): Promise<void> {
  const base = relayerBase();
  setText(byId('relayer-url'), base);
  let config;
  try {
    config = await loadConfig(base);
  } catch (err) {
    showNotice('error', `This page cannot load its deployment: ${(err as Error).message}. Serve it from the relayer, or add ?relayer=https://your-relayer to the URL.`);
    return;
  }
  const chain = chainOf(config);
  app = new App(base, config, chain);
  app.onRefresh = refresh;
  setText(byId('network'), `${chain.name} · ${config.chainId}`);
  byId('connect').addEventListener('click', () => void chooseWallet());
  byId('switch-network').addEventListener('click', () => void switchNetwork());
  for (const tab of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
    tab.addEventListener('click', () => selectTab(tab.dataset.tab as 'worker' | 'client'));
  }
  window.setInterval(() => document.querySelectorAll<HTMLElement>('[data-stream]').forEach(tickCard), 1000);
  document.body.dataset.ready = 'true';
}

function showNotice(kind: 'info' | 'success' | 'error', text: string): void {
  const notice = byId('notice');
  notice.replaceChildren(h('span', {}, text));
  notice.dataset.kind = kind;
  notice.hidden = false;
}

function selectTab(tab: 'worker' | 'client'): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
    button.setAttribute('aria-selected', String(button.dataset.tab === tab));
  }
  byId('worker-view').hidden = tab !== 'worker';
  byId('client-view').hidden = tab !== 'client';
}

/** Lists the wallets found; connects at once when there is exactly one. */
async function chooseWallet(): Promise<void> {
  app.clearNotice();
  const wallets = await discoverWallets();
  const chooser = byId('wallets');
  if (wallets.length === 0) {
    chooser.hidden = true;
    app.notify('error', 'No wallet found in this browser. Install MetaMask (or another EVM wallet such as Rabby), then reload the page.');
    return;
  }
  if (wallets.length === 1) {
    chooser.hidden = true;
    await connect(wallets[0]);
    return;
  }
  chooser.replaceChildren(
    h('p', { class: 'muted' }, 'Choose a wallet:'),
    ...wallets.map((wallet) =>
      h(
        'button',
        { type: 'button', class: 'wallet-option', testid: 'wallet-option', onclick: () => void connect(wallet) },
        wallet.info.icon ? h('img', { src: wallet.info.icon, alt: '', width: '24', height: '24' }) : null,
        wallet.info.name,
      ),
    ),
  );
  chooser.hidden = false;
}

async function connect(wallet: DiscoveredWallet): Promise<void> {
  byId('wallets').hidden = true;
  try {
    const account = await requestAccount(wallet.provider);
    app.connect(wallet.provider, account);
    setText(byId('account'), short(showAddress(app.config, account)));
    byId('account').title = showAddress(app.config, account);
    byId('account').hidden = false;
    setText(byId('connect'), wallet.info.name);
    wallet.provider.on?.('chainChanged', (id: unknown) => void onChainChanged(Number(BigInt(id as string))));
    wallet.provider.on?.('accountsChanged', (accounts: unknown) => {
      const list = accounts as string[];
      if (list.length > 0 && app.connection) {
        app.connect(wallet.provider, list[0].toLowerCase() as `0x${string}`);
        setText(byId('account'), short(showAddress(app.config, app.conn.account)));
        clearViews();
        void refresh();
      }
    });
  } catch (err) {
    app.fail(err);
    return;
  }
  await switchNetwork();
}

/** Puts the wallet on the deployment's chain, then shows the views. */
async function switchNetwork(): Promise<void> {
  if (!app.connection) return chooseWallet();
  try {
    await ensureChain(app.conn.provider, app.chain);
  } catch (err) {
    setWrongChain(true);
    app.fail(err);
    return;
  }
  setWrongChain(false);
  app.clearNotice();
  byId('welcome').hidden = true;
  byId('views').hidden = false;
  await refresh();
  if (pollTimer === undefined) pollTimer = window.setInterval(() => void refresh(), pollSeconds() * 1000);
}

function setWrongChain(wrong: boolean): void {
  app.wrongChain = wrong;
  document.body.dataset.wrongChain = String(wrong);
  byId('switch-network').hidden = !wrong;
}

async function onChainChanged(id: number): Promise<void> {
  if (id === app.chain.id) {
    if (app.wrongChain) await switchNetwork();
    return;
  }
  setWrongChain(true);
  app.notify('error', `Wrong network: your wallet moved to chain ${id}, this page works on ${app.chain.name} (chain id ${app.chain.id}). Switch back to act; nothing will be sent meanwhile.`);
}

function clearViews(): void {
  for (const id of ['streams', 'jobs-worker', 'jobs-client']) byId(id).replaceChildren();
}

/** Reads everything again (one read at a time). */
async function refresh(): Promise<void> {
  if (!app.connection) return;
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      if ((await walletChainId(app.conn.provider)) !== app.chain.id) {
        setWrongChain(true);
        return;
      }
      const [streams, jobs] = await Promise.all([loadStreams(app), loadJobs(app)]);
      renderStreams(app, streams, byId('streams'));
      renderJobs(app, jobs.asWorker, 'worker', byId('jobs-worker'), jobs.credits);
      renderJobs(app, jobs.asClient, 'client', byId('jobs-client'));
      setText(byId('updated'), `Updated ${new Date().toLocaleTimeString()}`);
      document.body.dataset.loaded = 'true';
    } catch (err) {
      if (err instanceof WalletError) app.fail(err);
      else app.fail(err, 'Reading the chain failed');
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

void boot();
