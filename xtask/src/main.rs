//! Build tasks of the ShiftPay workspace, run as `cargo xtask <task>`.

mod contracts;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ShiftPay build tasks.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Solidity contracts: compile and keep the committed artifacts current.
    Contracts {
        #[command(subcommand)]
        action: ContractsAction,
    },
}

#[derive(Debug, Subcommand)]
enum ContractsAction {
    /// Compile contracts/ and rewrite bindings/artifacts and tests/artifacts.
    Build,
    /// Recompile and fail, naming each stale contract, if the committed artifacts differ.
    Check,
    /// Run `forge build` and check it produces the committed bytecode byte for byte.
    ForgeCheck,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> eyre::Result<()> {
    match cli.task {
        Task::Contracts { action } => {
            let root = contracts::repo_root();
            match action {
                ContractsAction::Build => contracts::build(&root),
                ContractsAction::Check => contracts::check(&root),
                ContractsAction::ForgeCheck => contracts::forge_check(&root),
            }
        }
    }
}
