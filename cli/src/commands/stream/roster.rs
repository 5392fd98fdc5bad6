//! `shiftpay stream create --from-csv roster.csv`: a whole payroll in as few transactions as the
//! block gas limit allows, all or nothing per row set, and resumable.
//!
//! 1. **Every row is checked before anything is sent**: the header (`worker`, `rate` required;
//!    `token`, `start`, `end`, `label` optional), each cell, tokens resolved against the chain,
//!    rates converted, times parsed and checked against the chain's clock, labels unique. Each bad
//!    row is reported as `row N: reason` (N is the line the row starts on, the header being row 1)
//!    and the command fails without sending anything.
//! 2. **What already exists is skipped**: the employer's `StreamCreated` events (paged from the
//!    deployment block) are the truth. A row matches an unused stream with the same worker, token,
//!    rate, end and start (for `now` starts: any start since the roster was first run). Relative
//!    times (`+30d`, `now`) are resolved against the time of the first run, kept in a small state
//!    file next to the CSV (`roster.csv.shiftpay.json`), so a rerun computes the same dates. The
//!    contract has no label field: labels live in that file and in the output, with the stream
//!    ids they got.
//! 3. **The missing rows are created through `multicall`** in batches: each batch is the largest
//!    prefix of the remaining rows whose `eth_estimateGas` fits the block gas limit less the gas
//!    margin (batches over it are split: proportionally to the estimate, or in half when the node
//!    refuses the estimate for lack of gas). Each batch is sent and confirmed before the next is
//!    estimated, and the state file is updated after each, so a failure leaves a consistent state
//!    and running the same command again creates only what is missing.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, aliases::U40},
    sol_types::SolCall,
};
use eyre::{WrapErr, bail, eyre};
use serde::{Deserialize, Serialize};
use shiftpay_bindings::{
    deployment::DeployedToken,
    payroll::Payroll,
    tokens::{TOKEN_REQUIREMENTS, Token, TokenError, TokenRef},
    tx,
    units::{self, MonthMode, Period, Rate},
};

