//! What the `treasury` and `stream` commands share: token resolution against the chain preset and
//! the deployment file, reads of the Payroll contract batched through `multicall` in `eth_call`,
//! event scans paged from the deployment block, amounts, rates and times for people and JSON, and
//! the gas-bounded batching of `multicall` / `payoutMany` transactions.

use std::collections::HashMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest},
    sol_types::{SolCall, SolEvent},
};
use clap::Args;
use eyre::{WrapErr, bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    chains::parse_address,
    deployment::Deployment,
    logs::get_logs_paged,
    payroll::{Payroll, PayrollTypes},
    revert::{DecodedRevert, RevertKind},
    rpc::NodeError,
    tokens::{self, TOKEN_REQUIREMENTS, Token, TokenError, TokenRef},
    tx::{self, TxError, TxPolicy},
    units::{self, MonthMode, Period},
};

use crate::{
    context::{Context, Sender, Sent},
    opts::{TxOpts, WalletOpts},
};

/// Reads batched into one `eth_call` of `multicall` (keeps each response well under node limits).
const READS_PER_CALL: usize = 150;

/// Gas every transaction pays before its calldata and execution.
const BASE_TX_GAS: u64 = 21_000;

/// `--month` and `--allow-unknown-token`, shared by the commands that read rates or tokens.
#[derive(Debug, Clone, Args)]
pub(crate) struct TokenOpts {
    /// Accept a token address the chain preset and the deployment file do not list (after
    /// reading what ShiftPay's contracts require of a token: no fee on transfer, no rebasing, no
    /// hooks).
    #[arg(long)]
    pub(crate) allow_unknown_token: bool,

    /// Length of a month in rates: `30d` (30 days, the default) or `calendar` (365.2425 / 12
    /// days).
    #[arg(long, value_name = "30d|calendar", default_value = "30d", value_parser = parse_month)]
    pub(crate) month: MonthMode,
}

pub(crate) fn parse_month(s: &str) -> Result<MonthMode, String> {
    s.parse().map_err(|e: units::UnitsError| e.to_string())
}

/// A token as typed: a symbol of the chain preset or deployment file, `native`/`rbtc`, or an
/// address (checked as an address here, resolved against the chain later).
pub(crate) fn token_arg(s: &str) -> eyre::Result<TokenRef> {
    s.parse().map_err(|e: TokenError| eyre!(e))
}

/// A stream id: a positive integer (`7` or `#7`).
pub(crate) fn stream_id(s: &str) -> eyre::Result<u64> {
    let text = s.trim().trim_start_matches('#');
    match text.parse::<u64>() {
        Ok(0) => bail!("invalid stream id {s:?}: stream ids start at 1"),
        Ok(id) => Ok(id),
        Err(_) => bail!("invalid stream id {s:?}: expected a positive integer such as 7"),
    }
}

/// Whether a start time means "when the transaction is mined" (`now` or empty).
pub(crate) fn means_now(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text.eq_ignore_ascii_case("now")
}

/// Whether an end time means "open-ended" (empty, `none`, `open`, `open-ended`, `0`).
pub(crate) fn means_open_ended(text: &str) -> bool {
    let text = text.trim();
    text.is_empty()
        || ["none", "open", "open-ended", "0"].iter().any(|w| text.eq_ignore_ascii_case(w))
}

/// An address in any case (mixed case must be a valid checksum); `what` names it in the error.
pub(crate) fn address_arg(s: &str, what: &str) -> eyre::Result<Address> {
    parse_address(s).map_err(|e| eyre!("{what}: {e}"))
}

/// A rate as typed: `AMOUNT TOKEN/PERIOD` (`1500 USDRIF/month`), or `AMOUNT/PERIOD` when the
/// token is known otherwise (a roster's token column, the stream being adjusted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateInput {
    /// The amount per period as written.
    pub(crate) amount: String,
    /// The token it names, if any.
    pub(crate) token: Option<TokenRef>,
    /// The period.
    pub(crate) period: Period,
}

