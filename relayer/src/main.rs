//! `shiftpay-relayer`: runs the relayer service, or checks its configuration.
//!
//! ```text
//! shiftpay-relayer run --config relayer.toml
//! shiftpay-relayer check-config --config relayer.toml
//! shiftpay-relayer migrate --config relayer.toml
//! ```
//! Settings come from the file and `SHIFTPAY_RELAYER_*` variables (see `relayer.example.toml`).
//! Logs go to stderr (`RUST_LOG` filters them, default `info`); `check-config` and `migrate`
//! print to stdout.

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use eyre::WrapErr;
use shiftpay_relayer::{
    Config, Relayer,
    config::{DEFAULT_CONFIG_FILE, LogFormat},
    store::migrations,
};
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

/// Watches ShiftPay contracts on Rootstock and submits due payouts and signed requests.
#[derive(Debug, Parser)]
#[command(name = "shiftpay-relayer", version, about)]
struct Cli {
    /// Log format (overrides `log_format` in the config).
    #[arg(long, global = true, value_enum, env = "SHIFTPAY_RELAYER_LOG_FORMAT")]
    log_format: Option<LogFormat>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the relayer until SIGTERM or SIGINT.
    Run {
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
        config: PathBuf,
    },
    /// Apply the database migrations of the configured `storage` (SQLite or PostgreSQL) and
    /// print those applied. `run` applies them too; run this first when several instances share
    /// one PostgreSQL database, before starting or upgrading them.
    Migrate {
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
        config: PathBuf,
    },
    /// Check the configuration and print it resolved (secrets redacted), or print every problem
    /// and exit 1. Also checks the deployment file and loads the signer (keystores are decrypted).
    CheckConfig {
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = DEFAULT_CONFIG_FILE)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => check_config(&config),
        Command::Migrate { config } => match migrate(&config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
        Command::Run { config } => match run(&config, cli.log_format) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                // The subscriber may not be installed yet (a config error): print plainly too.
                error!("{err:#}");
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// `check-config`: the resolved config on stdout, or every problem on stderr (exit 1).
fn check_config(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("error: {errors}");
            return ExitCode::FAILURE;
        }
    };
    let mut problems = Vec::new();
    if let Err(errors) = config.check_environment() {
        problems.extend(errors.0.iter().map(ToString::to_string));
    }
    let signer = match config.signer.load() {
        Ok(signer) => Some(signer.address()),
        Err(err) => {
            problems.push(format!("signer ({}): {err}", config.signer.description));
            None
        }
    };
    if !problems.is_empty() {
        let count = problems.len();
        eprintln!("error: {count} configuration problem{}:", if count == 1 { "" } else { "s" });
        for problem in problems {
            eprintln!("  - {problem}");
        }
        return ExitCode::FAILURE;
    }
    print!("{}", config.to_redacted_toml());
    if let Some(address) = signer {
        println!("\n# signer address: {}", config.chain_info().format_address(address));
    }
    ExitCode::SUCCESS
}

/// `migrate`: applies the pending migrations, one line per migration applied on stdout.
fn migrate(path: &std::path::Path) -> eyre::Result<()> {
    let config = Config::load(path)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the tokio runtime")?;
    let storage = config.storage.redacted();
    let migrated = runtime
        .block_on(migrations::apply(&config.storage))
        .wrap_err_with(|| format!("cannot migrate {storage}"))?;
    for applied in &migrated.applied {
        println!("applied {} {} ({})", applied.version, applied.description, migrated.backend);
    }
    eprintln!(
        "{storage}: {} migration{} applied, {} in all: the schema is up to date",
        migrated.applied.len(),
        if migrated.applied.len() == 1 { "" } else { "s" },
        migrated.total,
    );
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(path: &std::path::Path, log_format: Option<LogFormat>) -> eyre::Result<()> {
    let config = Config::load(path)?;
    init_logging(log_format.unwrap_or(config.log_format));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the tokio runtime")?;
    runtime.block_on(async move {
        let handle = tokio::select! {
            handle = Relayer::start(config) => handle?,
            signal = shutdown_signal() => {
                info!(%signal, "stopping before the relayer started");
                return Ok(());
            }
        };
        info!(tasks = ?handle.task_names(), api = ?handle.api_addr(), "relayer running");
        tokio::select! {
            signal = shutdown_signal() => info!(%signal, "shutting down"),
            failures = handle.wait() => {
                for failure in &failures {
                    warn!(%failure, "shutting down after a task failure");
                }
            }
        }
        handle.shutdown().await?;
        Ok(())
    })
}

/// Waits for SIGTERM or SIGINT (Ctrl-C) and names it.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
