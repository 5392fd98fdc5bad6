//! What a command that talks to a chain starts from: the node ([`Context::connect`]), the
//! deployment file ([`Context::deployment`]), the signer ([`Context::sender`]) and the one path
//! every transaction takes ([`Context::send`]), plus the ERC-20 checks a deposit needs before it
//! sends anything ([`Context::check_balance`], [`Context::ensure_allowance`]).
//!
//! ```ignore
//! let ctx = Context::connect(&args.chain).await?;
//! let deployment = ctx.deployment()?;
//! let sender = ctx.sender(&args.wallet, &args.tx)?;
//! let call = Payroll::pauseCall { streamId: id };
//! let sent = ctx.send(&sender, ctx.call_tx(deployment.payroll.address, &call), "pause stream 7", &args.tx).await?;
//! let Some(receipt) = sent.receipt() else { return ctx.print_dry_run(out) };
//! ```
//!
//! Everything for people goes to stderr (which chain, the spinner, tx hashes, explorer links);
//! stdout carries only the command's result.

use std::{
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
    time::Duration,
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::{Address, Bytes, TxKind, U256},
    providers::{DynProvider, Provider},
    rpc::types::{TransactionReceipt, TransactionRequest},
    signers::local::PrivateKeySigner,
    sol_types::SolCall,
};
use eyre::{WrapErr, bail, eyre};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use shiftpay_bindings::{
    calldata::{DecodedCall, decode_call_on, selector_hex},
    chains::{ChainInfo, find_preset},
    deployment::Deployment,
    rpc::{NodeError, connect_http, redact_url as display_url},
    safe::{MetaTx, ProposedCall},
    tokens::{IERC20, Token},
    tx::{self, TxError, TxEvent, TxPolicy},
    units,
    wallet::{self, SignerSource},
};

