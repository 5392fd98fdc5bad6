//! `shiftpay`: the employer and DAO command line for ShiftPay payroll streams and milestone escrow.
//!
//! Results go to stdout (human tables, or JSON with `--json`); logs and progress go to stderr.

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Pay workers on Rootstock and other EVM Bitcoin L2s: payroll streams and milestone escrow.
#[derive(Debug, Parser)]
#[command(name = "shiftpay", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    output: output::OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List and inspect the contracts bundled with this binary (sizes, code hashes, compiler).
    Contracts(commands::contracts::ContractsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Contracts(args) => commands::contracts::run(args, &cli.output),
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
