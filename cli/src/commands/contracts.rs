//! `shiftpay contracts [NAME]`: what is compiled into this binary, so an operator can check a
//! deployment's runtime code hash or the compiler settings for explorer verification.

use clap::Args;
use shiftpay_bindings::artifacts::{ArtifactSummary, EMBEDDED, EmbeddedArtifact};

use crate::output::OutputArgs;

/// Arguments of `shiftpay contracts`.
#[derive(Debug, Args)]
pub(crate) struct ContractsArgs {
    /// Show only this contract (e.g. `Payroll`); all bundled contracts when omitted.
    name: Option<String>,
}

pub(crate) fn run(args: &ContractsArgs, output: &OutputArgs) -> eyre::Result<()> {
    let summaries = match &args.name {
        Some(name) => vec![EmbeddedArtifact::find(name)?.summary()?],
        None => EMBEDDED.iter().map(EmbeddedArtifact::summary).collect::<Result<Vec<_>, _>>()?,
    };
    output.emit(&summaries, |summaries| summaries.iter().for_each(print_summary))
}

fn print_summary(summary: &ArtifactSummary) {
    let runs = summary.optimizer_runs.map_or_else(|| "off".to_owned(), |runs| runs.to_string());
    println!("{}", summary.name);
    println!("  source            {}", summary.source_name);
    println!(
        "  compiler          solc {} (evm {}, optimizer runs {runs})",
        summary.compiler_version, summary.evm_version
    );
    println!("  creation code     {} bytes", summary.creation_size);
    println!("  runtime code      {} bytes (limit 24576)", summary.runtime_size);
    println!("  runtime code hash {}", summary.runtime_code_hash);
}
