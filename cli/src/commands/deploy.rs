//! `shiftpay deploy`: deploys Payroll and MilestoneEscrow from the artifacts compiled into this
//! binary and writes `deployments/<chain-id>.json`, which every other command reads.
//! `shiftpay deploy --check` verifies that the code at the file's addresses is those artifacts.

use std::path::Path;

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use clap::Args;
use eyre::{bail, eyre};
use serde::Serialize;
use shiftpay_bindings::{
    codecheck::{CodeCheck, compare_runtime, eip712_immutables},
    deployment::{ContractDeployment, DeployedToken, Deployment},
    escrow::{self, MilestoneEscrow},
    payroll::{self, Payroll},
    units,
};

use crate::{
    context::{Context, Sender, Sent},
    opts::{ChainOpts, TxOpts, WalletOpts},
    output::OutputArgs,
};

/// Arguments of `shiftpay deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Do not deploy: check that the runtime code at the deployment file's addresses equals the
    /// bundled artifacts (immutables compared with the values expected for this chain and
    /// address). Exits 1 when a contract does not match.
    #[arg(long)]
    check: bool,

    /// Deploy again and overwrite an existing deployment file of a live chain (the old contracts
    /// stay on chain; this file stops pointing at them). Not needed on the devnet.
    #[arg(long, conflicts_with = "check")]
    force: bool,

    #[command(flatten)]
    chain: ChainOpts,

    #[command(flatten)]
    wallet: WalletOpts,

    #[command(flatten)]
    tx: TxOpts,
}

/// The two contracts, in deployment order.
struct Contract {
    name: &'static str,
    eip712_name: &'static str,
    eip712_version: &'static str,
    init_code: &'static Bytes,
    runtime: &'static Bytes,
}

fn contracts() -> [Contract; 2] {
    [
        Contract {
            name: "Payroll",
            eip712_name: payroll::EIP712_NAME,
            eip712_version: payroll::EIP712_VERSION,
            init_code: &Payroll::BYTECODE,
            runtime: &Payroll::DEPLOYED_BYTECODE,
        },
        Contract {
            name: "MilestoneEscrow",
            eip712_name: escrow::EIP712_NAME,
            eip712_version: escrow::EIP712_VERSION,
            init_code: &MilestoneEscrow::BYTECODE,
            runtime: &MilestoneEscrow::DEPLOYED_BYTECODE,
        },
    ]
}

pub(crate) async fn run(args: &DeployArgs, out: &OutputArgs) -> eyre::Result<()> {
    let ctx = Context::connect(&args.chain).await?;
    if args.check { check(&ctx, out).await } else { deploy(&ctx, args, out).await }
}

/// What `deploy --json` prints: the file's path and content.
#[derive(Serialize)]
struct DeployOutput<'a> {
    path: String,
    #[serde(flatten)]
    deployment: &'a Deployment,
}

async fn deploy(ctx: &Context, args: &DeployArgs, out: &OutputArgs) -> eyre::Result<()> {
    let sender = ctx.sender(&args.wallet, &args.tx)?;
    let Some(deployment) = deploy_with(ctx, &sender, &args.tx, args.force, Vec::new()).await?
    else {
        return ctx.print_dry_run(out);
    };
    let shown = ctx.show_path(ctx.deployment_path());
    out.emit(&DeployOutput { path: shown, deployment: &deployment }, |output| {
        let d = output.deployment;
        for (name, c) in [("Payroll", &d.payroll), ("MilestoneEscrow", &d.escrow)] {
            println!(
                "{name:<16} {}  block {}  tx {}",
                ctx.format_address(c.address),
                c.block_number,
                c.tx_hash
            );
        }
        if let Some(url) = ctx.chain.address_url(d.payroll.address) {
            println!("explorer         {url}");
        }
        println!("deployment file  {}", output.path);
    })
}

/// Deploys both contracts as `sender`, checks their code, and writes the deployment file
/// (`ctx.deployment_path()`), listing `tokens` plus the tokens of the file being replaced that
/// still exist on this chain. `None` for a dry run (nothing written). `shiftpay deploy` and
/// `shiftpay devnet up` (which adds the devnet's test stablecoin) both deploy through here.
pub(crate) async fn deploy_with(
    ctx: &Context,
    sender: &Sender,
    tx: &TxOpts,
    force: bool,
    tokens: Vec<DeployedToken>,
) -> eyre::Result<Option<Deployment>> {
    let path = ctx.deployment_path().to_owned();
    let shown = ctx.show_path(&path);
    let previous = existing(ctx, &path, force)?;

    let mut deployed = Vec::new();
    for contract in contracts() {
        let request = TransactionRequest::default().with_deploy_code(contract.init_code.clone());
        let what = format!("deploy {}", contract.name);
        let Sent::Mined(receipt) = ctx.send(sender, request, &what, tx).await? else { continue };
        let address = receipt.contract_address.ok_or_else(|| {
            eyre!("{what}: the receipt of {} has no contract address", receipt.transaction_hash)
        })?;
        deployed.push(ContractDeployment {
            address,
            tx_hash: receipt.transaction_hash,
            block_number: receipt.block_number.unwrap_or_default(),
            artifact_hash: keccak256(contract.runtime),
        });
    }
    if tx.dry_run {
        eprintln!("dry run: {shown} was not written");
        return Ok(None);
    }
    let [payroll, escrow] = <[ContractDeployment; 2]>::try_from(deployed)
        .map_err(|_| eyre!("expected two deployments"))?;

    // The node must now serve exactly the artifacts' code at both addresses.
    for (contract, deployment) in contracts().iter().zip([&payroll, &escrow]) {
        let check = check_code(ctx, contract, deployment.address).await?;
        if !check.is_match() {
            bail!(
                "{} was deployed at {} but {check}",
                contract.name,
                ctx.format_address(deployment.address)
            );
        }
    }

    // Tokens listed by the file being replaced (a devnet's test stablecoin) stay listed while
    // they still exist on this chain.
    let mut tokens = tokens;
    for token in previous.map(|p| p.tokens).unwrap_or_default() {
        let listed = tokens.iter().any(|t| t.address == token.address || t.symbol == token.symbol);
        if !listed && !ctx.provider.get_code_at(token.address).await?.is_empty() {
            tokens.push(token);
        }
    }
    let deployment = Deployment {
        version: shiftpay_bindings::deployment::DEPLOYMENT_FORMAT_VERSION,
        chain_id: ctx.chain.chain_id,
        payroll,
        escrow,
        compiler: Deployment::embedded_compiler()?,
        deployer: sender.require_address()?,
        tokens,
        created_at: units::format_time(units::now()),
    };
    deployment.save(&path)?;
    eprintln!("wrote {shown}");
    Ok(Some(deployment))
}

