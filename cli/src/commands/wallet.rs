//! `shiftpay wallet new|import|list|address`: encrypted JSON keystores in foundry's directory
//! (`~/.foundry/keystores/NAME`), interchangeable with `cast wallet`: `--account NAME` works with
//! keystores made by `cast wallet import`, and `cast --account NAME` with the ones made here.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use clap::{Args, Subcommand};
use eyre::{WrapErr, bail, eyre};
use serde::Serialize;
use shiftpay_bindings::wallet::{
    self, PASSWORD_ENV, Secret, SignerSource, foundry_keystore_dir, import_keystore,
    list_keystores, load_signer, new_keystore, prompt_hidden,
};

use crate::{config::Config, opts::WalletOpts, output::OutputArgs};

/// `shiftpay wallet`.
#[derive(Debug, Args)]
pub(crate) struct WalletArgs {
    #[command(subcommand)]
    command: WalletCommand,
}

#[derive(Debug, Subcommand)]
enum WalletCommand {
    /// Create a keystore for a new random key (scrypt-encrypted JSON, like `cast wallet new`).
    New(NewArgs),
    /// Encrypt an existing private key or mnemonic account into a keystore (like
    /// `cast wallet import`). Without --private-key or --mnemonic, the key is asked for on the
    /// terminal, hidden.
    Import(ImportArgs),
    /// List the keystores (`~/.foundry/keystores`, shared with `cast wallet list`).
    List(ListArgs),
    /// Print the address of a wallet given by any wallet option (`--account`, `--keystore`,
    /// `--private-key`, `--mnemonic`, or `account` in shiftpay.toml).
    Address(AddressArgs),
}

/// Where keystores are written and how their password is given.
#[derive(Debug, Args)]
struct KeystoreOpts {
    /// Keystore directory (default: `~/.foundry/keystores`, where `cast` looks too).
    #[arg(long, short = 'k', value_name = "DIR")]
    keystore_dir: Option<PathBuf>,

    /// File whose first line is the new keystore's password (else `SHIFTPAY_KEYSTORE_PASSWORD`,
    /// else a hidden prompt, asked twice).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct NewArgs {
    /// Account name: the keystore's file name (used as `--account NAME`).
    name: String,
    #[command(flatten)]
    keystore: KeystoreOpts,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// Account name: the keystore's file name (used as `--account NAME`).
    name: String,

    /// Hex private key to import. Prefer the hidden prompt: a key on the command line stays in
    /// the shell history.
    #[arg(long, value_name = "KEY", env = "SHIFTPAY_PRIVATE_KEY", hide_env_values = true)]
    private_key: Option<String>,

    /// BIP-39 mnemonic (or a file holding it) whose account `--mnemonic-index` is imported.
    #[arg(
        long,
        value_name = "PHRASE|FILE",
        env = "SHIFTPAY_MNEMONIC",
        hide_env_values = true,
        conflicts_with = "private_key"
    )]
    mnemonic: Option<String>,

    /// Account index of `--mnemonic` (derivation path `m/44'/60'/0'/0/INDEX`).
    #[arg(long, value_name = "INDEX", default_value_t = 0, requires = "mnemonic")]
    mnemonic_index: u32,

    #[command(flatten)]
    keystore: KeystoreOpts,
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Keystore directory (default: `~/.foundry/keystores`).
    #[arg(long, short = 'k', value_name = "DIR")]
    keystore_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct AddressArgs {
    #[command(flatten)]
    wallet: WalletOpts,
}

/// A keystore written by `new` / `import`.
#[derive(Debug, Serialize)]
struct Created {
    name: String,
    address: Address,
    path: PathBuf,
}

/// One row of `list`.
#[derive(Debug, Serialize)]
struct Listed {
    name: String,
    /// `null` for keystores that do not state it (those made by `cast`).
    address: Option<Address>,
    path: PathBuf,
}

#[derive(Debug, Serialize)]
struct Shown {
    address: Address,
}