use super::csv;
use crate::{
    commands::payroll_common::{
        CreatedStream, FitError, RateInput, RateJson, TokenOpts, created_streams, format_end,
        gas_budget, largest_fitting_batch, latest_block, means_now, means_open_ended, multicall_tx,
        print_table, rate_human, send_call, sender_with_address,
    },
    context::{Context, Sender},
    opts::{TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Version of the state file format.
const STATE_VERSION: u32 = 1;

/// The columns a roster may have; `worker` and `rate` are required.
const COLUMNS: [&str; 6] = ["worker", "token", "rate", "start", "end", "label"];

/// Where each column is in the file.
#[derive(Debug, Clone, Copy)]
struct Columns {
    worker: usize,
    token: Option<usize>,
    rate: usize,
    start: Option<usize>,
    end: Option<usize>,
    label: Option<usize>,
    count: usize,
}

/// A data row of the file.
#[derive(Debug, Clone)]
struct Row {
    /// Line of the file where the row starts (the header is row 1).
    number: usize,
    cells: Vec<String>,
}

impl Row {
    fn cell(&self, index: Option<usize>) -> &str {
        index.and_then(|i| self.cells.get(i)).map_or("", |c| c.trim())
    }
}

/// Reads the header and the rows.
fn parse_table(text: &str) -> eyre::Result<(Columns, Vec<Row>)> {
    let records = csv::parse(text)?;
    let Some((header, rows)) = records.split_first() else {
        bail!("it is empty: the first row must name the columns ({})", COLUMNS.join(","));
    };
    let names: Vec<String> = header.cells.iter().map(|c| c.trim().to_ascii_lowercase()).collect();
    if !names.iter().any(|n| COLUMNS.contains(&n.as_str())) {
        bail!(
            "it has no header row: its first row must name the columns, e.g. {} (found {:?})",
            COLUMNS.join(","),
            header.cells.join(",")
        );
    }
    let find = |name: &str| names.iter().position(|n| n == name);
    for (i, name) in names.iter().enumerate() {
        if !COLUMNS.contains(&name.as_str()) {
            bail!(
                "unknown column {:?} in the header: the columns are {}",
                header.cells[i],
                COLUMNS.join(", ")
            );
        }
        if names[..i].contains(name) {
            bail!("the header names the column {name:?} twice");
        }
    }
    let required = |name: &str| {
        find(name).ok_or_else(|| {
            eyre!("the header has no {name:?} column (columns: {})", COLUMNS.join(", "))
        })
    };
    let columns = Columns {
        worker: required("worker")?,
        token: find("token"),
        rate: required("rate")?,
        start: find("start"),
        end: find("end"),
        label: find("label"),
        count: names.len(),
    };
    let rows = rows.iter().map(|r| Row { number: r.line, cells: r.cells.clone() }).collect();
    Ok((columns, rows))
}

/// A valid row, ready to be matched or created.
#[derive(Debug, Clone)]
struct Plan {
    row: usize,
    label: String,
    worker: Address,
    token: Token,
    rate: Rate,
    rate_text: String,
    /// `None`: start when mined (`now`).
    start: Option<u64>,
    /// 0: open-ended.
    end: u64,
    /// The stream on chain, and whether this run created it.
    stream: Option<(CreatedStream, bool)>,
}

impl Plan {
    fn call(&self) -> Payroll::createStreamCall {
        Payroll::createStreamCall {
            worker: self.worker,
            token: self.token.address,
            rate: self.rate.to_contract(),
            start: U40::from(self.start.unwrap_or(0)),
            end: U40::from(self.end),
        }
    }

    /// The row's stream for the output (once it has one).
    fn json(&self, ctx: &Context, month: MonthMode) -> RowJson {
        let (stream, new) = self.stream.as_ref().expect("every row has its stream now");
        RowJson {
            row: self.row,
            label: self.label.clone(),
            stream_id: stream.id,
            status: if *new { "created" } else { "existing" },
            worker: ctx.format_address(self.worker),
            token: self.token.symbol.clone(),
            rate: RateJson::new(self.rate.per_second_scaled, &self.token.symbol, month),
            period: self.rate.period,
            start: units::format_time(stream.start),
            end: (stream.end != 0).then(|| units::format_time(stream.end)),
        }
    }

    fn matches(&self, event: &CreatedStream, resolved_at: u64) -> bool {
        event.worker == self.worker
            && event.token == self.token.address
            && event.rate == self.rate.to_contract()
            && event.end == self.end
            && match self.start {
                Some(start) => event.start == start,
                None => event.start >= resolved_at,
            }
    }
}

/// The key of a token as typed (symbols case-insensitively).
fn token_key(token: &TokenRef) -> TokenRef {
    match token {
        TokenRef::Symbol(symbol) => TokenRef::Symbol(symbol.to_lowercase()),
        other => other.clone(),
    }
}

/// What each row names as its token and rate, before resolution.
struct Parsed {
    worker: Result<Address, String>,
    rate: Result<RateInput, String>,
    column_token: Result<Option<TokenRef>, String>,
}

fn parse_cells(row: &Row, columns: &Columns, payroll: Address) -> Parsed {
    let worker = match shiftpay_bindings::chains::parse_address(row.cell(Some(columns.worker))) {
        Ok(worker) if worker.is_zero() => Err("the worker cannot be the zero address".to_owned()),
        Ok(worker) if worker == payroll => {
            Err("the worker cannot be the Payroll contract".to_owned())
        }
        Ok(worker) => Ok(worker),
        Err(error) if row.cell(Some(columns.worker)).is_empty() => {
            Err(format!("no worker ({error})"))
        }
        Err(error) => Err(error.to_string()),
    };
    let rate_cell = row.cell(Some(columns.rate));
    let rate = if rate_cell.is_empty() {
        Err("no rate (write it as AMOUNT TOKEN/PERIOD, e.g. 1500 USDRIF/month)".to_owned())
    } else {
        RateInput::parse(rate_cell).map_err(|e| e.to_string())
    };
    let token_cell = row.cell(columns.token);
    let column_token = if token_cell.is_empty() {
        Ok(None)
    } else {
        token_cell.parse::<TokenRef>().map(Some).map_err(|e: TokenError| e.to_string())
    };
    Parsed { worker, rate, column_token }
}

/// The state file next to the CSV.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    version: u32,
    chain_id: u64,
    payroll: Address,
    employer: Address,
    /// The chain time relative times (`now`, `+30d`) were resolved against, at the first run.
    resolved_at: u64,
    /// The same, for people.
    resolved_at_time: String,
    /// The roster's rows and the streams they got.
    streams: Vec<StateStream>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StateStream {
    row: usize,
    label: String,
    worker: Address,
    stream_id: u64,
    tx_hash: Option<B256>,
}

impl State {
    fn path(csv: &Path) -> PathBuf {
        let mut name = csv.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".shiftpay.json");
        csv.with_file_name(name)
    }

    /// The state of a previous run for this chain, deployment and employer, if any.
    fn load(
        path: &Path,
        shown: &str,
        chain_id: u64,
        payroll: Address,
        employer: Address,
    ) -> eyre::Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => bail!("cannot read the roster state {shown}: {error}"),
        };
        let state: Self = serde_json::from_str(&text)
            .map_err(|e| eyre!("the roster state {shown} is not valid ({e}): fix or delete it"))?;
        if state.version > STATE_VERSION {
            bail!(
                "the roster state {shown} was written by a newer shiftpay (format {})",
                state.version
            );
        }
        if state.chain_id != chain_id || state.payroll != payroll || state.employer != employer {
            eprintln!(
                "note: {shown} belongs to another chain, deployment or employer: relative times are resolved from now and it will be replaced"
            );
            return Ok(None);
        }
        Ok(Some(state))
    }

    fn save(&self, path: &Path) -> eyre::Result<()> {
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut json = serde_json::to_string_pretty(self).expect("the state serializes");
        json.push('\n');
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, path))
            .wrap_err_with(|| format!("cannot write the roster state {}", path.display()))
    }

    fn record(&mut self, plans: &[Plan]) {
        self.streams = plans
            .iter()
            .filter_map(|plan| {
                plan.stream.as_ref().map(|(stream, _)| StateStream {
                    row: plan.row,
                    label: plan.label.clone(),
                    worker: plan.worker,
                    stream_id: stream.id,
                    tx_hash: stream.tx_hash,
                })
            })
            .collect();
    }
}

