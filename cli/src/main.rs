//! `shiftpay`: the employer and DAO command line for ShiftPay payroll streams and milestone escrow.
//!
//! Results go to stdout (human tables, or JSON with `--json`); logs and progress go to stderr.

mod commands;
mod config;
mod context;
#[cfg(test)]
mod docs;
mod opts;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Pay workers on Rootstock and other EVM Bitcoin L2s: payroll streams and milestone escrow.
#[derive(Debug, Parser)]
#[command(name = "shiftpay", version, about, long_about = None, max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    output: output::OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the chain presets (id, RPC, explorer, confirmations, gas policy, known tokens); NAME
    /// shows one in detail. Any other EVM chain works with `--rpc-url` alone.
    Chains(commands::chains::ChainsArgs),
    /// List and inspect the contracts bundled with this binary (sizes, code hashes, compiler).
    Contracts(commands::contracts::ContractsArgs),
    /// The local devnet every command uses when given no `--chain`/`--rpc-url`: `up` (anvil,
    /// chain id 33, contracts and the test stablecoin tUSD deployed), `down`, `status`, `reset`.
    Devnet(commands::devnet::DevnetArgs),
    /// Run the whole product on the devnet with the relayer alongside: payroll streams from a
    /// roster, a three-milestone job, debt and repayment, a payday batch and a gasless withdrawal;
    /// ends with a balance table that must add up (exit 1 if not).
    Demo(commands::demo::DemoArgs),
    /// Deploy Payroll and MilestoneEscrow and write `deployments/<chain-id>.json`; `--check`
    /// verifies a deployment's code against the bundled artifacts.
    Deploy(commands::deploy::DeployArgs),
    /// Manage encrypted keystores in `~/.foundry/keystores` (shared with `cast wallet`): `new`,
    /// `import`, `list`, and `address` of any wallet option.
    Wallet(commands::wallet::WalletArgs),
    /// An employer's pools in the Payroll contract: `deposit` (approving an ERC-20 first when
    /// needed), `withdraw-surplus`, and `status` (balance, rate, surplus or debt, run-out date,
    /// each stream's withdrawable).
    Treasury(commands::treasury::TreasuryArgs),
    /// Payroll streams: `create` (one, or a roster CSV in gas-bounded batches), `pause`,
    /// `resume`, `adjust`, `set-end`, `cancel`, `withdraw`, `payout`, `show` (`--watch`), `list`.
    Stream(commands::stream::StreamArgs),
    /// Milestone escrow jobs: `create`, `fund`, `accept`, `submit`, `approve`,
    /// `request-changes`, `dispute`, `resolve`, `settle`, `cancel`, `reclaim`, `resign`,
    /// `release`, `withdraw`, `show`, `list`.
    Job(commands::job::JobArgs),
    /// Sign EIP-712 messages for anyone to submit: `withdraw` (payroll), `approve` and `settle`
    /// (escrow); prints a JSON signature file.
    Sign(commands::sign::SignArgs),
    /// A Safe multisig as employer or client: owners `sign` a proposal file written with
    /// `--via safe:ADDRESS`, anyone `exec`s it once the threshold is met; `status`, `propose`.
    Safe(commands::safe::SafeArgs),
    /// Send a signature file made by `shiftpay sign` (any wallet may).
    Submit(commands::submit::SubmitArgs),
    /// Check a signature file against the chain: signer, nonce, deadline, chain and contract.
    Verify(commands::verify::VerifyArgs),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Chains(args) => commands::chains::run(args, &cli.output),
        Command::Contracts(args) => commands::contracts::run(args, &cli.output),
        Command::Devnet(args) => commands::devnet::run(args, &cli.output).await,
        Command::Demo(args) => commands::demo::run(args, &cli.output).await,
        Command::Deploy(args) => commands::deploy::run(args, &cli.output).await,
        Command::Wallet(args) => commands::wallet::run(args, &cli.output),
        Command::Treasury(args) => commands::treasury::run(args, &cli.output).await,
        Command::Stream(args) => commands::stream::run(args, &cli.output).await,
        Command::Job(args) => commands::job::run(args, &cli.output).await,
        Command::Sign(args) => commands::sign::run(args, &cli.output).await,
        Command::Safe(args) => commands::safe::run(args, &cli.output).await,
        Command::Submit(args) => commands::submit::run(args, &cli.output).await,
        Command::Verify(args) => commands::verify::run(args, &cli.output).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One readable line (with its causes) instead of a debug dump with a backtrace.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