impl RateInput {
    /// Parses `text` (syntax only; the token is resolved later).
    pub(crate) fn parse(text: &str) -> eyre::Result<Self> {
        if let Some((left, period)) = text.rsplit_once('/') {
            let left = left.trim();
            if !left.is_empty() && left.chars().all(|c| c.is_ascii_digit() || c == '.') {
                let period: Period = period
                    .parse()
                    .map_err(|e: units::UnitsError| eyre!("invalid rate {text:?}: {e}"))?;
                return Ok(Self { amount: left.to_owned(), token: None, period });
            }
        }
        let spec: units::RateSpec = text.parse()?;
        Ok(Self { amount: spec.amount, token: Some(spec.token), period: spec.period })
    }

    /// Converts into the contract's rate with `token`'s decimals (rounded down; see
    /// [`units::Rate::describe`] for what the rounding costs).
    pub(crate) fn to_rate(&self, token: &Token, month: MonthMode) -> eyre::Result<units::Rate> {
        let amount = token.parse_amount(&self.amount)?;
        Ok(units::rate_per_second(amount, token.decimals, self.period, month)?)
    }
}

/// Resolves `token` for this chain (preset, then the deployment file's tokens). An address
/// neither lists needs `allow_unknown`; the contracts' token requirements are printed on stderr
/// both when it is refused and when it is accepted.
pub(crate) async fn resolve_token(
    ctx: &Context,
    token: &TokenRef,
    allow_unknown: bool,
) -> eyre::Result<Token> {
    let extra = ctx.deployment()?.tokens.clone();
    match tokens::resolve_token(&ctx.provider, &ctx.chain, token, &extra, allow_unknown).await {
        Ok(resolved) => {
            if !resolved.known {
                eprintln!(
                    "warning: {} ({}) is not a token ShiftPay knows on {}. {TOKEN_REQUIREMENTS}",
                    resolved.symbol,
                    ctx.format_address(resolved.address),
                    ctx.chain.display_name()
                );
            }
            Ok(resolved)
        }
        Err(error @ TokenError::UnknownAddress { .. }) => {
            eprintln!("{TOKEN_REQUIREMENTS}");
            Err(error.into())
        }
        Err(error) => Err(error.into()),
    }
}

/// Tokens met in streams and pools, by address: symbols for display (listed tokens by their
/// listing, others by their own `symbol()`), decimals from the pool when known.
#[derive(Default)]
pub(crate) struct TokenBook {
    tokens: HashMap<Address, Token>,
}

impl TokenBook {
    /// The token at `address` (the native coin for zero); `decimals` (from a pool) overrides
    /// what the token reports.
    pub(crate) async fn get(
        &mut self,
        ctx: &Context,
        address: Address,
        decimals: Option<u8>,
    ) -> Token {
        if let Some(token) = self.tokens.get(&address) {
            return token.clone();
        }
        let extra = ctx.deployment().map(|d| d.tokens.clone()).unwrap_or_default();
        let reference =
            if address.is_zero() { TokenRef::Native } else { TokenRef::Address(address) };
        let mut token = match tokens::resolve_known(&ctx.chain, &reference, &extra) {
            Ok(token) => token,
            Err(_) => tokens::resolve_token(&ctx.provider, &ctx.chain, &reference, &extra, true)
                .await
                .unwrap_or_else(|_| Token {
                    address,
                    symbol: ctx.format_address(address),
                    decimals: decimals.unwrap_or(18),
                    known: false,
                }),
        };
        if let Some(decimals) = decimals {
            token.decimals = decimals;
        }
        self.tokens.insert(address, token.clone());
        token
    }
}

/// The latest block: number and timestamp (the chain's clock, which `start`/`end` are checked
/// against).
pub(crate) async fn latest_block(ctx: &Context) -> eyre::Result<(u64, u64)> {
    let block = ctx
        .provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await
        .map_err(|e| node_error(ctx, "eth_getBlockByNumber", &e))?
        .ok_or_else(|| eyre!("the node returned no latest block"))?;
    Ok((block.header.number, block.header.timestamp))
}