/// One transaction of the run.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchJson {
    /// The transaction.
    pub(crate) tx_hash: B256,
    block: u64,
    /// The rows it created, in order.
    rows: Vec<usize>,
    streams: usize,
    gas_estimate: u64,
    gas_limit: u64,
    gas_used: u64,
    /// `eth_estimateGas` calls made to size the batch.
    estimates: usize,
    /// The estimate with the next row added, over the budget (`null` for the last batch, or
    /// when the node refused that estimate for lack of gas).
    one_more_row_gas: Option<u64>,
}

/// One row's stream.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RowJson {
    row: usize,
    /// The row's label (or a generated one).
    pub(crate) label: String,
    /// The stream the row got.
    pub(crate) stream_id: u64,
    /// `created` by this run, or `existing` (created before, matched on chain).
    status: &'static str,
    worker: String,
    token: String,
    rate: RateJson,
    /// The period the roster gave the rate in.
    period: Period,
    start: String,
    end: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RosterOutput {
    csv: String,
    state_file: String,
    employer: String,
    rows: usize,
    created: usize,
    existing: usize,
    block_gas_limit: u64,
    gas_margin_pct: u64,
    /// The most gas a batch's estimate may reach (block gas limit less the margin).
    gas_budget: u64,
    /// The `multicall` transactions sent.
    pub(crate) transactions: Vec<BatchJson>,
    /// One entry per row, in file order.
    pub(crate) streams: Vec<RowJson>,
}