/// The deployment file already at `path`, if any: refused when it is for another chain, and on
/// a live chain unless `--force`. On the devnet it is simply replaced.
fn existing(ctx: &Context, path: &Path, force: bool) -> eyre::Result<Option<Deployment>> {
    if !path.exists() {
        return Ok(None);
    }
    let shown = ctx.show_path(path);
    let previous = Deployment::load_for_chain(path, ctx.chain.chain_id)?;
    let chain = ctx.chain.display_name();
    if ctx.chain.is_live() {
        if !force {
            bail!(
                "{shown} already holds a deployment on {chain} (chain {}, Payroll at {}): pass --force to deploy again and overwrite it",
                ctx.chain.chain_id,
                ctx.format_address(previous.payroll.address)
            );
        }
        eprintln!(
            "--force: {shown} will be overwritten; the contracts at {} and {} stay on chain, unreferenced",
            ctx.format_address(previous.payroll.address),
            ctx.format_address(previous.escrow.address)
        );
    } else {
        let name = ctx.chain.preset.map_or("local", |preset| preset.name);
        eprintln!(
            "replacing the {name} deployment in {shown} (not a live chain: no --force needed)"
        );
    }
    Ok(Some(previous))
}

/// One row of `deploy --check`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckRow {
    contract: &'static str,
    address: String,
    ok: bool,
    /// The comparison with this binary's artifact.
    check: CodeCheck,
    detail: String,
    /// Whether the file's `artifactHash` is this binary's artifact (else the deployment was
    /// made by another version of the contracts).
    same_artifact_as_file: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckReport {
    chain_id: u64,
    deployment: String,
    ok: bool,
    contracts: Vec<CheckRow>,
}

/// Compares the code at `address` with `contract`'s artifact, immutables checked against the
/// EIP-712 values its constructor writes for this chain and address.
async fn check_code(
    ctx: &Context,
    contract: &Contract,
    address: Address,
) -> eyre::Result<CodeCheck> {
    let code = ctx.provider.get_code_at(address).await?;
    let expected = eip712_immutables(
        contract.eip712_name,
        contract.eip712_version,
        ctx.chain.chain_id,
        address,
    );
    Ok(compare_runtime(contract.runtime, &code, &expected))
}

async fn check(ctx: &Context, out: &OutputArgs) -> eyre::Result<()> {
    let deployment = ctx.deployment()?;
    let mut rows = Vec::new();
    for (contract, deployed) in contracts().iter().zip([&deployment.payroll, &deployment.escrow]) {
        let check = check_code(ctx, contract, deployed.address).await?;
        let artifact_hash: B256 = keccak256(contract.runtime);
        let same_artifact_as_file = deployed.artifact_hash == artifact_hash;
        let mut detail = check.to_string();
        if !same_artifact_as_file {
            detail.push_str(&format!(
                "; the file records artifact {}, this shiftpay bundles {artifact_hash} (another version of the contracts)",
                deployed.artifact_hash
            ));
        }
        rows.push(CheckRow {
            contract: contract.name,
            address: ctx.format_address(deployed.address),
            ok: check.is_match(),
            check,
            detail,
            same_artifact_as_file,
        });
    }
    let report = CheckReport {
        chain_id: ctx.chain.chain_id,
        deployment: ctx.show_path(ctx.deployment_path()),
        ok: rows.iter().all(|row| row.ok),
        contracts: rows,
    };
    out.emit(&report, |report| {
        for row in &report.contracts {
            let status = if row.ok { "ok" } else { "MISMATCH" };
            println!("{:<16} {}  {status:<8} {}", row.contract, row.address, row.detail);
        }
        println!(
            "(immutables: OpenZeppelin's EIP712 constructor writes the domain separator, chain id, \
             address, name and version into the code; those words are checked against the values \
             for this chain and address, every other byte against the artifact)"
        );
    })?;
    if !report.ok {
        let bad: Vec<_> = report
            .contracts
            .iter()
            .filter(|r| !r.ok)
            .map(|r| format!("{} at {}", r.contract, r.address))
            .collect();
        bail!("the code of {} does not match this binary's artifacts", bad.join(" and "));
    }
    Ok(())
}
