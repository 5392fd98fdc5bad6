//! `shiftpay.toml`: defaults for the options a user would otherwise repeat on every command.
//!
//! Two files are read, both optional:
//!
//! 1. `./shiftpay.toml` in the working directory (a project's settings), then
//! 2. `$XDG_CONFIG_HOME/shiftpay/shiftpay.toml`, or `~/.config/shiftpay/shiftpay.toml` when
//!    `XDG_CONFIG_HOME` is unset (the user's defaults).
//!
//! A key set in the working directory's file wins over the same key in the user's file. Command
//! line flags win over environment variables (`SHIFTPAY_CHAIN`, `SHIFTPAY_RPC_URL`, ...), which
//! win over both files: clap resolves flags and environment variables, [`Config`] only fills what
//! neither set.
//!
//! ```toml
//! chain = "rootstock-testnet"          # preset name or chain id
//! rpc_url = "https://public-node.testnet.rsk.co"
//! account = "deployer"                 # keystore in ~/.foundry/keystores
//! deployment = "deployments/31.json"   # relative to this file's directory
//! safe = "0x..."                       # employer/client is this Safe: like `--via safe:0x...`
//! ```
//!
//! Unknown keys are errors (a typo such as `rpc-url` must not be silently ignored), reported with
//! the file's path, line and column.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The file name looked up in the working directory and in the user's config directory.
pub(crate) const FILE_NAME: &str = "shiftpay.toml";

/// Defaults read from `shiftpay.toml` files; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Config {
    /// Chain preset name or chain id (`--chain`).
    pub(crate) chain: Option<String>,
    /// JSON-RPC endpoint (`--rpc-url`).
    pub(crate) rpc_url: Option<String>,
    /// Foundry keystore account name (`--account`).
    pub(crate) account: Option<String>,
    /// Deployment file (`--deployment`), already resolved against its config file's directory.
    pub(crate) deployment: Option<PathBuf>,
    /// A Safe multisig that sends in place of the local key (`--via safe:ADDRESS`).
    pub(crate) safe: Option<String>,
    /// The files that were read, most specific first (shown with `-v`-style diagnostics).
    pub(crate) sources: Vec<PathBuf>,
}

/// One file's content, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    chain: Option<ChainKey>,
    rpc_url: Option<String>,
    account: Option<String>,
    deployment: Option<PathBuf>,
    safe: Option<String>,
}

/// `chain = "rootstock"` or `chain = 31`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ChainKey {
    Name(String),
    Id(u64),
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("invalid config file {path}, line {line}, column {column}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// What is wrong, from the TOML parser (one line).
        message: String,
    },
}

impl Config {
    /// Reads `shiftpay.toml` from `workdir` and from the user's config directory (see the
    /// module docs), merging them key by key; missing files are not an error.
    pub(crate) fn discover(workdir: &Path) -> Result<Self, ConfigError> {
        let mut candidates = vec![workdir.join(FILE_NAME)];
        if let Some(dir) = user_config_dir() {
            candidates.push(dir.join("shiftpay").join(FILE_NAME));
        }
        let mut config = Self::default();
        for path in candidates {
            if config.sources.contains(&path) {
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(text) => config.merge_missing(Self::parse(&text, &path)?),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ConfigError::Read { path, source }),
            }
        }
        Ok(config)
    }

    /// Parses one file's `text`; `path` names it in errors and anchors a relative `deployment`.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|error| {
            let (line, column) = error.span().map_or((1, 1), |span| line_column(text, span.start));
            ConfigError::Parse {
                path: path.to_owned(),
                line,
                column,
                message: one_line(error.message()),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Ok(Self {
            chain: raw.chain.map(|chain| match chain {
                ChainKey::Name(name) => name,
                ChainKey::Id(id) => id.to_string(),
            }),
            rpc_url: raw.rpc_url,
            account: raw.account,
            deployment: raw.deployment.map(|file| base.join(file)),
            safe: raw.safe,
            sources: vec![path.to_owned()],
        })
    }

    /// Fills every key still unset from `other` (a less specific file).
    fn merge_missing(&mut self, other: Self) {
        self.chain = self.chain.take().or(other.chain);
        self.rpc_url = self.rpc_url.take().or(other.rpc_url);
        self.account = self.account.take().or(other.account);
        self.deployment = self.deployment.take().or(other.deployment);
        self.safe = self.safe.take().or(other.safe);
        self.sources.extend(other.sources);
    }
}