/// Creates the streams of the roster at `path` that do not exist yet and prints the result.
pub(crate) async fn create_from_csv(
    ctx: &Context,
    path: &Path,
    token_opts: &TokenOpts,
    wallet: &WalletOpts,
    opts: &TxOpts,
    out: &OutputArgs,
) -> eyre::Result<()> {
    let Some(output) = create_streams(ctx, path, token_opts, wallet, opts).await? else {
        return ctx.print_dry_run(out);
    };
    out.emit(&output, |o| print_output(o, token_opts.month))?;
    eprintln!("labels and stream ids saved in {}", output.state_file);
    Ok(())
}

/// [`create_from_csv`] without printing the result (`shiftpay demo` shows its own lines):
/// the rows' streams, or `None` for a dry run.
pub(crate) async fn create_streams(
    ctx: &Context,
    path: &Path,
    token_opts: &TokenOpts,
    wallet: &WalletOpts,
    opts: &TxOpts,
) -> eyre::Result<Option<RosterOutput>> {
    let shown = ctx.show_path(path);
    let text = std::fs::read_to_string(path).map_err(|e| eyre!("cannot read {shown}: {e}"))?;
    let (columns, rows) = parse_table(&text).map_err(|e| eyre!("{shown}: {e}"))?;
    if rows.is_empty() {
        bail!("{shown} has a header but no rows");
    }
    let deployment = ctx.deployment()?;
    let payroll = deployment.payroll.address;
    let (sender, employer) = sender_with_address(ctx, wallet, opts)?;
    let state_path = State::path(path);
    let state_shown = ctx.show_path(&state_path);
    let previous = State::load(&state_path, &state_shown, ctx.chain.chain_id, payroll, employer)?;
    let (_, now) = latest_block(ctx).await?;
    let resolved_at = previous.as_ref().map_or(now, |s| s.resolved_at);
    if let Some(state) = &previous {
        eprintln!(
            "resuming {shown}: relative times are resolved against its first run at {} ({state_shown})",
            state.resolved_at_time
        );
    }

    // 1. Every cell, every token, every rate and time.
    let parsed: Vec<Parsed> = rows.iter().map(|row| parse_cells(row, &columns, payroll)).collect();
    let (tokens, unknown_refused) =
        resolve_tokens(ctx, &parsed, &deployment.tokens, token_opts.allow_unknown_token).await;
    let (mut plans, mut errors) =
        plan_rows(&rows, &columns, &parsed, &tokens, token_opts.month, resolved_at);

    // 2. What exists already (the chain is the truth), then the time checks of what does not.
    let events = created_streams(ctx, deployment, Some(employer), None).await?;
    match_existing(&mut plans, &events, resolved_at);
    errors.extend(check_times(&plans, now));
    if !errors.is_empty() {
        errors.sort_by_key(|(row, _)| *row);
        if unknown_refused {
            eprintln!("{TOKEN_REQUIREMENTS}");
        }
        for (row, reason) in &errors {
            eprintln!("row {row}: {reason}");
        }
        let numbers: Vec<String> = errors.iter().map(|(row, _)| row.to_string()).collect();
        bail!(
            "{shown}: {} of {} rows are invalid (row{} {}): nothing was sent",
            errors.len(),
            rows.len(),
            if errors.len() == 1 { "" } else { "s" },
            numbers.join(", ")
        );
    }
    let mut conversions = HashSet::new();
    for plan in &plans {
        if conversions.insert((plan.rate_text.clone(), plan.token.address)) {
            eprintln!("rate: {}", plan.rate.describe(&plan.token.symbol));
        }
    }

    // 3. Create what is missing, batch by batch.
    let (budget, limit, policy) = gas_budget(ctx, opts);
    let margin = policy.gas_margin_pct;
    let missing = plans.iter().filter(|p| p.stream.is_none()).count();
    let existing = plans.len() - missing;
    eprintln!(
        "{shown}: {} rows, {existing} already created, {missing} to create (block gas limit {limit}, batches estimated at most {budget} gas)",
        plans.len(),
    );
    let state = previous.unwrap_or_else(|| State {
        version: STATE_VERSION,
        chain_id: ctx.chain.chain_id,
        payroll,
        employer,
        resolved_at,
        resolved_at_time: units::format_time(resolved_at),
        streams: Vec::new(),
    });
    let mut creator = Creator {
        ctx,
        sender: &sender,
        employer,
        payroll,
        opts,
        state,
        state_path: &state_path,
        state_shown: &state_shown,
    };
    let (batches, transactions) = creator.create_missing(&mut plans).await?;
    if ctx.collecting(opts) {
        if opts.dry_run {
            eprintln!(
                "dry run: {missing} streams would be created in {transactions} transaction{} (later batches were estimated before the earlier ones exist)",
                if transactions == 1 { "" } else { "s" }
            );
        }
        return Ok(None);
    }

    let output = RosterOutput {
        csv: shown,
        state_file: state_shown.clone(),
        employer: ctx.format_address(employer),
        rows: plans.len(),
        created: missing,
        existing,
        block_gas_limit: limit,
        gas_margin_pct: margin,
        gas_budget: budget,
        transactions: batches,
        streams: plans.iter().map(|plan| plan.json(ctx, token_opts.month)).collect(),
    };
    Ok(Some(output))
}