/// A transport error as one sentence (the URL without secrets when the node is unreachable).
pub(crate) fn node_error(
    ctx: &Context,
    method: &str,
    error: &alloy::transports::TransportError,
) -> eyre::Report {
    match NodeError::from_transport(method, error) {
        NodeError::Unreachable { reason, .. } => {
            eyre!("cannot reach the node at {}: {reason}", ctx.rpc_display())
        }
        other => other.into(),
    }
}

/// A failed read as one sentence: unknown streams named plainly, other reverts decoded.
pub(crate) fn read_error(ctx: &Context, error: TxError) -> eyre::Report {
    match error {
        TxError::Reverted(revert) => match &revert.kind {
            RevertKind::Custom { name, .. } if name == "Payroll_StreamNotFound" => {
                eyre!("{} does not exist on this deployment ({revert})", stream_word(&revert))
            }
            _ => eyre!("reading the Payroll contract failed: {revert}"),
        },
        TxError::Node(NodeError::Unreachable { reason, .. }) => {
            eyre!("cannot reach the node at {}: {reason}", ctx.rpc_display())
        }
        other => other.into(),
    }
}

fn stream_word(revert: &DecodedRevert) -> String {
    match &revert.kind {
        RevertKind::Custom { args, .. } if !args.is_empty() => {
            format!("stream {}", shiftpay_bindings::revert::format_value(&args[0].value))
        }
        _ => "the stream".to_owned(),
    }
}

/// One view call of the Payroll contract, decoded.
pub(crate) async fn read<C: SolCall>(
    ctx: &Context,
    payroll: Address,
    call: &C,
) -> eyre::Result<C::Return> {
    let tx = ctx.call_tx(payroll, call);
    let raw = tx::simulate(&ctx.provider, None, &tx).await.map_err(|e| read_error(ctx, e))?;
    C::abi_decode_returns(&raw)
        .wrap_err_with(|| format!("cannot decode the answer of {}", C::SIGNATURE))
}

/// Many view calls of the Payroll contract in few `eth_call`s of `multicall`; the raw returns
/// in order. A failing call fails the batch (with its revert decoded); a batch the node runs out
/// of gas on (its `eth_call` gas cap is usually the block gas limit) is halved.
pub(crate) async fn read_many(
    ctx: &Context,
    payroll: Address,
    calls: Vec<Bytes>,
) -> eyre::Result<Vec<Bytes>> {
    let mut results = Vec::with_capacity(calls.len());
    let mut size = READS_PER_CALL;
    let mut rest = &calls[..];
    while !rest.is_empty() {
        let chunk = &rest[..size.min(rest.len())];
        let tx = ctx.call_tx(payroll, &Payroll::multicallCall { data: chunk.to_vec() });
        match tx::simulate(&ctx.provider, None, &tx).await {
            Ok(raw) => {
                results.extend(decode::<Payroll::multicallCall>(&raw)?);
                rest = &rest[chunk.len()..];
            }
            Err(error) if chunk.len() > 1 && is_out_of_gas(&error) => size = chunk.len() / 2,
            Err(error) => return Err(read_error(ctx, error)),
        }
    }
    Ok(results)
}

fn decode<C: SolCall>(raw: &Bytes) -> eyre::Result<C::Return> {
    C::abi_decode_returns(raw)
        .wrap_err_with(|| format!("cannot decode the answer of {}", C::SIGNATURE))
}

/// A stream's stored state and what it can pay now.
#[derive(Debug, Clone)]
pub(crate) struct StreamState {
    /// Stream id.
    pub(crate) id: u64,
    /// `getStream`.
    pub(crate) view: PayrollTypes::StreamView,
    /// `earned` (token units).
    pub(crate) earned: U256,
    /// `withdrawable` (token units).
    pub(crate) withdrawable: U256,
    /// The pool's token decimals.
    pub(crate) decimals: u8,
    /// The pool's balance (token units).
    pub(crate) pool_balance: U256,
}