/// `$XDG_CONFIG_HOME`, else `~/.config` (also on macOS, like foundry and most CLI tools).
fn user_config_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::home_dir().map(|home| home.join(".config")))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

/// The parser's message on one line (it may span several).
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/project/shiftpay.toml"))
    }

    #[test]
    fn reads_every_key_and_anchors_the_deployment_to_the_file() {
        let config = parse(
            "chain = \"rootstock-testnet\"\nrpc_url = \"http://node:4444\"\naccount = \"ops\"\n\
             deployment = \"deployments/31.json\"\nsafe = \"0x00000000000000000000000000000000000000aa\"\n",
        )
        .unwrap();
        assert_eq!(config.safe.as_deref(), Some("0x00000000000000000000000000000000000000aa"));
        assert_eq!(config.chain.as_deref(), Some("rootstock-testnet"));
        assert_eq!(config.rpc_url.as_deref(), Some("http://node:4444"));
        assert_eq!(config.account.as_deref(), Some("ops"));
        assert_eq!(config.deployment, Some(PathBuf::from("/project/deployments/31.json")));
    }

    #[test]
    fn accepts_a_numeric_chain_id_and_an_empty_file() {
        assert_eq!(parse("chain = 31").unwrap().chain.as_deref(), Some("31"));
        let empty = parse("").unwrap();
        assert_eq!(
            (empty.chain, empty.rpc_url, empty.account, empty.deployment),
            (None, None, None, None)
        );
    }

    #[test]
    fn a_malformed_file_names_the_path_line_and_column() {
        let error = parse("chain = \"devnet\"\nrpc_url = http://x\n").unwrap_err().to_string();
        assert!(
            error.starts_with("invalid config file /project/shiftpay.toml, line 2, column 11: "),
            "{error}"
        );
        assert!(!error.contains('\n'), "one line: {error}");
    }

    #[test]
    fn an_unknown_key_is_an_error_not_ignored() {
        let error =
            parse("chain = \"devnet\"\n\nrpc-url = \"http://x\"\n").unwrap_err().to_string();
        assert!(error.contains("line 3, column 1"), "{error}");
        assert!(error.contains("unknown field `rpc-url`"), "{error}");
    }

    #[test]
    fn the_working_directory_file_wins_key_by_key() {
        let mut project = parse("chain = \"devnet\"").unwrap();
        let user = Config::parse(
            "chain = 30\naccount = \"me\"",
            Path::new("/home/u/.config/shiftpay/shiftpay.toml"),
        )
        .unwrap();
        project.merge_missing(user);
        assert_eq!(project.chain.as_deref(), Some("devnet"));
        assert_eq!(project.account.as_deref(), Some("me"));
        assert_eq!(project.sources.len(), 2);
    }

    #[test]
    fn discovers_the_file_in_the_working_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            !Config::discover(dir.path()).unwrap().sources.contains(&dir.path().join(FILE_NAME))
        );
        std::fs::write(dir.path().join(FILE_NAME), "rpc_url = \"http://127.0.0.1:8545\"").unwrap();
        let config = Config::discover(dir.path()).unwrap();
        assert_eq!(config.rpc_url.as_deref(), Some("http://127.0.0.1:8545"));
        assert_eq!(config.sources[0], dir.path().join(FILE_NAME));
    }
}