/// Resolves every token the rows name, once each; also tells whether an unlisted address was
/// refused (to show the token requirements once).
async fn resolve_tokens(
    ctx: &Context,
    parsed: &[Parsed],
    extra: &[DeployedToken],
    allow_unknown: bool,
) -> (HashMap<TokenRef, Result<Token, String>>, bool) {
    let mut tokens: HashMap<TokenRef, Result<Token, String>> = HashMap::new();
    let mut unknown_refused = false;
    for p in parsed {
        let named = [
            p.column_token.as_ref().ok().cloned().flatten(),
            p.rate.as_ref().ok().and_then(|r| r.token.clone()),
        ];
        for token in named.into_iter().flatten() {
            let key = token_key(&token);
            if tokens.contains_key(&key) {
                continue;
            }
            let resolved = shiftpay_bindings::tokens::resolve_token(
                &ctx.provider,
                &ctx.chain,
                &token,
                extra,
                allow_unknown,
            )
            .await;
            if let Ok(token) = &resolved
                && !token.known
            {
                eprintln!(
                    "warning: {} ({}) is not a token ShiftPay knows on {}. {TOKEN_REQUIREMENTS}",
                    token.symbol,
                    ctx.format_address(token.address),
                    ctx.chain.display_name()
                );
            }
            unknown_refused |= matches!(resolved, Err(TokenError::UnknownAddress { .. }));
            tokens.insert(key, resolved.map_err(|e| e.to_string()));
        }
    }
    (tokens, unknown_refused)
}

/// The token of a row: named by its rate, its token column, or both (then the same token).
fn row_token(
    rate: &RateInput,
    column: Option<&TokenRef>,
    tokens: &HashMap<TokenRef, Result<Token, String>>,
) -> Result<Token, String> {
    let lookup = |token: &TokenRef| tokens[&token_key(token)].clone();
    match (&rate.token, column) {
        (None, None) => {
            Err("no token: name it in the token column or in the rate (1500 USDRIF/month)".into())
        }
        (Some(named), None) | (None, Some(named)) => lookup(named),
        (Some(in_rate), Some(in_column)) => {
            let (a, b) = (lookup(in_rate)?, lookup(in_column)?);
            if a.address == b.address {
                Ok(a)
            } else {
                Err(format!("the rate is in {} but the token column says {}", a.symbol, b.symbol))
            }
        }
    }
}