impl StreamState {
    /// Earned at unix time `at`, projected from the stored state the way the contract computes
    /// it (`_owedNow`), in token units rounded down.
    pub(crate) fn earned_at(&self, at: u64) -> U256 {
        let view = &self.view;
        let mut owed = U256::from(view.owedScaled);
        if view.status == STATUS_ACTIVE {
            let from = view.lastUpdate.to::<u64>().max(view.start.to::<u64>());
            let end = view.end.to::<u64>();
            let to = if end == 0 { at } else { at.min(end) };
            if to > from {
                owed += U256::from(view.rate) * U256::from(to - from);
            }
        }
        owed / scale(self.decimals)
    }

    /// Withdrawable at unix time `at` (projected earnings, capped by the pool balance read).
    pub(crate) fn withdrawable_at(&self, at: u64) -> U256 {
        self.earned_at(at).min(self.pool_balance)
    }
}

/// `10^(18 - decimals)`: scaled units per token unit.
pub(crate) fn scale(decimals: u8) -> U256 {
    U256::from(10u64).pow(U256::from(18u8.saturating_sub(decimals)))
}

/// The current state of `ids` (three reads per stream plus one per pool, batched).
pub(crate) async fn stream_states(
    ctx: &Context,
    payroll: Address,
    ids: &[u64],
) -> eyre::Result<Vec<StreamState>> {
    let mut calls = Vec::with_capacity(ids.len() * 3);
    for &id in ids {
        let id = U256::from(id);
        calls.push(Payroll::getStreamCall { streamId: id }.abi_encode().into());
        calls.push(Payroll::earnedCall { streamId: id }.abi_encode().into());
        calls.push(Payroll::withdrawableCall { streamId: id }.abi_encode().into());
    }
    let raw = read_many(ctx, payroll, calls).await?;
    let mut partial = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        let view = decode::<Payroll::getStreamCall>(&raw[3 * i])?;
        let earned = decode::<Payroll::earnedCall>(&raw[3 * i + 1])?;
        let withdrawable = decode::<Payroll::withdrawableCall>(&raw[3 * i + 2])?;
        partial.push((id, view, earned, withdrawable));
    }
    let mut pools: Vec<(Address, Address)> =
        partial.iter().map(|(_, v, ..)| (v.employer, v.token)).collect();
    pools.sort();
    pools.dedup();
    let pool_views = pool_views(ctx, payroll, &pools).await?;
    Ok(partial
        .into_iter()
        .map(|(id, view, earned, withdrawable)| {
            let pool = &pool_views[&(view.employer, view.token)];
            StreamState {
                id,
                decimals: pool.decimals,
                pool_balance: pool.balance,
                view,
                earned,
                withdrawable,
            }
        })
        .collect())
}

/// `getPool` of each (employer, token).
pub(crate) async fn pool_views(
    ctx: &Context,
    payroll: Address,
    pools: &[(Address, Address)],
) -> eyre::Result<HashMap<(Address, Address), PayrollTypes::PoolView>> {
    let calls = pools
        .iter()
        .map(|&(employer, token)| Payroll::getPoolCall { employer, token }.abi_encode().into())
        .collect();
    let raw = read_many(ctx, payroll, calls).await?;
    pools
        .iter()
        .zip(&raw)
        .map(|(&key, raw)| Ok((key, decode::<Payroll::getPoolCall>(raw)?)))
        .collect()
}

/// A `StreamCreated` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CreatedStream {
    pub(crate) id: u64,
    pub(crate) employer: Address,
    pub(crate) worker: Address,
    pub(crate) token: Address,
    pub(crate) rate: u128,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) block: u64,
    pub(crate) tx_hash: Option<B256>,
}

