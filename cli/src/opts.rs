//! The option groups every command flattens into its arguments, like foundry's `RpcOpts`,
//! `WalletOpts` and `TxOpts`: [`ChainOpts`] (where), [`WalletOpts`] (who signs) and [`TxOpts`]
//! (how transactions are sent). `--json` is [`crate::output::OutputArgs`].
//!
//! Precedence: a flag beats its environment variable (clap), which beats `shiftpay.toml`
//! ([`crate::config::Config`], applied by [`crate::context::Context`] and
//! [`WalletOpts::source`]).

use std::{path::PathBuf, time::Duration};

use alloy::primitives::{Address, utils::parse_units};
use clap::Args;
use shiftpay_bindings::wallet::{PASSWORD_ENV, PasswordSource, Secret, SignerSource};

use crate::config::Config;

/// Which chain and deployment a command talks to.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Chain")]
pub(crate) struct ChainOpts {
    /// Chain preset (`rootstock`, `rootstock-testnet`, `devnet`, `bob`, `citrea-testnet`,
    /// `botanix-testnet`; see `shiftpay chains`) or chain id. With `--rpc-url` alone, the chain
    /// id is read from the node.
    #[arg(long, value_name = "NAME|ID", env = "SHIFTPAY_CHAIN")]
    pub(crate) chain: Option<String>,

    /// JSON-RPC endpoint (default: the preset's public node). Its value is never shown: a
    /// hosted endpoint's URL may carry an API key.
    #[arg(long, value_name = "URL", env = "SHIFTPAY_RPC_URL", hide_env_values = true)]
    pub(crate) rpc_url: Option<String>,

    /// Deployment file (default: `deployments/<chain-id>.json` in the working directory).
    #[arg(long, value_name = "FILE", env = "SHIFTPAY_DEPLOYMENT")]
    pub(crate) deployment: Option<PathBuf>,
}

/// Who signs. At most one of `--private-key`, `--account`, `--keystore`, `--mnemonic`; none
/// falls back to `account` in `shiftpay.toml`.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Wallet")]
pub(crate) struct WalletOpts {
    /// Hex private key. Prefer `--account`: a key on the command line stays in the shell history.
    #[arg(long, value_name = "KEY", env = "SHIFTPAY_PRIVATE_KEY", hide_env_values = true)]
    pub(crate) private_key: Option<String>,

    /// Keystore account name in `~/.foundry/keystores` (shared with `cast wallet`).
    #[arg(long, value_name = "NAME", env = "SHIFTPAY_ACCOUNT")]
    pub(crate) account: Option<String>,

    /// Path of an encrypted JSON keystore file.
    #[arg(long, value_name = "PATH")]
    pub(crate) keystore: Option<PathBuf>,

    /// File whose first line is the keystore password (else `SHIFTPAY_KEYSTORE_PASSWORD`, else
    /// a hidden prompt).
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: Option<PathBuf>,

    /// BIP-39 mnemonic, or the path of a file holding it.
    #[arg(long, value_name = "PHRASE|FILE", env = "SHIFTPAY_MNEMONIC", hide_env_values = true)]
    pub(crate) mnemonic: Option<String>,

    /// Account index of `--mnemonic` (derivation path `m/44'/60'/0'/0/INDEX`).
    #[arg(long, value_name = "INDEX", default_value_t = 0, requires = "mnemonic")]
    pub(crate) mnemonic_index: u32,

    /// Sender for `--dry-run` when no key is given (the simulation runs as this address).
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address_arg)]
    pub(crate) from: Option<Address>,
}

/// How transactions are sent.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Transaction")]
pub(crate) struct TxOpts {
    /// Gas price in wei, or with a unit: `0.065gwei`, `65000000wei` (default: `eth_gasPrice`).
    #[arg(long, value_name = "PRICE", value_parser = parse_gas_price)]
    pub(crate) gas_price: Option<u128>,

    /// Percent added to `eth_estimateGas` for the gas limit (default 20).
    #[arg(long, value_name = "PERCENT")]
    pub(crate) gas_margin: Option<u64>,

    /// Blocks to wait after inclusion (default: the chain's; 12 on Rootstock, 1 on devnet).
    #[arg(long, value_name = "N")]
    pub(crate) confirmations: Option<u64>,

    /// How long to wait for the confirmations: seconds, or `90s`, `10m`, `1h` (default: 5 minutes
    /// plus one per confirmation).
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub(crate) timeout: Option<Duration>,

    /// Simulate with `eth_call` and print what would be sent (to, value, decoded call); sends
    /// nothing and needs no key.
    #[arg(long)]
    pub(crate) dry_run: bool,