/// Checks every row that does not depend on the chain's state: the valid ones become plans,
/// the others `(row, reasons)`. Relative times resolve against `resolved_at`.
fn plan_rows(
    rows: &[Row],
    columns: &Columns,
    parsed: &[Parsed],
    tokens: &HashMap<TokenRef, Result<Token, String>>,
    month: MonthMode,
    resolved_at: u64,
) -> (Vec<Plan>, Vec<(usize, String)>) {
    let mut errors: Vec<(usize, String)> = Vec::new();
    let mut plans: Vec<Plan> = Vec::new();
    let mut labels: HashMap<String, usize> = HashMap::new();
    for (row, p) in rows.iter().zip(parsed) {
        let mut reasons: Vec<String> = Vec::new();
        if row.cells.len() != columns.count {
            reasons.push(format!(
                "it has {} cells, the header has {}",
                row.cells.len(),
                columns.count
            ));
        }
        let worker = p.worker.clone().map_err(|e| reasons.push(e)).ok();
        for error in [p.rate.as_ref().err(), p.column_token.as_ref().err()].into_iter().flatten() {
            reasons.push(error.clone());
        }
        let token = match (&p.rate, &p.column_token) {
            (Ok(rate), Ok(column)) => {
                row_token(rate, column.as_ref(), tokens).map_err(|e| reasons.push(e)).ok()
            }
            _ => None,
        };
        let rate = match (&p.rate, &token) {
            (Ok(input), Some(token)) => {
                input.to_rate(token, month).map_err(|e| reasons.push(e.to_string())).ok()
            }
            _ => None,
        };
        let start_cell = row.cell(columns.start);
        let start = if means_now(start_cell) {
            Some(None)
        } else {
            units::parse_time(start_cell, resolved_at)
                .map(Some)
                .map_err(|e| reasons.push(e.to_string()))
                .ok()
        };
        let end_cell = row.cell(columns.end);
        let end = if means_open_ended(end_cell) {
            Some(0)
        } else {
            units::parse_time(end_cell, resolved_at).map_err(|e| reasons.push(e.to_string())).ok()
        };
        if let (Some(Some(start)), Some(end)) = (start, end)
            && end != 0
            && end <= start
        {
            reasons.push(format!(
                "the end {} is not after the start {}",
                units::format_time(end),
                units::format_time(start)
            ));
        }
        let label = row.cell(columns.label).to_owned();
        if !label.is_empty() {
            if let Some(first) = labels.get(&label) {
                reasons.push(format!("the label {label:?} is already used by row {first}"));
            } else {
                labels.insert(label.clone(), row.number);
            }
        }
        match (worker, token, rate, start, end) {
            (Some(worker), Some(token), Some(rate), Some(start), Some(end))
                if reasons.is_empty() =>
            {
                plans.push(Plan {
                    row: row.number,
                    label,
                    worker,
                    token,
                    rate,
                    rate_text: row.cell(Some(columns.rate)).to_owned(),
                    start,
                    end,
                    stream: None,
                });
            }
            _ => errors.push((row.number, reasons.join("; "))),
        }
    }
    (plans, errors)
}

/// Gives each plan the first unused stream on chain it matches (duplicates rows get distinct
/// streams).
fn match_existing(plans: &mut [Plan], events: &[CreatedStream], resolved_at: u64) {
    let mut used = vec![false; events.len()];
    for plan in plans {
        if let Some(i) =
            (0..events.len()).find(|&i| !used[i] && plan.matches(&events[i], resolved_at))
        {
            used[i] = true;
            plan.stream = Some((events[i].clone(), false));
        }
    }
}