impl CreatedStream {
    /// Decodes a `StreamCreated` log (`None` for any other log).
    pub(crate) fn from_log(log: &Log) -> Option<Self> {
        let decoded = log.log_decode::<Payroll::StreamCreated>().ok()?;
        let event = &decoded.inner.data;
        Some(Self {
            id: u64::try_from(event.streamId).ok()?,
            employer: event.employer,
            worker: event.worker,
            token: event.token,
            rate: event.rate,
            start: event.start.to::<u64>(),
            end: event.end.to::<u64>(),
            block: log.block_number.unwrap_or_default(),
            tx_hash: log.transaction_hash,
        })
    }

    /// The streams a receipt created, in order.
    pub(crate) fn from_receipt(receipt: &TransactionReceipt, payroll: Address) -> Vec<Self> {
        receipt
            .inner
            .logs()
            .iter()
            .filter(|log| log.address() == payroll)
            .filter_map(Self::from_log)
            .collect()
    }
}

/// Logs of `filter` emitted by the Payroll contract from its deployment block to the latest
/// block, paged in the chain's `eth_getLogs` range (a note on stderr when it takes several pages).
pub(crate) async fn payroll_logs(
    ctx: &Context,
    deployment: &Deployment,
    filter: Filter,
) -> eyre::Result<Vec<Log>> {
    let from = deployment.payroll.block_number;
    let (to, _) = latest_block(ctx).await?;
    if to < from {
        bail!(
            "the node's latest block {to} is before the deployment block {from}: is {} the node of this deployment?",
            ctx.rpc_display()
        );
    }
    let range = ctx.chain.log_range.max(1);
    let pages = (to - from) / range + 1;
    if pages > 1 {
        eprintln!(
            "reading Payroll events of blocks {from}..={to} ({pages} queries of {range} blocks)"
        );
    }
    let filter = filter.address(deployment.payroll.address);
    get_logs_paged(&ctx.provider, &filter, from, to, range, |_, _| {}).await.map_err(|error| {
        match error {
            shiftpay_bindings::logs::LogsError::Node {
                source: NodeError::Unreachable { reason, .. },
                ..
            } => {
                eyre!("cannot reach the node at {}: {reason}", ctx.rpc_display())
            }
            other => other.into(),
        }
    })
}

/// Every stream created for `employer` and/or `worker`, in id order.
pub(crate) async fn created_streams(
    ctx: &Context,
    deployment: &Deployment,
    employer: Option<Address>,
    worker: Option<Address>,
) -> eyre::Result<Vec<CreatedStream>> {
    let mut filter = Filter::new().event_signature(Payroll::StreamCreated::SIGNATURE_HASH);
    if let Some(employer) = employer {
        filter = filter.topic2(employer.into_word());
    }
    if let Some(worker) = worker {
        filter = filter.topic3(worker.into_word());
    }
    let mut streams: Vec<CreatedStream> = payroll_logs(ctx, deployment, filter)
        .await?
        .iter()
        .filter_map(CreatedStream::from_log)
        .collect();
    streams.sort_by_key(|s| s.id);
    Ok(streams)
}

/// The tokens of `employer`'s pools (from `PoolOpened`), in the order they were opened.
pub(crate) async fn pool_tokens(
    ctx: &Context,
    deployment: &Deployment,
    employer: Address,
) -> eyre::Result<Vec<Address>> {
    let filter = Filter::new()
        .event_signature(Payroll::PoolOpened::SIGNATURE_HASH)
        .topic1(employer.into_word());
    let mut tokens = Vec::new();
    for log in payroll_logs(ctx, deployment, filter).await? {
        if let Ok(event) = log.log_decode::<Payroll::PoolOpened>()
            && !tokens.contains(&event.inner.data.token)
        {
            tokens.push(event.inner.data.token);
        }
    }
    Ok(tokens)
}

/// The address a read command reports on when none is given: the wallet's (from `--from`, a
/// private key or mnemonic, a keystore's address field, or by loading the keystore).
pub(crate) fn wallet_address(
    ctx: &Context,
    wallet: &WalletOpts,
    flag: &str,
) -> eyre::Result<Address> {
    let dry = TxOpts { dry_run: true, ..TxOpts::default() };
    if let Some(address) = ctx.sender(wallet, &dry)?.address() {
        return Ok(address);
    }
    if wallet.source(&ctx.config)?.is_none() {
        bail!(
            "pass {flag} ADDRESS, or a wallet (--account NAME, --private-key KEY...) to use its address"
        );
    }
    ctx.sender(wallet, &TxOpts::default())?.require_address()
}