/// Runs `shiftpay wallet ...`.
pub(crate) fn run(args: &WalletArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        WalletCommand::New(args) => {
            let dir = keystore_dir(args.keystore.keystore_dir.as_deref())?;
            wallet::check_account_name(&args.name)?;
            refuse_existing(&dir, &args.name)?;
            let password = new_password(&args.keystore, &args.name)?;
            let address = new_keystore(&dir, &args.name, &password)?;
            print_created(out, &args.name, address, dir.join(&args.name), "Created")
        }
        WalletCommand::Import(args) => {
            let dir = keystore_dir(args.keystore.keystore_dir.as_deref())?;
            wallet::check_account_name(&args.name)?;
            refuse_existing(&dir, &args.name)?;
            let signer = key_to_import(args)?;
            let password = new_password(&args.keystore, &args.name)?;
            let address = import_keystore(&dir, &args.name, &signer, &password)?;
            print_created(out, &args.name, address, dir.join(&args.name), "Imported")
        }
        WalletCommand::List(args) => {
            let dir = keystore_dir(args.keystore_dir.as_deref())?;
            let rows: Vec<Listed> = list_keystores(&dir)?
                .into_iter()
                .map(|k| Listed { name: k.name, address: k.address, path: k.path })
                .collect();
            out.emit(&rows, |rows| {
                if rows.is_empty() {
                    eprintln!("no keystores in {}", dir.display());
                }
                let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
                for row in rows {
                    let address = row.address.map_or_else(
                        || "(address known once unlocked)".to_owned(),
                        |a| a.to_checksum(None),
                    );
                    println!("{:width$}  {address}", row.name);
                }
            })
        }
        WalletCommand::Address(args) => {
            let workdir = std::env::current_dir().wrap_err("cannot read the working directory")?;
            let config = Config::discover(&workdir)?;
            let source = args.wallet.source(&config)?.ok_or_else(|| {
                eyre!("no wallet given: pass --account NAME, --keystore PATH, --private-key or --mnemonic")
            })?;
            // A keystore that states its address needs no password.
            let stated = match &source {
                SignerSource::Keystore { path, .. } => wallet::keystore_address(path),
                SignerSource::Account { name, .. } => {
                    wallet::check_account_name(name)?;
                    wallet::keystore_address(&foundry_keystore_dir()?.join(name))
                }
                _ => None,
            };
            let address = match stated {
                Some(address) => address,
                None => load_signer(&source)?.address(),
            };
            out.emit(&Shown { address }, |shown| println!("{}", shown.address.to_checksum(None)))
        }
    }
}

fn keystore_dir(given: Option<&Path>) -> eyre::Result<PathBuf> {
    Ok(match given {
        Some(dir) => dir.to_owned(),
        None => foundry_keystore_dir()?,
    })
}

/// Fails before any prompt when the name is taken.
fn refuse_existing(dir: &Path, name: &str) -> eyre::Result<()> {
    let path = dir.join(name);
    if path.exists() {
        bail!(wallet::WalletError::KeystoreExists { path });
    }
    Ok(())
}

/// The key `import` encrypts: `--private-key`, `--mnemonic`, else a hidden prompt.
fn key_to_import(args: &ImportArgs) -> eyre::Result<PrivateKeySigner> {
    let source = if let Some(key) = &args.private_key {
        SignerSource::PrivateKey(Secret::new(key.as_str()))
    } else if let Some(phrase) = &args.mnemonic {
        SignerSource::Mnemonic { phrase: Secret::new(phrase.as_str()), index: args.mnemonic_index }
    } else {
        require_terminal(
            "the private key",
            "pass --private-key, SHIFTPAY_PRIVATE_KEY or --mnemonic",
        )?;
        SignerSource::PrivateKey(prompt_hidden("Private key (hex): ")?)
    };
    Ok(load_signer(&source)?)
}

/// The new keystore's password: `--password-file`, `SHIFTPAY_KEYSTORE_PASSWORD`, or typed twice.
fn new_password(opts: &KeystoreOpts, name: &str) -> eyre::Result<Secret> {
    let password = if let Some(file) = &opts.password_file {
        let text = std::fs::read_to_string(file)
            .wrap_err_with(|| format!("cannot read the password file {}", file.display()))?;
        Secret::new(text.lines().next().unwrap_or_default())
    } else if let Ok(password) = std::env::var(PASSWORD_ENV) {
        Secret::new(password)
    } else {
        require_terminal("a password", "pass --password-file or set SHIFTPAY_KEYSTORE_PASSWORD")?;
        let first = prompt_hidden(&format!("Password for the new keystore {name}: "))?;
        let again = prompt_hidden("Same password again: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was written");
        }
        first
    };
    if password.expose().is_empty() {
        bail!("the keystore password is empty; an empty password does not protect the key");
    }
    Ok(password)
}

fn require_terminal(what: &str, alternative: &str) -> eyre::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for {what}: {alternative}");
    }
    Ok(())
}

fn print_created(
    out: &OutputArgs,
    name: &str,
    address: Address,
    path: PathBuf,
    verb: &str,
) -> eyre::Result<()> {
    let created = Created { name: name.to_owned(), address, path };
    out.emit(&created, |c| {
        eprintln!(
            "{verb} keystore {} at {} (use it with --account {})",
            c.name,
            c.path.display(),
            c.name
        );
        println!("{}", c.address.to_checksum(None));
    })
}