/// The rows still to create whose start or end is already past at `now`.
fn check_times(plans: &[Plan], now: u64) -> Vec<(usize, String)> {
    let past = |what: &str, time: u64| {
        format!(
            "the {what} {} is in the past (the chain's time is {})",
            units::format_time(time),
            units::format_time(now)
        )
    };
    plans
        .iter()
        .filter(|p| p.stream.is_none())
        .filter_map(|plan| {
            let mut reasons = Vec::new();
            if let Some(start) = plan.start.filter(|&start| start < now) {
                reasons.push(past("start", start));
            }
            if plan.end != 0 && plan.end <= now {
                reasons.push(past("end", plan.end));
            }
            (!reasons.is_empty()).then(|| (plan.row, reasons.join("; ")))
        })
        .collect()
}

/// Sends the batches of a run and keeps the state file up to date.
struct Creator<'a> {
    ctx: &'a Context,
    sender: &'a Sender,
    employer: Address,
    payroll: Address,
    opts: &'a TxOpts,
    state: State,
    state_path: &'a Path,
    state_shown: &'a str,
}

impl Creator<'_> {
    /// Creates the plans without a stream, in order, in the largest batches that fit; returns
    /// the mined batches and how many transactions were sent (or simulated).
    async fn create_missing(
        &mut self,
        plans: &mut [Plan],
    ) -> eyre::Result<(Vec<BatchJson>, usize)> {
        let (ctx, payroll, opts) = (self.ctx, self.payroll, self.opts);
        if !ctx.collecting(opts) {
            self.state.record(plans);
            self.state.save(self.state_path)?;
        }
        let (budget, _, policy) = gas_budget(ctx, opts);
        let missing: Vec<usize> = (0..plans.len()).filter(|&i| plans[i].stream.is_none()).collect();
        let calls: Vec<Bytes> =
            missing.iter().map(|&i| plans[i].call().abi_encode().into()).collect();
        let mut batches: Vec<BatchJson> = Vec::new();
        let mut transactions = 0;
        let mut done = 0;
        let mut hint = 1;
        while done < calls.len() {
            let rest = &calls[done..];
            let fit = largest_fitting_batch(ctx, self.employer, rest.len(), budget, hint, |k| {
                multicall_tx(ctx, payroll, &rest[..k])
            })
            .await?;
            let fit = match fit {
                Ok(fit) => fit,
                Err(FitError::Reverted { count, error }) => {
                    let batch = &missing[done..done + count];
                    return Err(
                        locate_revert(ctx, self.employer, payroll, plans, batch, error).await
                    );
                }
                Err(FitError::OneTooBig { gas }) => {
                    bail!(
                        "row {}: creating this stream alone needs {} gas, more than a batch may use ({budget})",
                        plans[missing[done]].row,
                        gas.map_or_else(|| "more".to_owned(), |g| g.to_string())
                    );
                }
            };
            hint = fit.count;
            let batch = &missing[done..done + fit.count];
            let row_numbers: Vec<usize> = batch.iter().map(|&i| plans[i].row).collect();
            let gas_limit = policy.gas_limit(fit.gas);
            let what = format!(
                "batch {}: create {} stream{} (rows {})",
                transactions + 1,
                fit.count,
                if fit.count == 1 { "" } else { "s" },
                ranges(&row_numbers)
            );
            let tx = multicall_tx(ctx, payroll, &rest[..fit.count]).with_gas_limit(gas_limit);
            let sent = match send_call(ctx, self.sender, tx, &what, opts).await {
                Ok(sent) => sent,
                Err(error) => {
                    if !ctx.collecting(opts) {
                        eprintln!(
                            "{done} of {} missing streams were created before this failure ({} is up to date): run the same command again to create the rest",
                            calls.len(),
                            self.state_shown
                        );
                    }
                    return Err(error);
                }
            };
            transactions += 1;
            if let Some(receipt) = sent.receipt() {
                let created = CreatedStream::from_receipt(receipt, payroll);
                if created.len() != batch.len() {
                    bail!(
                        "{} created {} streams instead of {}: check the deployment and run the command again",
                        receipt.transaction_hash,
                        created.len(),
                        batch.len()
                    );
                }
                for (&i, stream) in batch.iter().zip(created) {
                    plans[i].stream = Some((stream, true));
                }
                self.state.record(plans);
                self.state.save(self.state_path)?;
                batches.push(BatchJson {
                    tx_hash: receipt.transaction_hash,
                    block: receipt.block_number.unwrap_or_default(),
                    rows: row_numbers,
                    streams: batch.len(),
                    gas_estimate: fit.gas,
                    gas_limit,
                    gas_used: receipt.gas_used,
                    estimates: fit.estimates,
                    one_more_row_gas: fit.one_more_gas,
                });
            }
            done += fit.count;
        }
        Ok((batches, transactions))
    }
}