use crate::{
    config::Config,
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// How long the first request to the node may take before the node counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connected node, its chain's facts, and the files a command reads.
pub(crate) struct Context {
    /// The node (no fillers: [`tx::prepare`] fills transactions).
    pub(crate) provider: DynProvider,
    /// The chain's facts: preset or the conservative defaults of an unknown chain.
    pub(crate) chain: ChainInfo,
    /// The RPC URL as given (may hold an API key: print [`Context::rpc_display`] instead).
    pub(crate) rpc_url: String,
    /// `shiftpay.toml` defaults.
    pub(crate) config: Config,
    /// The working directory (where `deployments/` is looked up).
    pub(crate) workdir: PathBuf,
    deployment_path: PathBuf,
    deployment: OnceLock<Deployment>,
    /// Transactions simulated by `--dry-run`, in order, for [`Context::print_dry_run`].
    simulated: Mutex<Vec<SimulatedTx>>,
    /// A dry-run approval was planned: later simulations that need it are not run.
    approval_pending: Mutex<bool>,
    /// `--via safe:|timelock:`: where the collected calls go (set by [`Context::sender`]).
    route: OnceLock<crate::commands::safe::route::Route>,
    /// The calls collected for the route, in order.
    collected: Mutex<Vec<ProposedCall>>,
    /// The Safe's nonce, read with the first collected call.
    safe_nonce: OnceLock<U256>,
}

/// Who sends: a loaded key, or (for `--dry-run`) at most an address to simulate as.
pub(crate) enum Sender {
    /// A key that signs.
    Signer(PrivateKeySigner),
    /// A dry run: simulate as this address (from `--from`, the private key, or the keystore
    /// file's address field), or as no one.
    Simulation(Option<Address>),
    /// `--via safe:ADDRESS` / `--via timelock:ADDRESS`: each call is checked with `eth_call` as
    /// this account and collected for its owners or voters, never sent.
    Via(Address),
}

impl Sender {
    /// The sender's address, when known.
    pub(crate) fn address(&self) -> Option<Address> {
        match self {
            Self::Signer(signer) => Some(signer.address()),
            Self::Simulation(from) => *from,
            Self::Via(account) => Some(*account),
        }
    }

    /// The sender's address; an error naming `--from` for a dry run without one.
    pub(crate) fn require_address(&self) -> eyre::Result<Address> {
        self.address().ok_or_else(|| {
            eyre!(
                "a dry run without a key needs the sender: pass --from ADDRESS (or a wallet flag)"
            )
        })
    }
}

/// What [`Context::send`] did.
#[derive(Debug)]
pub(crate) enum Sent {
    /// Sent, mined and confirmed.
    Mined(Box<TransactionReceipt>),
    /// `--dry-run`: simulated only (see [`Context::print_dry_run`]).
    Simulated,
}

impl Sent {
    /// The receipt, unless this was a dry run.
    pub(crate) fn receipt(&self) -> Option<&TransactionReceipt> {
        match self {
            Self::Mined(receipt) => Some(receipt),
            Self::Simulated => None,
        }
    }
}

/// One transaction of a dry run, as printed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SimulatedTx {
    /// What the command called it (`deploy Payroll`, `approve 100 USDRIF`).
    pub(crate) what: String,
    /// Sender, when known.
    pub(crate) from: Option<String>,
    /// Recipient (`None`: contract creation).
    pub(crate) to: Option<String>,
    /// Name of the recipient when it is one of ours or a known token.
    pub(crate) to_name: Option<String>,
    /// Value in wei.
    pub(crate) value: U256,
    /// The value with the native symbol.
    pub(crate) value_display: String,
    /// The decoded call (`None` for a creation or an unknown selector).
    pub(crate) call: Option<DecodedCall>,
    /// Selector (`0x12345678`) or `constructor`.
    pub(crate) function: String,
    /// Calldata or init code size in bytes.
    pub(crate) data_size: usize,
    /// `eth_estimateGas`, when the sender is known and the call was simulated.
    pub(crate) gas_estimate: Option<u64>,
    /// Whether `eth_call` ran (false when it depends on an approval planned before it).
    pub(crate) simulated: bool,
    /// Why it was not simulated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

impl Context {
    /// Reads `shiftpay.toml` (working directory, then user config) and connects (see
    /// [`Context::connect_with`]).
    pub(crate) async fn connect(opts: &ChainOpts) -> eyre::Result<Self> {
        let workdir = std::env::current_dir().wrap_err("cannot read the working directory")?;
        let config = Config::discover(&workdir)?;
        Self::connect_with(opts, config, workdir).await
    }

    /// Picks the chain and RPC URL (flags and env first, then the config: a `--chain` given on
    /// the command line ignores the config's `rpc_url`, which may be another chain's), reads the
    /// chain id from the node (an unknown chain works with `--rpc-url` alone), refuses a node on
    /// another chain than `--chain`, and says on stderr what it uses.
    pub(crate) async fn connect_with(
        opts: &ChainOpts,
        config: Config,
        workdir: PathBuf,
    ) -> eyre::Result<Self> {
        let config_url = if opts.chain.is_some() { None } else { config.rpc_url.clone() };
        let given_url = opts.rpc_url.clone().or(config_url);
        // Nothing selected anywhere: the local devnet (`shiftpay devnet up`).
        let default_devnet = opts.chain.is_none() && config.chain.is_none() && given_url.is_none();
        let chain_arg = match opts.chain.as_deref().or(config.chain.as_deref()) {
            None if default_devnet => Some("devnet"),
            other => other,
        };
        // `--chain 12345` with `--rpc-url` names a chain without a preset: check the id only.
        let (preset, expected_id) = match chain_arg {
            None => (None, None),
            Some(arg) => match (find_preset(arg), arg.trim().parse::<u64>()) {
                (Ok(preset), _) => (Some(preset), Some(preset.chain_id)),
                (Err(_), Ok(id)) => (None, Some(id)),
                (Err(error), Err(_)) => return Err(error.into()),
            },
        };
        let rpc_url = match (given_url, preset) {
            (Some(url), _) => url,
            (None, Some(_)) if default_devnet => {
                let url = crate::commands::devnet::default_rpc_url(&workdir);
                eprintln!(
                    "no --chain or --rpc-url: using the local devnet at {url} (`shiftpay devnet up` starts it)"
                );
                url
            }
            (None, Some(preset)) => preset.rpc_url.to_owned(),
            (None, None) => match expected_id {
                Some(id) => bail!("chain {id} has no preset: pass --rpc-url URL for it"),
                // With neither a chain nor a URL, `default_devnet` selected the devnet above.
                None => unreachable!("no chain and no RPC URL selects the devnet preset"),
            },
        };
        let provider = connect_http(&rpc_url)?;
        let shown = display_url(&rpc_url);
        let node_id = match tokio::time::timeout(CONNECT_TIMEOUT, provider.get_chain_id()).await {
            Ok(Ok(id)) => id,
            Ok(Err(error)) => match NodeError::from_transport("eth_chainId", &error) {
                NodeError::Unreachable { reason, .. } if default_devnet => {
                    bail!(
                        "cannot reach the local devnet at {shown}: {reason}; start it with `shiftpay devnet up` (or pass --chain/--rpc-url)"
                    )
                }
                NodeError::Unreachable { reason, .. } => {
                    bail!("cannot reach the node at {shown}: {reason}")
                }
                other => return Err(other.into()),
            },
            Err(_) => bail!(
                "cannot reach the node at {shown}: no answer within {}s",
                CONNECT_TIMEOUT.as_secs()
            ),
        };
        if let Some(expected) = expected_id
            && expected != node_id
        {
            let name = preset.map_or_else(
                || format!("chain {expected}"),
                |p| format!("{} ({expected})", p.name),
            );
            bail!(
                "the node at {shown} is on chain {node_id}, not {name}: check --chain and --rpc-url"
            );
        }
        let chain = ChainInfo::detect(&provider, preset).await?;
        let kind = match chain.preset {
            Some(preset) => format!("{} (chain {})", preset.name, chain.chain_id),
            None => format!(
                "chain {} (no preset: {} transactions, {} confirmation{}; pass --confirmations for more)",
                chain.chain_id,
                chain.gas_policy,
                chain.confirmations,
                if chain.confirmations == 1 { "" } else { "s" }
            ),
        };
        eprintln!("using {kind} via {shown}");
        let deployment_path =
            opts.deployment.clone().or_else(|| config.deployment.clone()).map_or_else(
                || Deployment::default_path(&workdir, chain.chain_id),
                |path| workdir.join(path),
            );
        Ok(Self {
            provider,
            chain,
            rpc_url,
            config,
            workdir,
            deployment_path,
            deployment: OnceLock::new(),
            simulated: Mutex::new(Vec::new()),
            approval_pending: Mutex::new(false),
            route: OnceLock::new(),
            collected: Mutex::new(Vec::new()),
            safe_nonce: OnceLock::new(),
        })
    }

    /// The RPC URL without credentials, path or query (they may hold an API key).
    pub(crate) fn rpc_display(&self) -> String {
        display_url(&self.rpc_url)
    }

    /// The deployment file: `--deployment`, else `deployment` in shiftpay.toml, else
    /// `deployments/<chain-id>.json` in the working directory.
    pub(crate) fn deployment_path(&self) -> &Path {
        &self.deployment_path
    }

    /// `path` relative to the working directory when it is inside it (for messages).
    pub(crate) fn show_path(&self, path: &Path) -> String {
        path.strip_prefix(&self.workdir).unwrap_or(path).display().to_string()
    }

    /// The deployment for this chain, loaded once; a file for another chain is an error.
    pub(crate) fn deployment(&self) -> eyre::Result<&Deployment> {
        if let Some(deployment) = self.deployment.get() {
            return Ok(deployment);
        }
        let deployment = Deployment::load_for_chain(&self.deployment_path, self.chain.chain_id)?;
        Ok(self.deployment.get_or_init(|| deployment))
    }

    /// `address` the way this chain prints it (EIP-1191 checksums on Rootstock 30/31).
    pub(crate) fn format_address(&self, address: Address) -> String {
        self.chain.format_address(address)
    }

    /// The name of an address we know: our contracts (from the deployment file, when loaded)
    /// and the chain's tokens.
    pub(crate) fn name_of(&self, address: Address) -> Option<String> {
        if let Some(deployment) = self.deployment.get() {
            if address == deployment.payroll.address {
                return Some("Payroll".into());
            }
            if address == deployment.escrow.address {
                return Some("MilestoneEscrow".into());
            }
            if let Some(token) = deployment.tokens.iter().find(|t| t.address == address) {
                return Some(token.symbol.clone());
            }
        }
        self.chain.preset?.token_by_address(address).map(|t| t.symbol.to_owned())
    }

    /// The transaction policy of this chain with the `--gas-price`, `--gas-margin`,
    /// `--confirmations` and `--timeout` overrides.
    pub(crate) fn policy(&self, opts: &TxOpts) -> TxPolicy {
        let mut policy = TxPolicy::for_chain(&self.chain);
        if let Some(price) = opts.gas_price {
            policy.gas_price = Some(price);
        }
        if let Some(margin) = opts.gas_margin {
            policy.gas_margin_pct = margin;
        }
        if let Some(confirmations) = opts.confirmations {
            policy.confirmations = confirmations.max(1);
            policy.timeout = Duration::from_secs(300 + 60 * policy.confirmations);
        }
        if let Some(timeout) = opts.timeout {
            policy.timeout = timeout;
        }
        policy
    }

    /// The sender for a command that sends transactions. With `--dry-run` no key is loaded (no
    /// password prompt): the simulation runs as `--from`, the private key's or mnemonic's
    /// address, or the address a keystore file states.
    pub(crate) fn sender(&self, wallet: &WalletOpts, opts: &TxOpts) -> eyre::Result<Sender> {
        if let Some(route) = crate::commands::safe::route::Route::from_opts(opts, &self.config)? {
            let account = route.account();
            if opts.dry_run {
                return Ok(Sender::Simulation(Some(account)));
            }
            if self.route.get().is_none() {
                eprintln!("{}", route.announce(&self.format_address(account)));
                let _ = self.route.set(route);
            }
            return Ok(Sender::Via(account));
        }
        let source = wallet.source(&self.config)?;
        if opts.dry_run {
            let from = match (wallet.from, &source) {
                (Some(from), _) => Some(from),
                (
                    None,
                    Some(source @ (SignerSource::PrivateKey(_) | SignerSource::Mnemonic { .. })),
                ) => Some(wallet::load_signer(source)?.address()),
                (None, Some(SignerSource::Keystore { path, .. })) => keystore_address(path),
                (None, Some(SignerSource::Account { name, .. })) => wallet::foundry_keystore_dir()
                    .ok()
                    .and_then(|dir| keystore_address(&dir.join(name))),
                (None, None) => None,
            };
            return Ok(Sender::Simulation(from));
        }
        let Some(source) = source else {
            bail!(
                "this command sends a transaction: pass --account NAME, --keystore FILE, --private-key KEY or --mnemonic PHRASE (or set `account` in shiftpay.toml), or --dry-run to simulate it"
            );
        };
        Ok(Sender::Signer(wallet::load_signer(&source)?))
    }

    /// A call to `to` with the ABI-encoded `call` (value 0).
    pub(crate) fn call_tx<C: SolCall>(&self, to: Address, call: &C) -> TransactionRequest {
        TransactionRequest::default().with_to(to).with_input(Bytes::from(call.abi_encode()))
    }

    /// Sends `tx` the one way every command does.
    ///
    /// - `--dry-run` (or a [`Sender::Simulation`]): `eth_call` (and `eth_estimateGas` when the
    ///   sender is known); a revert is an error with the contract's custom error decoded; the
    ///   transaction is recorded for [`Context::print_dry_run`]. Nothing is signed or sent.
    /// - Otherwise: a native-balance check, [`tx::prepare`] (legacy gas price on legacy chains,
    ///   estimate + margin, a revert decoded before anything is sent), a check that the balance
    ///   covers value + gas, then sign, broadcast, and wait for the confirmations with a spinner
    ///   on stderr, one line with the hash when sent and one when confirmed (with the explorer
    ///   link when the chain has one).
    pub(crate) async fn send(
        &self,
        sender: &Sender,
        tx: TransactionRequest,
        what: &str,
        opts: &TxOpts,
    ) -> eyre::Result<Sent> {
        let value = tx.value.unwrap_or_default();
        if let Some(from) = sender.address() {
            self.check_native_balance(from, value, None).await?;
        }
        if let Sender::Via(account) = sender
            && !opts.dry_run
        {
            return self.collect(*account, tx, what).await;
        }
        let signer = match sender {
            Sender::Signer(signer) if !opts.dry_run => signer,
            _ => {
                self.simulate(sender.address(), tx, what).await?;
                return Ok(Sent::Simulated);
            }
        };
        let from = signer.address();
        let policy = self.policy(opts);
        let prepared =
            tx::prepare(&self.provider, &policy, from, tx).await.map_err(|e| self.tx_error(e))?;
        let gas = prepared.gas.unwrap_or_default();
        let price = prepared.gas_price.or(prepared.max_fee_per_gas).unwrap_or_default();
        let max_fee = U256::from(gas) * U256::from(price);
        self.check_native_balance(from, value, Some(max_fee)).await?;
        let signed = tx::sign(&EthereumWallet::from(signer.clone()), prepared)
            .await
            .map_err(|e| self.tx_error(e))?;
        tx::broadcast(&self.provider, &signed).await.map_err(|e| self.tx_error(e))?;

        let spinner = spinner();
        let hash = signed.hash;
        spinner.suspend(|| eprintln!("{what}: sent {hash} from {}", self.format_address(from)));
        let required = policy.confirmations;
        spinner.set_message(format!("{what}: waiting for {hash} to be mined"));
        let receipt = tx::confirm(&self.provider, &policy, &signed, |event| match event {
            TxEvent::Sent { .. } => {}
            TxEvent::Mined { block, .. } => {
                spinner.set_message(format!(
                    "{what}: {hash} mined in block {block}, 1/{required} confirmations"
                ));
            }
            TxEvent::Confirmations { confirmations, required, .. } => {
                spinner.set_message(format!(
                    "{what}: {hash} {confirmations}/{required} confirmations"
                ));
            }
            TxEvent::Reorged { .. } => spinner.suspend(|| {
                eprintln!(
                    "{what}: {hash} left its block (chain reorganisation); waiting for it again"
                );
            }),
        })
        .await;
        spinner.finish_and_clear();
        let receipt = receipt.map_err(|e| self.tx_error(e))?;
        let block = receipt.block_number.unwrap_or_default();
        eprintln!(
            "{what}: confirmed in block {block} ({required} confirmation{}, gas {})",
            if required == 1 { "" } else { "s" },
            receipt.gas_used
        );
        if let Some(url) = self.chain.tx_url(hash) {
            eprintln!("  {url}");
        }
        Ok(Sent::Mined(Box::new(receipt)))
    }

    /// Whether calls are simulated or collected rather than sent (`--dry-run`, `--via`).
    pub(crate) fn collecting(&self, opts: &TxOpts) -> bool {
        opts.dry_run || self.route.get().is_some()
    }

    /// The `--via` path of [`Context::send`]: checks the call with `eth_call` as `account` (after
    /// a planned approval, later calls are not simulated), reads the Safe's nonce with the first
    /// call, and collects the call.
    async fn collect(
        &self,
        account: Address,
        tx: TransactionRequest,
        what: &str,
    ) -> eyre::Result<Sent> {
        let Some(TxKind::Call(to)) = tx.to else {
            bail!(
                "{what}: a contract creation cannot run through --via (a Safe or Timelock calls contracts); deploy from a key"
            )
        };
        let value = tx.value.unwrap_or_default();
        let data = tx.input.input().cloned().unwrap_or_default();
        self.simulate(Some(account), tx, what).await?;
        let route = self.route.get().expect("Sender::Via is made with a route");
        if route.is_safe() && self.safe_nonce.get().is_none() {
            let nonce = shiftpay_bindings::safe::ISafe::new(account, &self.provider)
                .nonce()
                .call()
                .await
                .map_err(|e| {
                    eyre!(
                        "{} does not answer as a Safe (nonce() failed: {e}): check --via",
                        self.format_address(account)
                    )
                })?;
            let _ = self.safe_nonce.set(nonce);
        }
        let count = {
            let mut collected = self.collected.lock().expect("not poisoned");
            collected.push(ProposedCall {
                description: what.to_owned(),
                call: MetaTx { to, value, data },
            });
            collected.len()
        };
        if count == 2 && route.is_safe() && route.export.is_none() {
            let code = self
                .provider
                .get_code_at(route.multisend)
                .await
                .map_err(|e| self.node_error("eth_getCode", &e))?;
            if code.is_empty() {
                bail!(
                    "several calls need MultiSendCallOnly, and there is no contract at {} on this chain: pass --multisend ADDRESS",
                    self.format_address(route.multisend)
                );
            }
        }
        eprintln!("{what}: collected for {}", self.format_address(account));
        Ok(Sent::Simulated)
    }

    /// The dry-run path of [`Context::send`].
    async fn simulate(
        &self,
        from: Option<Address>,
        tx: TransactionRequest,
        what: &str,
    ) -> eyre::Result<()> {
        let to = match tx.to {
            Some(TxKind::Call(to)) => Some(to),
            _ => None,
        };
        let data = tx.input.input().cloned().unwrap_or_default();
        let value = tx.value.unwrap_or_default();
        let checksum_id = self.chain.preset.filter(|p| p.checksum_chain_id).map(|p| p.chain_id);
        let call = to.and_then(|_| decode_call_on(&data, checksum_id));
        let function = match (&call, to) {
            (_, None) => "constructor".to_owned(),
            (Some(call), _) => call.signature.clone(),
            (None, Some(_)) => selector_hex(&data),
        };
        let pending = *self.approval_pending.lock().expect("not poisoned");
        let (gas_estimate, note) = if pending {
            (None, Some("not simulated: it needs the approval above to be mined first".to_owned()))
        } else {
            tx::simulate(&self.provider, from, &tx).await.map_err(|e| self.tx_error(e))?;
            let gas = match from {
                Some(from) => Some(
                    tx::estimate_gas(&self.provider, from, &tx)
                        .await
                        .map_err(|e| self.tx_error(e))?,
                ),
                None => None,
            };
            (gas, None)
        };
        let record = SimulatedTx {
            what: what.to_owned(),
            from: from.map(|a| self.format_address(a)),
            to: to.map(|a| self.format_address(a)),
            to_name: to.and_then(|a| self.name_of(a)),
            value,
            value_display: format!(
                "{} {}",
                units::format_amount(value, 18),
                self.chain.native_symbol()
            ),
            call,
            function,
            data_size: data.len(),
            gas_estimate,
            simulated: !pending,
            note,
        };
        self.simulated.lock().expect("not poisoned").push(record);
        Ok(())
    }

    /// The transactions a dry run simulated: a list on stdout (or one JSON document with
    /// `--json`), then a reminder on stderr that nothing was sent.
    pub(crate) fn print_dry_run(&self, out: &OutputArgs) -> eyre::Result<()> {
        if let Some(route) = self.route.get() {
            let calls = self.collected.lock().expect("not poisoned").clone();
            let nonce = self.safe_nonce.get().copied();
            return route.finish(self, calls, nonce, out);
        }
        let txs = self.simulated.lock().expect("not poisoned").clone();
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct DryRun {
            dry_run: bool,
            chain_id: u64,
            transactions: Vec<SimulatedTx>,
        }
        let report = DryRun { dry_run: true, chain_id: self.chain.chain_id, transactions: txs };
        out.emit(&report, |report| {
            for (i, tx) in report.transactions.iter().enumerate() {
                println!("{}. {}", i + 1, tx.what);
                println!(
                    "   from   {}",
                    tx.from.as_deref().unwrap_or("(none: pass --from to simulate as a sender)")
                );
                let to = match (&tx.to, &tx.to_name) {
                    (None, _) => "(new contract)".to_owned(),
                    (Some(to), Some(name)) => format!("{to} ({name})"),
                    (Some(to), None) => to.clone(),
                };
                println!("   to     {to}");
                println!("   value  {}", tx.value_display);
                match &tx.call {
                    Some(call) => {
                        println!("   call   {}", call.to_string().replace('\n', "\n          "))
                    }
                    None if tx.to.is_none() => {
                        println!("   call   constructor ({} bytes of init code)", tx.data_size)
                    }
                    None => println!(
                        "   call   {} ({} bytes, not a known function)",
                        tx.function, tx.data_size
                    ),
                }
                match (&tx.note, tx.gas_estimate) {
                    (Some(note), _) => println!("   result {note}"),
                    (None, Some(gas)) => println!("   result succeeds, about {gas} gas"),
                    (None, None) => println!("   result succeeds"),
                }
            }
        })?;
        eprintln!("dry run: nothing was sent");
        Ok(())
    }

    /// Checks that `owner` holds at least `amount` of `token` (native or ERC-20): an error that
    /// names both amounts, so nothing is sent that would revert for lack of funds.
    pub(crate) async fn check_balance(
        &self,
        owner: Address,
        token: &Token,
        amount: U256,
    ) -> eyre::Result<()> {
        let balance = self.balance_of(owner, token).await?;
        if balance < amount {
            bail!(
                "insufficient balance: {} holds {}, this needs {}",
                self.format_address(owner),
                token.format_amount(balance),
                token.format_amount(amount)
            );
        }
        Ok(())
    }

    /// `owner`'s balance of `token` in token units.
    pub(crate) async fn balance_of(&self, owner: Address, token: &Token) -> eyre::Result<U256> {
        if token.is_native() {
            return self
                .provider
                .get_balance(owner)
                .await
                .map_err(|e| self.node_error("eth_getBalance", &e));
        }
        IERC20::new(token.address, &self.provider).balanceOf(owner).call().await.map_err(|e| {
            eyre!("cannot read the {} balance of {}: {e}", token.symbol, self.format_address(owner))
        })
    }

    /// Makes sure `spender` may move `amount` of `token` from the sender: reads the allowance
    /// and, when it is short, asks once on the terminal (`y/N`; `--yes` answers yes; without a
    /// terminal `--yes` is required) and sends `approve(spender, amount)` (the exact amount,
    /// never an unlimited approval), then checks the allowance took (RIF-style tokens return
    /// `false` instead of reverting). A token that refuses to change a non-zero allowance to
    /// another non-zero value (Tether's USDT on Ethereum) gets `approve(spender, 0)` first, when
    /// an allowance is left and `eth_call` shows the approval would revert. Native coin: nothing
    /// to do. A dry run plans the approvals and marks later simulations as depending on them.
    pub(crate) async fn ensure_allowance(
        &self,
        sender: &Sender,
        token: &Token,
        spender: Address,
        amount: U256,
        opts: &TxOpts,
    ) -> eyre::Result<()> {
        if token.is_native() || amount.is_zero() {
            return Ok(());
        }
        let owner = sender.require_address()?;
        let erc20 = IERC20::new(token.address, &self.provider);
        let allowance = erc20
            .allowance(owner, spender)
            .call()
            .await
            .map_err(|e| eyre!("cannot read the {} allowance: {e}", token.symbol))?;
        if allowance >= amount {
            return Ok(());
        }
        let spender_name = self.name_of(spender).unwrap_or_else(|| self.format_address(spender));
        let what = format!("approve {} for {spender_name}", token.format_amount(amount));
        let approve = self.call_tx(token.address, &IERC20::approveCall { spender, value: amount });
        let reset = if allowance.is_zero() {
            None
        } else {
            // Would the token take the new value over the one left? (Tether-style tokens revert.)
            match tx::simulate(&self.provider, Some(owner), &approve).await {
                Ok(_) => None,
                Err(TxError::Reverted(_)) => Some((
                    self.call_tx(
                        token.address,
                        &IERC20::approveCall { spender, value: U256::ZERO },
                    ),
                    format!(
                        "reset the {} allowance of {spender_name} to 0 (the token refuses to change a non-zero allowance)",
                        token.symbol
                    ),
                )),
                Err(error) => return Err(self.tx_error(error)),
            }
        };
        if opts.dry_run || matches!(sender, Sender::Simulation(_) | Sender::Via(_)) {
            if let Some((reset, reset_what)) = reset {
                self.send(sender, reset, &reset_what, opts).await?;
                *self.approval_pending.lock().expect("not poisoned") = true;
            }
            self.send(sender, approve, &what, opts).await?;
            *self.approval_pending.lock().expect("not poisoned") = true;
            return Ok(());
        }
        let situation = format!(
            "{spender_name} may move {} of {}'s {}, this needs {}",
            token.format_amount(allowance),
            self.format_address(owner),
            token.symbol,
            token.format_amount(amount)
        );
        let question = match &reset {
            None => format!("Approve {}", token.format_amount(amount)),
            Some(_) => format!(
                "The token refuses to change a non-zero allowance: reset it to 0, then approve {}",
                token.format_amount(amount)
            ),
        };
        if !opts.yes {
            if !std::io::stdin().is_terminal() {
                bail!(
                    "{situation}: pass --yes to approve {} (stdin is not a terminal, so shiftpay cannot ask)",
                    token.format_amount(amount)
                );
            }
            if !ask(&format!("{situation}. {question}?"))? {
                bail!("approval declined: nothing was sent");
            }
        }
        if let Some((reset, reset_what)) = reset {
            self.send(sender, reset, &reset_what, opts).await?;
        }
        self.send(sender, approve, &what, opts).await?;
        let now = erc20
            .allowance(owner, spender)
            .call()
            .await
            .map_err(|e| eyre!("cannot read the {} allowance: {e}", token.symbol))?;
        if now < amount {
            bail!(
                "the {} approval was mined but the allowance is still {} (the token returned false?): nothing else was sent",
                token.symbol,
                token.format_amount(now)
            );
        }
        Ok(())
    }

    /// The native balance covers `value` (and `max_fee` of gas when known).
    async fn check_native_balance(
        &self,
        from: Address,
        value: U256,
        max_fee: Option<U256>,
    ) -> eyre::Result<()> {
        if value.is_zero() && max_fee.is_none() {
            return Ok(());
        }
        let balance = self
            .provider
            .get_balance(from)
            .await
            .map_err(|e| self.node_error("eth_getBalance", &e))?;
        let needed = value.saturating_add(max_fee.unwrap_or_default());
        if balance < needed {
            let symbol = self.chain.native_symbol();
            let fmt = |v: U256| format!("{} {symbol}", units::format_amount(v, 18));
            let detail = match max_fee {
                Some(fee) if !value.is_zero() => {
                    format!(" ({} + up to {} of gas)", fmt(value), fmt(fee))
                }
                Some(_) => " of gas".to_owned(),
                None => String::new(),
            };
            bail!(
                "insufficient balance: {} holds {}, this transaction needs {}{detail}",
                self.format_address(from),
                fmt(balance),
                fmt(needed)
            );
        }
        Ok(())
    }

    /// A [`TxError`] as one sentence (the node's URL without its secrets).
    pub(crate) fn tx_error(&self, error: TxError) -> eyre::Report {
        match error {
            TxError::Node(node) => self.node_report(node),
            other => other.into(),
        }
    }

    /// A failed provider call (`method`) as one sentence (the node's URL without its secrets):
    /// use it for reads, `.map_err(|e| ctx.node_error("eth_getLogs", &e))`.
    pub(crate) fn node_error(
        &self,
        method: &str,
        error: &alloy::transports::TransportError,
    ) -> eyre::Report {
        self.node_report(NodeError::from_transport(method, error))
    }

    fn node_report(&self, error: NodeError) -> eyre::Report {
        match error {
            NodeError::Unreachable { reason, .. } => {
                eyre!("cannot reach the node at {}: {reason}", self.rpc_display())
            }
            other => other.into(),
        }
    }
}

/// The address a keystore file states (geth and ShiftPay keystores do; cast's do not).
fn keystore_address(path: &Path) -> Option<Address> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["address"].as_str()?.trim_start_matches("0x").parse().ok()
}

/// A spinner on stderr; hidden (drawing nothing) when stderr is not a terminal.
fn spinner() -> ProgressBar {
    let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    spinner.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}
/// Asks `question [y/N]` on stderr and reads the answer from stdin (a terminal).
fn ask(question: &str) -> eyre::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(display_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(display_url("https://public-node.rsk.co"), "https://public-node.rsk.co");
        assert_eq!(display_url("https://rpc.example.com/v2/SECRET"), "https://rpc.example.com/…");
        assert_eq!(display_url("https://user:pw@rpc.example.com"), "https://rpc.example.com/…");
        assert_eq!(display_url("https://rpc.example.com/?key=SECRET"), "https://rpc.example.com/…");
    }
}