    /// Answer yes to confirmations (an ERC-20 approval before a deposit); required when stdin is
    /// not a terminal.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,

    /// Act as a Safe multisig (`safe:ADDRESS`) or a DAO's Timelock (`timelock:ADDRESS`) instead
    /// of the local key: the calls (an ERC-20 approval included) are collected, checked with
    /// `eth_call` as that account, and written for its owners or voters; nothing is sent. The
    /// default writes a Safe transaction proposal (`--out`) for `shiftpay safe sign|exec`; `key`
    /// sends from the local key even when shiftpay.toml sets `safe`.
    #[arg(long, value_name = "safe:ADDRESS|timelock:ADDRESS|key", value_parser = parse_via)]
    pub(crate) via: Option<Via>,

    /// With `--via`: write the calls as `safe-tx-builder FILE` (a batch for the Safe{Wallet}
    /// Transaction Builder app) or `governor FILE` (targets, values, calldatas and description
    /// of a Governor proposal, with the `cast` command that proposes it).
    #[arg(long, num_args = 2, value_names = ["FORMAT", "FILE"])]
    pub(crate) export: Option<Vec<String>>,

    /// With `--via safe:`: the Safe transaction proposal file to write (default `safe-tx.json`).
    #[arg(long = "out", value_name = "FILE")]
    pub(crate) safe_out: Option<PathBuf>,

    /// With `--via safe:`: add the calls to the unsigned proposal already in `--out` (one Safe
    /// transaction for several commands, e.g. a deposit and a roster).
    #[arg(long)]
    pub(crate) append: bool,

    /// With `--via safe:`: the `MultiSendCallOnly` contract that batches several calls (default:
    /// Safe's canonical 1.4.1 deployment, 0x9641d764fc13c8B624c04430C7356C1C7C8102e2).
    #[arg(long, value_name = "ADDRESS", value_parser = parse_address_arg)]
    pub(crate) multisend: Option<Address>,
}

/// Who acts: the local key, a Safe, or a DAO's Timelock (`--via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The local key (overrides `safe` in shiftpay.toml).
    Key,
    /// A Safe multisig: the calls become a Safe transaction for its owners.
    Safe(Address),
    /// A Governor's executor (its `TimelockController`): the calls become a proposal.
    Timelock(Address),
}

impl Via {
    /// The account that acts, unless it is the local key.
    pub(crate) fn account(self) -> Option<Address> {
        match self {
            Self::Key => None,
            Self::Safe(address) | Self::Timelock(address) => Some(address),
        }
    }
}

/// `safe:ADDRESS`, `timelock:ADDRESS` or `key`.
pub(crate) fn parse_via(s: &str) -> Result<Via, String> {
    let text = s.trim();
    if text.eq_ignore_ascii_case("key") {
        return Ok(Via::Key);
    }
    let (kind, address) = text
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected safe:ADDRESS, timelock:ADDRESS or key"))?;
    let address = parse_address_arg(address)?;
    match kind.to_ascii_lowercase().as_str() {
        "safe" => Ok(Via::Safe(address)),
        "timelock" | "dao" => Ok(Via::Timelock(address)),
        other => {
            Err(format!("unknown route {other:?}: expected safe:ADDRESS, timelock:ADDRESS or key"))
        }
    }
}