/// The sender of a transaction, with its address (a dry run needs one: `--from` or a wallet).
pub(crate) fn sender_with_address(
    ctx: &Context,
    wallet: &WalletOpts,
    opts: &TxOpts,
) -> eyre::Result<(Sender, Address)> {
    let sender = ctx.sender(wallet, opts)?;
    let address = sender.require_address()?;
    Ok((sender, address))
}

/// An amount of a token for JSON: token units (decimal string), the human amount and the symbol.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AmountJson {
    pub(crate) units: String,
    pub(crate) amount: String,
    pub(crate) symbol: String,
}

impl AmountJson {
    pub(crate) fn new(token: &Token, units: U256) -> Self {
        Self {
            units: units.to_string(),
            amount: units::format_amount(units, token.decimals),
            symbol: token.symbol.clone(),
        }
    }
}

/// A rate for JSON: the contract's value and per month / per hour for people.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RateJson {
    /// Scaled (18-decimal) token units per second, as the contract stores it.
    pub(crate) per_second_scaled: String,
    /// Per month (of the `--month` length).
    pub(crate) per_month: String,
    /// Per hour.
    pub(crate) per_hour: String,
}

impl RateJson {
    pub(crate) fn new(rate: U256, symbol: &str, month: MonthMode) -> Self {
        Self {
            per_second_scaled: rate.to_string(),
            per_month: units::format_rate(rate, symbol, Period::Month, month),
            per_hour: units::format_rate(rate, symbol, Period::Hour, month),
        }
    }
}

/// Decimals shown in rates for people (JSON keeps the exact value).
const RATE_SHOWN_DECIMALS: u8 = 6;

/// A rate for people per `period`, rounded to 6 decimals with `~` when that rounds:
/// `~1500 USDRIF/month` for the 1499.999999999998176 USDRIF a 30-day month of the contract's
/// per-second rate pays.
pub(crate) fn rate_human(rate: U256, symbol: &str, period: Period, month: MonthMode) -> String {
    let per_period = rate.saturating_mul(U256::from(period.seconds(month)));
    let unit = U256::from(10u64).pow(U256::from(units::RATE_DECIMALS - RATE_SHOWN_DECIMALS));
    let rounded = per_period.saturating_add(unit / U256::from(2u8)) / unit * unit;
    let approx = if rounded == per_period { "" } else { "~" };
    format!("{approx}{} {symbol}/{period}", units::format_amount(rounded, units::RATE_DECIMALS))
}

/// [`rate_human`] per month.
pub(crate) fn rate_per_month(rate: U256, symbol: &str, month: MonthMode) -> String {
    rate_human(rate, symbol, Period::Month, month)
}

/// `PayrollTypes.Status.Active` (the ABI carries the enum as a `uint8`).
pub(crate) const STATUS_ACTIVE: u8 = 0;
/// `PayrollTypes.Status.Paused`.
pub(crate) const STATUS_PAUSED: u8 = 1;
/// `PayrollTypes.Status.Canceled`.
pub(crate) const STATUS_CANCELED: u8 = 2;

/// A stream status's name.
pub(crate) fn status_name(status: u8) -> &'static str {
    match status {
        STATUS_ACTIVE => "active",
        STATUS_PAUSED => "paused",
        STATUS_CANCELED => "canceled",
        _ => "unknown",
    }
}

/// A stream's status for people: `ended` for an active stream past its end, `scheduled` before
/// its start.
pub(crate) fn describe_status(view: &PayrollTypes::StreamView, now: u64) -> &'static str {
    let end = view.end.to::<u64>();
    match view.status {
        STATUS_ACTIVE if end != 0 && end <= now => "ended",
        STATUS_ACTIVE if view.start.to::<u64>() > now => "scheduled",
        status => status_name(status),
    }
}