/// The result for people: the transactions, then one line per row.
fn print_output(o: &RosterOutput, month: MonthMode) {
    println!(
        "{} stream{} created in {} transaction{}, {} already existed",
        o.created,
        if o.created == 1 { "" } else { "s" },
        o.transactions.len(),
        if o.transactions.len() == 1 { "" } else { "s" },
        o.existing
    );
    for (i, batch) in o.transactions.iter().enumerate() {
        println!(
            "tx {}  {}  block {}  {} streams  gas {} of {} limit",
            i + 1,
            batch.tx_hash,
            batch.block,
            batch.streams,
            batch.gas_used,
            batch.gas_limit
        );
    }
    println!();
    let rows: Vec<Vec<String>> = o
        .streams
        .iter()
        .map(|s| {
            let rate = s.rate.per_second_scaled.parse().unwrap_or_default();
            vec![
                s.row.to_string(),
                s.label.clone(),
                s.stream_id.to_string(),
                s.worker.clone(),
                rate_human(rate, &s.token, s.period, month),
                s.start.clone(),
                s.end.clone().unwrap_or_else(|| format_end(0)),
                s.status.to_owned(),
            ]
        })
        .collect();
    print_table("", &["row", "label", "stream", "worker", "rate", "start", "end", "status"], &rows);
}

/// Finds the row whose creation reverts in a batch that reverted, by estimating each alone.
async fn locate_revert(
    ctx: &Context,
    employer: Address,
    payroll: Address,
    plans: &[Plan],
    batch: &[usize],
    error: tx::TxError,
) -> eyre::Report {
    for &i in batch {
        let tx = ctx.call_tx(payroll, &plans[i].call());
        if let Err(tx::TxError::Reverted(revert)) =
            tx::estimate_gas(&ctx.provider, employer, &tx).await
        {
            return eyre!(
                "row {}: the contract would revert: {revert}: nothing was sent for it or the rows after it",
                plans[i].row
            );
        }
    }
    eyre!(
        "a batch of rows {} would fail: {error}",
        ranges(&batch.iter().map(|&i| plans[i].row).collect::<Vec<_>>())
    )
}

/// `2-5, 7, 9-10`.
fn ranges(numbers: &[usize]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}-{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[2, 3, 4, 5, 7, 9, 10]), "2-5, 7, 9-10");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn headers_name_the_columns() {
        let (columns, rows) = parse_table("Worker,Rate,label\n0x01,1 rbtc/hour,a\n").unwrap();
        assert_eq!(
            (columns.worker, columns.rate, columns.label, columns.token),
            (0, 1, Some(2), None)
        );
        assert_eq!(rows[0].number, 2);
        assert!(
            parse_table("0xabc,1 rbtc/hour\n").unwrap_err().to_string().contains("no header row")
        );
        assert!(
            parse_table("worker,rate,salary\n").unwrap_err().to_string().contains("unknown column")
        );
        assert!(
            parse_table("worker,token\n").unwrap_err().to_string().contains("no \"rate\" column")
        );
        assert!(parse_table("").unwrap_err().to_string().contains("empty"));
    }

    #[test]
    fn the_state_file_sits_next_to_the_csv() {
        assert_eq!(
            State::path(Path::new("a/roster.csv")),
            PathBuf::from("a/roster.csv.shiftpay.json")
        );
    }
}
