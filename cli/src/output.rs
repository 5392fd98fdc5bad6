//! Output options shared by every subcommand.

use clap::Args;
use serde::Serialize;

/// How results are printed.
#[derive(Debug, Clone, Args)]
pub(crate) struct OutputArgs {
    /// Print results as JSON on stdout (for scripts) instead of human-readable text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl OutputArgs {
    /// Prints `value` as pretty JSON when `--json` is set, else runs `human` to print text.
    pub(crate) fn emit<T: Serialize>(&self, value: &T, human: impl FnOnce(&T)) -> eyre::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            human(value);
        }
        Ok(())
    }
}