/// A start or end time for people: RFC 3339, `open-ended` for an end of 0.
pub(crate) fn format_end(end: u64) -> String {
    if end == 0 { "open-ended".to_owned() } else { units::format_time(end) }
}

/// An end time for JSON: RFC 3339 or `null`.
pub(crate) fn end_json(end: u64) -> Option<String> {
    (end != 0).then(|| units::format_time(end))
}

/// What a sent transaction gives back for JSON and people: its hash and block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TxJson {
    pub(crate) tx_hash: B256,
    pub(crate) block: u64,
    pub(crate) gas_used: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) explorer: Option<String>,
}

impl TxJson {
    pub(crate) fn new(ctx: &Context, receipt: &TransactionReceipt) -> Self {
        Self {
            tx_hash: receipt.transaction_hash,
            block: receipt.block_number.unwrap_or_default(),
            gas_used: receipt.gas_used,
            explorer: ctx.chain.tx_url(receipt.transaction_hash),
        }
    }
}

/// The gas budget of a batch, the block gas limit and the policy (margin and buffer included):
/// see [`TxPolicy::batch_gas_budget`].
pub(crate) fn gas_budget(ctx: &Context, opts: &TxOpts) -> (u64, u64, TxPolicy) {
    let policy = ctx.policy(opts);
    (policy.batch_gas_budget(), ctx.chain.block_gas_limit, policy)
}

/// Sends one Payroll call through [`Context::send`], whose tx policy sizes the gas limit
/// ([`TxPolicy::gas_limit`]).
pub(crate) async fn send_call(
    ctx: &Context,
    sender: &Sender,
    tx: TransactionRequest,
    what: &str,
    opts: &TxOpts,
) -> eyre::Result<Sent> {
    ctx.send(sender, tx, what, opts).await
}

/// What an estimate of a batch said.
enum Estimate {
    /// Fits the budget with this much gas.
    Fits(u64),
    /// Needs more than the budget (`Some(gas)`), or the node refused it for lack of gas (`None`).
    TooBig(Option<u64>),
}

/// Whether a node's estimate error means "out of gas" rather than a revert of the call itself.
fn is_out_of_gas(error: &TxError) -> bool {
    match error {
        TxError::Reverted(revert) => revert.kind == RevertKind::Empty,
        TxError::Node(NodeError::Rejected { message, .. } | NodeError::Other { message, .. }) => {
            let message = message.to_ascii_lowercase();
            [
                "out of gas",
                "outofgas",
                "gas required exceeds",
                "exceeds block gas limit",
                "gas limit",
                "intrinsic gas",
            ]
            .iter()
            .any(|needle| message.contains(needle))
        }
        _ => false,
    }
}

async fn estimate(
    ctx: &Context,
    from: Address,
    tx: &TransactionRequest,
    budget: u64,
) -> Result<Estimate, TxError> {
    match tx::estimate_gas(&ctx.provider, from, tx).await {
        Ok(gas) if gas <= budget => Ok(Estimate::Fits(gas)),
        Ok(gas) => Ok(Estimate::TooBig(Some(gas))),
        Err(error) if is_out_of_gas(&error) => Ok(Estimate::TooBig(None)),
        Err(error) => Err(error),
    }
}

/// The largest batch that fits, and its estimate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fit {
    pub(crate) count: usize,
    pub(crate) gas: u64,
    /// Estimates made to find it.
    pub(crate) estimates: usize,
    /// The estimate of one item more, which did not fit (`None` when every item fitted, or when
    /// the node refused that estimate for lack of gas).
    pub(crate) one_more_gas: Option<u64>,
}

/// Why no batch could be planned.
pub(crate) enum FitError {
    /// The batch of the first `count` items reverts (not for lack of gas).
    Reverted { count: usize, error: TxError },
    /// One item alone needs more gas than the budget.
    OneTooBig { gas: Option<u64> },
}