impl WalletOpts {
    /// Where the key comes from: the one wallet flag given, else `account` from the config,
    /// else `None` (the command then says which flag it needs).
    pub(crate) fn source(&self, config: &Config) -> eyre::Result<Option<SignerSource>> {
        let given: Vec<&str> = [
            (self.private_key.is_some(), "--private-key (or SHIFTPAY_PRIVATE_KEY)"),
            (self.account.is_some(), "--account (or SHIFTPAY_ACCOUNT)"),
            (self.keystore.is_some(), "--keystore"),
            (self.mnemonic.is_some(), "--mnemonic (or SHIFTPAY_MNEMONIC)"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        if given.len() > 1 {
            eyre::bail!("choose one wallet: {} are all set", given.join(", "));
        }
        let password = self.password_source();
        Ok(if let Some(key) = &self.private_key {
            Some(SignerSource::PrivateKey(Secret::new(key.as_str())))
        } else if let Some(path) = &self.keystore {
            Some(SignerSource::Keystore { path: path.clone(), password })
        } else if let Some(phrase) = &self.mnemonic {
            Some(SignerSource::Mnemonic {
                phrase: Secret::new(phrase.as_str()),
                index: self.mnemonic_index,
            })
        } else {
            self.account
                .as_ref()
                .or(config.account.as_ref())
                .map(|name| SignerSource::Account { name: name.clone(), password })
        })
    }

    /// `--password-file`, else `SHIFTPAY_KEYSTORE_PASSWORD` when set, else a hidden prompt.
    fn password_source(&self) -> PasswordSource {
        match &self.password_file {
            Some(file) => PasswordSource::File(file.clone()),
            None if std::env::var_os(PASSWORD_ENV).is_some() => PasswordSource::Env,
            None => PasswordSource::Prompt,
        }
    }
}

/// An address in any case; mixed case must be a valid EIP-55 or Rootstock EIP-1191 checksum
/// ([`shiftpay_bindings::chains::parse_address`]).
pub(crate) fn parse_address_arg(s: &str) -> Result<Address, String> {
    shiftpay_bindings::chains::parse_address(s).map_err(|error| error.to_string())
}

/// `65000000`, `65000000wei`, `0.065gwei` → wei.
fn parse_gas_price(s: &str) -> Result<u128, String> {
    let s = s.trim().to_ascii_lowercase();
    let (number, decimals) = if let Some(gwei) = s.strip_suffix("gwei") {
        (gwei.trim(), 9)
    } else {
        (s.strip_suffix("wei").unwrap_or(&s).trim(), 0)
    };
    if decimals == 0 && number.contains('.') {
        return Err(format!("{s:?} is not a whole number of wei (write 0.065gwei for fractions)"));
    }
    let wei = parse_units(number, decimals)
        .map_err(|_| format!("{s:?} is not a gas price (wei, or with a unit: 0.065gwei)"))?
        .get_absolute();
    u128::try_from(wei).map_err(|_| format!("gas price {s} is too large"))
}

/// `300` (seconds), or a duration such as `90s`, `10m`, `1h`, `1h30m`.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let trimmed = s.trim();
    let seconds = match trimmed.parse::<u64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            shiftpay_bindings::units::parse_duration(trimmed).map_err(|error| error.to_string())?
        }
    };
    if seconds == 0 {
        return Err("the timeout must be positive".to_owned());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gas_prices_in_wei_or_gwei() {
        assert_eq!(parse_gas_price("65000000"), Ok(65_000_000));
        assert_eq!(parse_gas_price("65000000wei"), Ok(65_000_000));
        assert_eq!(parse_gas_price("0.065gwei"), Ok(65_000_000));
        assert_eq!(parse_gas_price("2 GWEI"), Ok(2_000_000_000));
        assert!(parse_gas_price("0.5wei").is_err());
        assert!(parse_gas_price("cheap").is_err());
    }

    #[test]
    fn via_routes() {
        let address = "0x00000000000000000000000000000000000000aa";
        let parsed = parse_address_arg(address).unwrap();
        assert_eq!(parse_via(&format!("safe:{address}")), Ok(Via::Safe(parsed)));
        assert_eq!(parse_via(&format!("timelock:{address}")), Ok(Via::Timelock(parsed)));
        assert_eq!(parse_via("key"), Ok(Via::Key));
        assert!(parse_via(address).unwrap_err().contains("safe:ADDRESS"));
        assert!(parse_via("safe:0x12").unwrap_err().contains("invalid address"));
        assert!(parse_via(&format!("eoa:{address}")).unwrap_err().contains("unknown route"));
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_timeout("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_timeout("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_timeout("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn addresses_in_any_case() {
        let lower = parse_address_arg("0x2acc95758f8b5f583470ba265eb685a8f45fc9d5").unwrap();
        assert_eq!(parse_address_arg("0x2ACC95758F8B5F583470BA265EB685A8F45FC9D5"), Ok(lower));
        // EIP-1191 (chain 30) checksum, which fails EIP-55.
        assert_eq!(parse_address_arg("0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5"), Ok(lower));
        assert!(parse_address_arg("0x2acc").unwrap_err().contains("invalid address"));
    }

    #[test]
    fn one_wallet_at_most_and_the_config_account_as_fallback() {
        let config = Config { account: Some("ops".into()), ..Config::default() };
        let none = WalletOpts::default();
        assert!(matches!(
            none.source(&config).unwrap(),
            Some(SignerSource::Account { name, .. }) if name == "ops"
        ));
        assert!(none.source(&Config::default()).unwrap().is_none());
        let both = WalletOpts {
            private_key: Some("0x01".into()),
            account: Some("x".into()),
            ..WalletOpts::default()
        };
        let error = both.source(&config).unwrap_err().to_string();
        assert!(error.contains("--private-key") && error.contains("--account"), "{error}");
        let key = WalletOpts { private_key: Some("0x01".into()), ..WalletOpts::default() };
        assert!(matches!(key.source(&config).unwrap(), Some(SignerSource::PrivateKey(_))));
    }
}