/// The largest `k` in `1..=len` whose batch `build(k)` (the first `k` items) has an
/// `eth_estimateGas` within `budget`, searching from `hint`: a batch over the budget (or one the
/// node refuses for lack of gas) is split, proportionally to its estimate when there is one and in
/// half otherwise; a fitting batch is grown while the next size may still fit. Batches are assumed
/// to grow in gas with their size (every item adds work).
pub(crate) async fn largest_fitting_batch(
    ctx: &Context,
    from: Address,
    len: usize,
    budget: u64,
    hint: usize,
    build: impl Fn(usize) -> TransactionRequest,
) -> eyre::Result<Result<Fit, FitError>> {
    let mut fits: Option<(usize, u64)> = None; // largest size known to fit
    let mut too_big = len + 1; // smallest size known not to fit
    let mut too_big_gas = None;
    let mut guess = hint.clamp(1, len.max(1));
    let mut estimates = 0;
    loop {
        let low = fits.map_or(0, |(k, _)| k);
        if too_big - low <= 1 {
            break;
        }
        let k = if guess > low && guess < too_big { guess } else { low + (too_big - low) / 2 };
        estimates += 1;
        match estimate(ctx, from, &build(k), budget).await {
            Ok(Estimate::Fits(gas)) => {
                fits = Some((k, gas));
                guess = proportional(k, gas, budget).max(k + 1);
            }
            Ok(Estimate::TooBig(gas)) => {
                too_big = k;
                too_big_gas = gas;
                guess = gas.map_or(low + (k - low) / 2, |gas| proportional(k, gas, budget));
            }
            Err(error) => return Ok(Err(FitError::Reverted { count: k, error })),
        }
    }
    Ok(match fits {
        Some((count, gas)) => {
            Ok(Fit { count, gas, estimates, one_more_gas: too_big_gas.filter(|_| count < len) })
        }
        None => Err(FitError::OneTooBig { gas: too_big_gas }),
    })
}

/// How many items fit in `budget` if `k` items took `gas` (the base cost counted once).
fn proportional(k: usize, gas: u64, budget: u64) -> usize {
    let per_item = (gas.saturating_sub(BASE_TX_GAS) / k as u64).max(1);
    usize::try_from(budget.saturating_sub(BASE_TX_GAS) / per_item).unwrap_or(usize::MAX)
}

/// Prints `rows` under `headers` in aligned columns (the last one unpadded), each line prefixed
/// by `indent`.
pub(crate) fn print_table(indent: &str, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                if i == last {
                    (*cell).to_owned()
                } else {
                    format!("{cell:<width$}", width = widths[i])
                }
            })
            .collect();
        println!("{indent}{}", text.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A `multicall` transaction of the Payroll contract over `calls`.
pub(crate) fn multicall_tx(ctx: &Context, payroll: Address, calls: &[Bytes]) -> TransactionRequest {
    ctx.call_tx(payroll, &Payroll::multicallCall { data: calls.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proportional_sizes_count_the_base_cost_once() {
        // 10 items took 21,000 + 10 * 100,000: 5,621,000 fits 56.
        assert_eq!(proportional(10, 1_021_000, 5_621_000), 56);
        assert_eq!(proportional(1, 21_001, 100), 0);
    }

    #[test]
    fn stream_ids() {
        assert_eq!(stream_id("7").unwrap(), 7);
        assert_eq!(stream_id("#7").unwrap(), 7);
        assert!(stream_id("0").is_err());
        assert!(stream_id("x").unwrap_err().to_string().contains("invalid stream id"));
    }

    #[test]
    fn rates_for_people_round_to_six_decimals() {
        let rate = U256::from(578_703_703_703_703u64); // 1500 / 30 days, rounded down
        assert_eq!(rate_per_month(rate, "USDRIF", MonthMode::Days30), "~1500 USDRIF/month");
        let exact = U256::from(10u64.pow(18));
        assert_eq!(rate_human(exact, "RIF", Period::Hour, MonthMode::Days30), "3600 RIF/hour");
    }
}
