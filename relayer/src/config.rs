//! The relayer's configuration: `relayer.toml` (annotated example: `relayer/relayer.example.toml`)
//! with environment overrides, checked completely before anything starts.
//!
//! # Sources, strongest first
//! 1. `SHIFTPAY_RELAYER_<SETTING>`: the setting's dotted name in capitals with `_` for `.`
//!    (`api.listen` -> `SHIFTPAY_RELAYER_API_LISTEN`, `payout_threshold.USDRIF` ->
//!    `SHIFTPAY_RELAYER_PAYOUT_THRESHOLD_USDRIF`); lists are comma-separated. An unknown
//!    `SHIFTPAY_RELAYER_*` variable is an error (a typo must not be ignored silently).
//!    `SHIFTPAY_DATABASE_URL` sets `storage` too (below `SHIFTPAY_RELAYER_STORAGE`).
//! 2. The file.
//! 3. Defaults, some from the chain preset (`confirmations`, `log_range`, gas bump and cap).
//!
//! The signing key never sits in the file: `SHIFTPAY_PRIVATE_KEY` or `SHIFTPAY_MNEMONIC` (as the
//! CLI reads them), or a keystore (`signer.keystore` / `signer.account` or `SHIFTPAY_ACCOUNT`)
//! with its password from `signer.password_file` or `SHIFTPAY_KEYSTORE_PASSWORD` (a service
//! cannot prompt).
//!
//! Relative paths in the file are relative to the file's directory; relative paths from the
//! environment, to the working directory.
//!
//! # Errors
//! [`Config::from_toml_str`] reports every problem at once ([`ConfigErrors`], one line each,
//! naming the setting and where its value came from); `shiftpay-relayer check-config` prints
//! them all. [`Config::check_environment`] then checks what needs the file system (the
//! deployment file, the keystore) and resolves token thresholds.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use alloy::primitives::U256;
use jiff::{
    civil::{Date, Weekday},
    tz::TimeZone,
};
use serde::Serialize;
use shiftpay_bindings::{
    chains::{ChainInfo, ChainPreset, GasPolicy, find_preset},
    deployment::Deployment,
    rpc::redact_url,
    tokens::{Token, TokenRef, resolve_known},
    tx::TxPolicy,
    units::{parse_amount, parse_duration},
    wallet::{PASSWORD_ENV, PasswordSource, Secret, SignerSource},
};

use crate::store::StorageUrl;

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "SHIFTPAY_RELAYER_";
/// Hex private key of the signer (as the CLI's `--private-key`).
pub const PRIVATE_KEY_ENV: &str = "SHIFTPAY_PRIVATE_KEY";
/// BIP-39 mnemonic of the signer, or a file holding it (as the CLI's `--mnemonic`).
pub const MNEMONIC_ENV: &str = "SHIFTPAY_MNEMONIC";
/// Keystore account name in `~/.foundry/keystores` (as the CLI's `--account`).
pub const ACCOUNT_ENV: &str = "SHIFTPAY_ACCOUNT";
/// Storage URL, read when `SHIFTPAY_RELAYER_STORAGE` is not set (issue 14's name).
pub const DATABASE_URL_ENV: &str = "SHIFTPAY_DATABASE_URL";
/// The config file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "relayer.toml";
/// The default database file.
pub const DEFAULT_SQLITE_FILE: &str = "shiftpay-relayer.db";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file.
    File,
    /// An environment variable.
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File => f.write_str("config file"),
            Self::Env(name) => f.write_str(name),
        }
    }
}

/// One problem with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting (dotted name), or `file` for the file as a whole.
    pub setting: String,
    /// Where the bad value came from (`None`: a missing value or a combination of settings).
    pub origin: Option<Origin>,
    /// What is wrong, and what to do.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Some(Origin::Env(name)) => {
                write!(f, "{} (from {name}): {}", self.setting, self.message)
            }
            _ => write!(f, "{}: {}", self.setting, self.message),
        }
    }
}

/// Every problem found, one per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.0.len();
        write!(f, "{count} configuration problem{}:", if count == 1 { "" } else { "s" })?;
        for error in &self.0 {
            write!(f, "\n  - {error}")?;
        }
        Ok(())
    }
}

/// The chain the relayer serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainSetting {
    /// A preset of `shiftpay_bindings::chains`.
    Preset(&'static ChainPreset),
    /// Any other EVM chain by id (its facts are detected from the node at start).
    Id(u64),
}

impl ChainSetting {
    /// The chain id.
    pub fn chain_id(self) -> u64 {
        match self {
            Self::Preset(preset) => preset.chain_id,
            Self::Id(id) => id,
        }
    }

    /// The preset, if it is one.
    pub fn preset(self) -> Option<&'static ChainPreset> {
        match self {
            Self::Preset(preset) => Some(preset),
            Self::Id(_) => None,
        }
    }

    /// The chain facts known without a node (preset, or conservative defaults with legacy gas).
    pub fn info(self) -> ChainInfo {
        match self {
            Self::Preset(preset) => ChainInfo::from_preset(preset),
            Self::Id(id) => ChainInfo::for_chain_id(id, GasPolicy::Legacy),
        }
    }
}

impl fmt::Display for ChainSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Preset(preset) => f.write_str(preset.name),
            Self::Id(id) => write!(f, "{id}"),
        }
    }
}

/// The log format of the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// What a payday rule repeats on (see [`Payday`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaydayRule {
    /// Every day.
    Daily,
    /// Every week on that day.
    Weekly(Weekday),
    /// Every month on that day (1 to 31; a shorter month pays on its last day).
    Monthly(u8),
}

/// A payday: when streams are paid out, in UTC. Written `FRI 17:00` (a weekday: `MON`..`SUN`
/// or the full name), `daily 09:00` or `monthly 1 09:00`; a trailing `UTC` is accepted, other
/// time zones are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payday {
    /// The day rule.
    pub rule: PaydayRule,
    /// Hour (0 to 23, UTC).
    pub hour: u8,
    /// Minute (0 to 59).
    pub minute: u8,
}

/// How far [`Payday`] searches for a matching day (a monthly rule always matches within 62).
const PAYDAY_SEARCH_DAYS: usize = 62;

impl Payday {
    /// The first payday strictly after `t` (unix seconds).
    pub fn next_after(&self, t: u64) -> u64 {
        let mut date = utc_date(t);
        for _ in 0..PAYDAY_SEARCH_DAYS {
            if let Some(at) = self.on(date)
                && at > t
            {
                return at;
            }
            date = date.tomorrow().expect("paydays stay far from year 9999");
        }
        unreachable!("every payday rule matches within {PAYDAY_SEARCH_DAYS} days")
    }

    /// The last payday at or before `t` (unix seconds), if any since 1970.
    pub fn last_at_or_before(&self, t: u64) -> Option<u64> {
        let mut date = utc_date(t);
        for _ in 0..PAYDAY_SEARCH_DAYS {
            if let Some(at) = self.on(date)
                && at <= t
            {
                return Some(at);
            }
            date = date.yesterday().ok()?;
        }
        None
    }

    /// The payday on `date`, if the rule matches it (unix seconds; `None` before 1970).
    fn on(&self, date: Date) -> Option<u64> {
        let matches = match self.rule {
            PaydayRule::Daily => true,
            PaydayRule::Weekly(day) => date.weekday() == day,
            PaydayRule::Monthly(day) => {
                i16::from(date.day()) == i16::from(day).min(i16::from(date.days_in_month()))
            }
        };
        if !matches {
            return None;
        }
        let at = date.at(self.hour as i8, self.minute as i8, 0, 0);
        let ts = TimeZone::UTC.to_timestamp(at).ok()?;
        u64::try_from(ts.as_second()).ok()
    }
}

fn utc_date(t: u64) -> Date {
    let ts = jiff::Timestamp::from_second(i64::try_from(t).unwrap_or(i64::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    TimeZone::UTC.to_datetime(ts).date()
}

const WEEKDAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "MON", "MONDAY"),
    (Weekday::Tuesday, "TUE", "TUESDAY"),
    (Weekday::Wednesday, "WED", "WEDNESDAY"),
    (Weekday::Thursday, "THU", "THURSDAY"),
    (Weekday::Friday, "FRI", "FRIDAY"),
    (Weekday::Saturday, "SAT", "SATURDAY"),
    (Weekday::Sunday, "SUN", "SUNDAY"),
];

impl FromStr for Payday {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "write a weekday and a UTC time (\"FRI 17:00\"), \"daily HH:MM\" or \
                     \"monthly DAY HH:MM\"";
        let mut words: Vec<&str> = s.split_whitespace().collect();
        if words.last().is_some_and(|w| w.eq_ignore_ascii_case("UTC")) {
            words.pop();
        }
        let (rule, time) = match words.as_slice() {
            [day, time] if day.eq_ignore_ascii_case("daily") => (PaydayRule::Daily, *time),
            [month, day, time] if month.eq_ignore_ascii_case("monthly") => {
                let day: u8 = day
                    .parse()
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| format!("{s:?}: the day of the month must be 1 to 31"))?;
                (PaydayRule::Monthly(day), *time)
            }
            [day, time] => {
                let upper = day.to_ascii_uppercase();
                let weekday = WEEKDAYS
                    .iter()
                    .find(|(_, short, long)| upper == *short || upper == *long)
                    .map(|(weekday, _, _)| *weekday)
                    .ok_or_else(|| format!("{s:?}: {day:?} is not a weekday; {usage}"))?;
                (PaydayRule::Weekly(weekday), *time)
            }
            [.., zone] if zone.chars().all(|c| c.is_ascii_alphabetic()) && zone.len() >= 3 => {
                return Err(format!(
                    "{s:?}: paydays are in UTC; other time zones are not supported"
                ));
            }
            _ => return Err(format!("{s:?}: {usage}")),
        };
        let (hour, minute) = time
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u8>().ok()?, m.parse::<u8>().ok()?)))
            .filter(|&(h, m)| h < 24 && m < 60 && time.len() <= 5)
            .ok_or_else(|| {
                format!("{s:?}: {time:?} is not a time of day (HH:MM, 00:00 to 23:59)")
            })?;
        Ok(Self { rule, hour, minute })
    }
}

impl fmt::Display for Payday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            PaydayRule::Daily => f.write_str("daily ")?,
            PaydayRule::Weekly(day) => {
                let short = WEEKDAYS.iter().find(|(w, _, _)| *w == day).map_or("?", |(_, s, _)| s);
                write!(f, "{short} ")?;
            }
            PaydayRule::Monthly(day) => write!(f, "monthly {day} ")?,
        }
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

/// Where the signing key comes from; [`SignerConfig::load`] decrypts it.
#[derive(Clone, PartialEq, Eq)]
pub struct SignerConfig {
    /// The source (secrets inside are redacted from `Debug`).
    pub source: SignerSource,
    /// A description without secrets, e.g. `keystore /etc/relayer/key (password from file)`.
    pub description: String,
}

impl fmt::Debug for SignerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerConfig").field("source", &self.description).finish()
    }
}

impl SignerConfig {
    /// Loads the key (decrypting a keystore takes about a second: call from a blocking context
    /// or `spawn_blocking`).
    pub fn load(
        &self,
    ) -> Result<alloy::signers::local::PrivateKeySigner, shiftpay_bindings::wallet::WalletError>
    {
        shiftpay_bindings::wallet::load_signer_with(&self.source, &mut |_| {
            Err(std::io::Error::other("the relayer cannot prompt for a password"))
        })
    }
}

/// The HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiConfig {
    /// Serve it at all.
    pub enabled: bool,
    /// Listen address (default `127.0.0.1:8546`).
    pub listen: SocketAddr,
    /// Largest request body in bytes (default 64 KiB).
    pub body_limit: usize,
    /// Requests accepted per signer address per minute (default 30).
    pub rate_limit_per_minute: u32,
    /// Origins allowed by CORS (`*` for any); empty: no CORS headers.
    pub cors_origins: Vec<String>,
    /// `/ready` answers 503 when the watcher is more than this many blocks behind the confirmed
    /// head (default [`crate::api::DEFAULT_READY_MAX_LAG`], 50: 25 minutes of Rootstock blocks).
    pub ready_max_lag: u64,
    /// A directory of static files (the wallet page's build, `web/dist`) served at `/` beside
    /// the API routes, which keep priority; `None`: no page. [`Config::check_environment`]
    /// checks that it exists and holds an `index.html`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_dir: Option<PathBuf>,
}

/// Transaction pricing of the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GasConfig {
    /// Percent added to `eth_estimateGas` (default 20).
    pub margin_pct: u64,
    /// Replace a transaction still unmined after this long (default 3 minutes live, 30 s devnet).
    #[serde(serialize_with = "ser_duration")]
    pub replace_after: Duration,
    /// Percent a replacement raises the price by (default: the chain's; 40 on Rootstock, whose
    /// nodes reject smaller bumps; at least 10).
    pub bump_pct: u64,
    /// Never price above this multiple of the block's minimum gas price (default and maximum on
    /// Rootstock: 80, the relay limit). `None`: no cap on chains without the rule.
    pub max_multiple: Option<u64>,
}

/// Releasing milestones whose review window ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReleaseConfig {
    /// Do it (default true).
    pub enabled: bool,
}

/// Finishing cancelled jobs: `finalizeCancel(job)` once the worker's cancellation notice is
/// over (anyone may call it; it refunds the client's unsubmitted funded milestones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FinalizeCancelConfig {
    /// Do it (default true). Off: the relayer pays no gas for clients' refunds, and a client
    /// calls `finalizeCancel` itself (`shiftpay job cancel ID` again once the notice is over).
    pub enabled: bool,
}

/// The resolved configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from, if any.
    pub file: Option<PathBuf>,
    /// The chain.
    pub chain: ChainSetting,
    /// JSON-RPC endpoint over HTTP(S) (default: the preset's public node).
    pub rpc_url: String,
    /// The deployment file (default `deployments/<chain-id>.json` beside the config file).
    pub deployment: PathBuf,
    /// Where the state is kept (default `sqlite://shiftpay-relayer.db`).
    pub storage: StorageUrl,
    /// The signing key's source.
    pub signer: SignerConfig,
    /// Blocks behind the head the watcher stays (default: the preset's, 12 on Rootstock).
    pub confirmations: u64,
    /// `eth_getLogs` page in blocks (default: the preset's, 2,000 on Rootstock).
    pub log_range: u64,
    /// How often the node is polled (default 5 s; 1 s on a devnet).
    pub poll_interval: Duration,
    /// Recent block hashes kept to detect reorgs (default 64).
    pub reorg_window: u64,
    /// Timeout of one JSON-RPC call (default 10 s).
    pub rpc_timeout: Duration,
    /// How long a graceful shutdown may take before tasks are aborted (default 30 s).
    pub shutdown_timeout: Duration,
    /// How long the cursor lease lasts without renewal (several instances on one PostgreSQL
    /// database: a follower takes over within this after the leader dies). Longer than
    /// `poll_interval`; default 15 s, at least three poll intervals.
    pub leader_lease: Duration,
    /// Milestone releases.
    pub release: ReleaseConfig,
    /// `finalizeCancel` of jobs whose cancellation notice is over.
    pub finalize_cancel: FinalizeCancelConfig,
    /// Paydays (UTC), none by default.
    pub paydays: Vec<Payday>,
    /// Pay a stream when its withdrawable passes this amount: token (symbol or address) ->
    /// human amount, resolved by [`Config::check_environment`].
    pub payout_threshold: BTreeMap<String, String>,
    /// The HTTP API.
    pub api: ApiConfig,
    /// Transaction pricing.
    pub gas: GasConfig,
    /// Warn when the signer's balance falls below this many wei (default 0.001 of the native
    /// coin).
    pub low_balance_warning: U256,
    /// Log format (default text).
    pub log_format: LogFormat,
    /// Environment variables that overrode or supplied settings (names only).
    pub env_overrides: Vec<String>,
}

/// What [`Config::check_environment`] found: things that need files or the chain facts.
#[derive(Debug, Clone)]
pub struct Environment {
    /// The deployment, for the configured chain.
    pub deployment: Deployment,
    /// Thresholds per token, in token units.
    pub thresholds: Vec<(Token, U256)>,
}

/// An environment snapshot (variable -> value), so that tests need not touch the process's.
pub type Env = BTreeMap<String, String>;

/// The process environment, as an [`Env`] (variables that are not UTF-8 are skipped).
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Settings that take a list (comma-separated in the environment).
const LIST_SETTINGS: &[&str] = &["paydays", "api.cors_origins"];

/// Every setting, as dotted names (tables: `payout_threshold.*` is open-ended).
const SETTINGS: &[&str] = &[
    "chain",
    "rpc_url",
    "deployment",
    "storage",
    "confirmations",
    "log_range",
    "poll_interval",
    "reorg_window",
    "rpc_timeout",
    "shutdown_timeout",
    "leader_lease",
    "paydays",
    "low_balance_warning",
    "log_format",
    "release.enabled",
    "finalize_cancel.enabled",
    "api.enabled",
    "api.listen",
    "api.body_limit",
    "api.rate_limit_per_minute",
    "api.cors_origins",
    "api.ready_max_lag",
    "api.web_dir",
    "gas.margin_pct",
    "gas.replace_after",
    "gas.bump_pct",
    "gas.max_multiple",
    "signer.account",
    "signer.keystore",
    "signer.password_file",
    "signer.mnemonic_index",
];

/// The environment variable of a setting.
pub fn env_name(setting: &str) -> String {
    format!("{ENV_PREFIX}{}", setting.replace('.', "_").to_ascii_uppercase())
}

/// A value with where it came from.
#[derive(Debug, Clone)]
struct Entry {
    value: toml::Value,
    origin: Origin,
}

/// The flattened settings being read; what is left at the end is unknown.
struct Reader {
    entries: BTreeMap<String, Entry>,
    errors: Vec<ConfigError>,
    base_dir: PathBuf,
}

impl Reader {
    fn error(&mut self, setting: &str, origin: Option<Origin>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            setting: setting.to_owned(),
            origin,
            message: message.into(),
        });
    }

    /// Takes a setting and converts it; a conversion error is recorded and gives `None`.
    fn take<T>(
        &mut self,
        setting: &str,
        convert: impl FnOnce(&toml::Value) -> Result<T, String>,
    ) -> Option<(T, Origin)> {
        let entry = self.entries.remove(setting)?;
        match convert(&entry.value) {
            Ok(value) => Some((value, entry.origin)),
            Err(message) => {
                self.error(setting, Some(entry.origin), message);
                None
            }
        }
    }

    fn string(&mut self, setting: &str) -> Option<(String, Origin)> {
        self.take(setting, |v| match v {
            toml::Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
            toml::Value::String(_) => Err("must not be empty".to_owned()),
            other => Err(format!("expected a string, found {}", other.type_str())),
        })
    }

    fn parsed<T>(
        &mut self,
        setting: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (text, origin) = self.string(setting)?;
        match parse(&text) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(setting, Some(origin), message);
                None
            }
        }
    }

    fn u64(&mut self, setting: &str, range: std::ops::RangeInclusive<u64>) -> Option<u64> {
        let (value, origin) = self.take(setting, |v| match v {
            toml::Value::Integer(i) => {
                u64::try_from(*i).map_err(|_| format!("must not be negative, found {i}"))
            }
            toml::Value::String(s) => s
                .trim()
                .replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("expected a whole number, found {s:?}")),
            other => Err(format!("expected a whole number, found {}", other.type_str())),
        })?;
        if range.contains(&value) {
            Some(value)
        } else {
            self.error(
                setting,
                Some(origin),
                format!("must be from {} to {}, found {value}", range.start(), range.end()),
            );
            None
        }
    }

    fn bool(&mut self, setting: &str) -> Option<bool> {
        self.take(setting, |v| match v {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(format!("expected true or false, found {s:?}")),
            },
            other => Err(format!("expected true or false, found {}", other.type_str())),
        })
        .map(|(b, _)| b)
    }

    fn duration(&mut self, setting: &str, min: Duration, max: Duration) -> Option<Duration> {
        let (value, origin) = self.take(setting, |v| match v {
            toml::Value::Integer(i) => u64::try_from(*i)
                .map(Duration::from_secs)
                .map_err(|_| format!("must not be negative, found {i}")),
            toml::Value::String(s) => parse_duration_ms(s),
            other => Err(format!("expected a duration like \"5s\", found {}", other.type_str())),
        })?;
        if value < min || value > max {
            self.error(
                setting,
                Some(origin),
                format!(
                    "must be from {} to {}, found {}",
                    fmt_duration(min),
                    fmt_duration(max),
                    fmt_duration(value)
                ),
            );
            return None;
        }
        Some(value)
    }

    fn list(&mut self, setting: &str) -> Option<(Vec<String>, Origin)> {
        self.take(setting, |v| match v {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(format!("expected a list of strings, found {}", other.type_str())),
                })
                .collect(),
            toml::Value::String(s) => Ok(s
                .split(',')
                .map(|part| part.trim().to_owned())
                .filter(|part| !part.is_empty())
                .collect()),
            other => Err(format!("expected a list of strings, found {}", other.type_str())),
        })
    }

    /// A path: relative to the config file's directory when it came from the file.
    fn path(&mut self, setting: &str) -> Option<PathBuf> {
        let (text, origin) = self.string(setting)?;
        Some(self.resolve_path(Path::new(&text), &origin))
    }

    fn resolve_path(&self, path: &Path, origin: &Origin) -> PathBuf {
        if path.is_absolute() || *origin != Origin::File {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }
}

/// A duration: whole seconds, or `500ms`, `5s`, `10m`, `2h`, `1d12h` (bindings' units).
fn parse_duration_ms(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Some(ms) = s.strip_suffix("ms") {
        return ms
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| format!("{s:?} is not a duration (e.g. 500ms, 5s, 10m)"));
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    parse_duration(s).map(Duration::from_secs).map_err(|err| err.to_string())
}

/// A duration as `check-config` prints it: `500ms`, `5s`, `3m`, `1h30m`.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        return format!("{}ms", d.as_millis());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_duration(*d))
}

/// A size in bytes: `65536`, `64KiB`, `1MiB`, `64kb`.
fn parse_size(s: &str) -> Result<usize, String> {
    let lower = s.trim().to_ascii_lowercase();
    let (digits, unit) = lower
        .find(|c: char| !c.is_ascii_digit())
        .map_or((lower.as_str(), ""), |i| (&lower[..i], lower[i..].trim()));
    let factor = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(format!("{s:?} is not a size (bytes, or e.g. 64KiB, 1MiB)")),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or e.g. 64KiB, 1MiB)"))
}

/// The wallet page's directory: a directory holding `index.html` (what `npm run web:build`
/// writes to `web/dist`).
fn check_web_dir(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    if !dir.exists() {
        return Err(format!(
            "{shown} does not exist: build the wallet page first (`make web` or `npm run web:build`, which write web/dist)"
        ));
    }
    if !dir.is_dir() {
        return Err(format!("{shown} is not a directory (name the directory holding index.html)"));
    }
    if !dir.join("index.html").is_file() {
        return Err(format!(
            "{shown} has no index.html: build the wallet page first (`make web` or `npm run web:build`)"
        ));
    }
    Ok(())
}

/// A CORS origin: `*`, or `scheme://host[:port]` without a path.
fn check_origin(origin: &str) -> Result<(), String> {
    if origin == "*" {
        return Ok(());
    }
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| format!("{origin:?} is not an origin: write http(s)://host[:port] or *"))?;
    if rest.is_empty() || rest.contains('/') || rest.contains('?') {
        return Err(format!("{origin:?} is not an origin: no path, e.g. https://pay.example.org"));
    }
    Ok(())
}

/// Parses the `storage` setting.
pub fn parse_storage(s: &str, base_dir: &Path) -> Result<StorageUrl, String> {
    let s = s.trim();
    if let Some(path) = s.strip_prefix("sqlite://").or_else(|| s.strip_prefix("sqlite:")) {
        if path.is_empty() || path.contains('?') {
            return Err(format!("{s:?}: write sqlite://PATH (a file path, no query parameters)"));
        }
        let path = Path::new(path);
        return Ok(StorageUrl::Sqlite(if path.is_absolute() {
            path.to_owned()
        } else {
            base_dir.join(path)
        }));
    }
    if s == "memory://" || s == "memory:" || s == "memory" {
        return Ok(StorageUrl::Memory);
    }
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        // Checked here (host, port, parameters) so that a typo fails `check-config`, not the
        // first connection; the message never shows the credentials.
        return match s.parse::<sqlx::postgres::PgConnectOptions>() {
            Ok(_) => Ok(StorageUrl::Postgres(s.to_owned())),
            Err(err) => {
                let detail = err.to_string().replace(s, &redact_url(s));
                Err(format!(
                    "{}: not a PostgreSQL URL ({detail}): write \
                     postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                    redact_url(s)
                ))
            }
        };
    }
    // A value without a scheme is a path the operator typed, not a URL that may hold a secret.
    let shown = if s.contains(':') { redact_url(s) } else { s.to_owned() };
    Err(format!("{shown:?}: expected sqlite://PATH or postgres://... (or memory:// for tests)"))
}

/// Default gas replacement delay: 3 minutes on live chains (6 Rootstock blocks), 30 s on a devnet.
fn default_replace_after(live: bool) -> Duration {
    if live { Duration::from_secs(180) } else { Duration::from_secs(30) }
}

impl Config {
    /// Reads `path` and the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        Self::load_with_env(path, &process_env())
    }

    /// Reads `path` with the environment `env`.
    pub fn load_with_env(path: &Path, env: &Env) -> Result<Self, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            ConfigErrors(vec![ConfigError {
                setting: "file".to_owned(),
                origin: None,
                message: format!("cannot read {}: {err}", path.display()),
            }])
        })?;
        let base_dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        let mut config = Self::from_toml_str(&text, &base_dir, env)?;
        config.file = Some(path.to_owned());
        Ok(config)
    }

    /// Parses and checks a configuration (no file system access): `base_dir` anchors relative
    /// paths from the file, `env` supplies the overrides. Returns every problem found.
    pub fn from_toml_str(text: &str, base_dir: &Path, env: &Env) -> Result<Self, ConfigErrors> {
        let table: toml::Table = text.parse().map_err(|err: toml::de::Error| {
            ConfigErrors(vec![ConfigError {
                setting: "file".to_owned(),
                origin: Some(Origin::File),
                message: format!("not valid TOML: {}", err.to_string().trim()),
            }])
        })?;
        let mut reader =
            Reader { entries: BTreeMap::new(), errors: Vec::new(), base_dir: base_dir.to_owned() };
        flatten(&table, "", &mut reader.entries);
        let env_overrides = apply_env(&mut reader, env);
        let config = Self::read(&mut reader, env, env_overrides);
        for (setting, entry) in std::mem::take(&mut reader.entries) {
            let message = if setting == "signer.private_key" || setting == "signer.mnemonic" {
                format!(
                    "never put a key in the config file: set {} in the environment, or use \
                     signer.keystore / signer.account",
                    if setting.ends_with("mnemonic") { MNEMONIC_ENV } else { PRIVATE_KEY_ENV }
                )
            } else {
                format!("unknown setting (known: {})", SETTINGS.join(", "))
            };
            reader.error(&setting, Some(entry.origin), message);
        }
        match config {
            Some(config) if reader.errors.is_empty() => Ok(config),
            _ => Err(ConfigErrors(reader.errors)),
        }
    }

    fn read(reader: &mut Reader, env: &Env, env_overrides: Vec<String>) -> Option<Self> {
        let chain = match reader.parsed("chain", |s| {
            find_preset(s)
                .map(ChainSetting::Preset)
                .or_else(|err| s.parse::<u64>().map(ChainSetting::Id).map_err(|_| err.to_string()))
        }) {
            Some(chain) => Some(chain),
            None if !reader.errors.iter().any(|e| e.setting == "chain") => {
                reader.error(
                    "chain",
                    None,
                    "required: a preset (rootstock, rootstock-testnet, devnet, ...) or a chain id",
                );
                None
            }
            None => None,
        };
        let info = chain.map(ChainSetting::info);
        let live = chain.is_none_or(|c| c.preset().is_none_or(|p| p.live));

        let rpc_url = reader.parsed("rpc_url", |s| {
            if s.starts_with("http://") || s.starts_with("https://") {
                Ok(s.to_owned())
            } else {
                Err(format!(
                    "{:?}: the relayer polls over HTTP(S): write http(s)://HOST[:PORT][/PATH]",
                    redact_url(s)
                ))
            }
        });
        let rpc_url = match (rpc_url, chain) {
            (Some(url), _) => Some(url),
            (None, Some(ChainSetting::Preset(preset)))
                if !reader.errors.iter().any(|e| e.setting == "rpc_url") =>
            {
                Some(preset.rpc_url.to_owned())
            }
            (None, Some(ChainSetting::Id(id)))
                if !reader.errors.iter().any(|e| e.setting == "rpc_url") =>
            {
                reader.error(
                    "rpc_url",
                    None,
                    format!("required for chain {id}, which has no preset"),
                );
                None
            }
            _ => None,
        };

        let deployment = reader
            .path("deployment")
            .or_else(|| chain.map(|c| Deployment::default_path(&reader.base_dir, c.chain_id())));

        let storage = match reader.string("storage") {
            Some((text, origin)) => {
                let base =
                    if origin == Origin::File { reader.base_dir.clone() } else { PathBuf::new() };
                match parse_storage(&text, &base) {
                    Ok(storage) => Some(storage),
                    Err(message) => {
                        reader.error("storage", Some(origin), message);
                        None
                    }
                }
            }
            None => Some(StorageUrl::Sqlite(reader.base_dir.join(DEFAULT_SQLITE_FILE))),
        };

        let confirmations = reader.u64("confirmations", 0..=10_000);
        let log_range = reader.u64("log_range", 1..=100_000);
        let poll_interval =
            reader.duration("poll_interval", Duration::from_millis(100), Duration::from_secs(3600));
        let reorg_window = reader.u64("reorg_window", 2..=100_000);
        let rpc_timeout =
            reader.duration("rpc_timeout", Duration::from_secs(1), Duration::from_secs(600));
        let shutdown_timeout =
            reader.duration("shutdown_timeout", Duration::from_secs(1), Duration::from_secs(3600));
        let leader_lease =
            reader.duration("leader_lease", Duration::from_secs(2), Duration::from_secs(3600));
        if let (Some(lease), Some(poll)) = (leader_lease, poll_interval)
            && lease <= poll
        {
            reader.error(
                "leader_lease",
                None,
                format!(
                    "must be longer than poll_interval ({}): the leader renews it once per poll, found {}",
                    fmt_duration(poll),
                    fmt_duration(lease)
                ),
            );
        }

        let release_enabled = reader.bool("release.enabled");
        let finalize_cancel_enabled = reader.bool("finalize_cancel.enabled");

        let mut paydays = Vec::new();
        if let Some((specs, origin)) = reader.list("paydays") {
            let mut seen = BTreeSet::new();
            for spec in specs {
                match spec.parse::<Payday>() {
                    Ok(payday) if !seen.insert(payday.to_string()) => reader.error(
                        "paydays",
                        Some(origin.clone()),
                        format!("{spec:?} is listed twice"),
                    ),
                    Ok(payday) => paydays.push(payday),
                    Err(message) => reader.error("paydays", Some(origin.clone()), message),
                }
            }
        }

        let threshold_keys: Vec<String> =
            reader.entries.keys().filter(|k| k.starts_with("payout_threshold.")).cloned().collect();
        let mut payout_threshold = BTreeMap::new();
        for setting in threshold_keys {
            let token = setting["payout_threshold.".len()..].to_owned();
            if let Some(amount) = reader.parsed(&setting, |s| {
                parse_amount(s, 18).map(|_| s.to_owned()).map_err(|err| err.to_string())
            }) {
                payout_threshold.insert(token, amount);
            }
        }

        let api_enabled = reader.bool("api.enabled");
        let listen = reader.parsed("api.listen", |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("{s:?} is not an IP:PORT address (e.g. 127.0.0.1:8546)"))
        });
        let body_limit = match reader.take("api.body_limit", |v| match v {
            toml::Value::Integer(i) => {
                usize::try_from(*i).map_err(|_| format!("must not be negative, found {i}"))
            }
            toml::Value::String(s) => parse_size(s),
            other => Err(format!("expected a size like \"64KiB\", found {}", other.type_str())),
        }) {
            Some((n, origin)) if !(1024..=16 * 1024 * 1024).contains(&n) => {
                reader.error(
                    "api.body_limit",
                    Some(origin),
                    format!("must be from 1KiB to 16MiB, found {n} bytes"),
                );
                None
            }
            other => other.map(|(n, _)| n),
        };
        let rate_limit = reader.u64("api.rate_limit_per_minute", 1..=100_000);
        let mut cors_origins = Vec::new();
        if let Some((origins, origin)) = reader.list("api.cors_origins") {
            for item in origins {
                match check_origin(&item) {
                    Ok(()) => cors_origins.push(item),
                    Err(message) => reader.error("api.cors_origins", Some(origin.clone()), message),
                }
            }
        }

        // 0 would flap: a new block arrives between two watcher polls.
        let ready_max_lag = reader.u64("api.ready_max_lag", 1..=1_000_000);
        // Checked on the file system by `check_environment` (exists, holds index.html).
        let web_dir = reader.path("api.web_dir");

        let policy = info.as_ref().map(TxPolicy::for_chain);
        let margin_pct = reader.u64("gas.margin_pct", 0..=300);
        let replace_after = reader.duration(
            "gas.replace_after",
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        );
        let min_bump = policy.as_ref().map_or(10, |p| p.gas_price_bump_pct.max(10));
        let bump_pct = match reader.take("gas.bump_pct", |v| match v {
            toml::Value::Integer(i) => {
                u64::try_from(*i).map_err(|_| format!("must not be negative, found {i}"))
            }
            toml::Value::String(s) => {
                s.trim().parse::<u64>().map_err(|_| format!("expected a whole number, found {s:?}"))
            }
            other => Err(format!("expected a whole number, found {}", other.type_str())),
        }) {
            Some((pct, origin)) if pct < min_bump || pct > 1_000 => {
                reader.error(
                    "gas.bump_pct",
                    Some(origin),
                    format!(
                        "must be from {min_bump} to 1000, found {pct}{}",
                        if min_bump > 10 {
                            " (this chain's nodes reject smaller replacement bumps)"
                        } else {
                            ""
                        }
                    ),
                );
                None
            }
            Some((pct, _)) => Some(pct),
            None => None,
        };
        let chain_cap = policy.as_ref().and_then(|p| p.max_gas_price_multiple);
        let max_multiple = reader.u64("gas.max_multiple", 2..=chain_cap.unwrap_or(10_000));

        let low_balance = reader.parsed("low_balance_warning", |s| {
            parse_amount(s, 18)
                .map_err(|err| format!("{err} (an amount of the native coin, e.g. \"0.001\")"))
        });
        let log_format = reader.parsed("log_format", |s| match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{s:?}: expected text or json")),
        });

        let signer = read_signer(reader, env);

        // Everything that failed was recorded; build the config only when all parts exist.
        let chain = chain?;
        let info = info?;
        let policy = policy?;
        Some(Self {
            file: None,
            chain,
            rpc_url: rpc_url?,
            deployment: deployment?,
            storage: storage?,
            signer: signer?,
            confirmations: confirmations.unwrap_or(info.confirmations),
            log_range: log_range.unwrap_or(info.log_range),
            poll_interval: poll_interval.unwrap_or(if live {
                Duration::from_secs(5)
            } else {
                Duration::from_secs(1)
            }),
            reorg_window: reorg_window.unwrap_or(64),
            rpc_timeout: rpc_timeout.unwrap_or(Duration::from_secs(10)),
            shutdown_timeout: shutdown_timeout.unwrap_or(Duration::from_secs(30)),
            leader_lease: leader_lease.unwrap_or_else(|| {
                let poll = poll_interval.unwrap_or(Duration::from_secs(5));
                (poll * 3).max(Duration::from_secs(15))
            }),
            release: ReleaseConfig { enabled: release_enabled.unwrap_or(true) },
            finalize_cancel: FinalizeCancelConfig {
                enabled: finalize_cancel_enabled.unwrap_or(true),
            },
            paydays,
            payout_threshold,
            api: ApiConfig {
                enabled: api_enabled.unwrap_or(true),
                listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8546))),
                body_limit: body_limit.unwrap_or(64 * 1024),
                rate_limit_per_minute: rate_limit.map_or(30, |n| n as u32),
                cors_origins,
                ready_max_lag: ready_max_lag.unwrap_or(crate::api::DEFAULT_READY_MAX_LAG),
                web_dir,
            },
            gas: GasConfig {
                margin_pct: margin_pct.unwrap_or(policy.gas_margin_pct),
                replace_after: replace_after.unwrap_or_else(|| default_replace_after(live)),
                bump_pct: bump_pct.unwrap_or(policy.gas_price_bump_pct.max(10)),
                max_multiple: max_multiple.or(policy.max_gas_price_multiple),
            },
            low_balance_warning: low_balance
                .unwrap_or_else(|| U256::from(10u64).pow(U256::from(15u64))),
            log_format: log_format.unwrap_or_default(),
            env_overrides,
        })
    }

    /// The chain facts this config implies before talking to the node, with `confirmations`
    /// and `log_range` from the config.
    pub fn chain_info(&self) -> ChainInfo {
        let mut info = self.chain.info();
        info.confirmations = self.confirmations;
        info.log_range = self.log_range;
        info
    }

    /// The transaction policy: the chain's, with the config's gas settings and confirmations.
    pub fn tx_policy(&self, chain: &ChainInfo) -> TxPolicy {
        let mut policy = TxPolicy::for_chain(chain);
        policy.gas_margin_pct = self.gas.margin_pct;
        policy.gas_price_bump_pct = self.gas.bump_pct;
        policy.max_gas_price_multiple = self.gas.max_multiple;
        policy.confirmations = self.confirmations.max(1);
        policy.poll_interval = policy.poll_interval.min(self.poll_interval);
        policy
    }

    /// Checks what needs the file system: the deployment file loads and is for the configured
    /// chain, and every `payout_threshold` token is known (chain preset or deployment file) with
    /// an amount that fits its decimals. Every problem is reported. (The keystore is only
    /// opened by [`SignerConfig::load`].)
    pub fn check_environment(&self) -> Result<Environment, ConfigErrors> {
        let mut errors = Vec::new();
        let deployment = match Deployment::load_for_chain(&self.deployment, self.chain.chain_id()) {
            Ok(deployment) => Some(deployment),
            Err(err) => {
                errors.push(ConfigError {
                    setting: "deployment".to_owned(),
                    origin: None,
                    message: err.to_string(),
                });
                None
            }
        };
        let chain = self.chain_info();
        let extra = deployment.as_ref().map_or(&[][..], |d| d.tokens.as_slice());
        let mut thresholds = Vec::new();
        for (token, amount) in &self.payout_threshold {
            let setting = format!("payout_threshold.{token}");
            let reference = match token.parse::<alloy::primitives::Address>() {
                Ok(address) => TokenRef::Address(address),
                Err(_) => TokenRef::Symbol(token.clone()),
            };
            match resolve_known(&chain, &reference, extra) {
                Ok(resolved) => match resolved.parse_amount(amount) {
                    Ok(units) => thresholds.push((resolved, units)),
                    Err(err) => {
                        errors.push(ConfigError { setting, origin: None, message: err.to_string() })
                    }
                },
                Err(err) => {
                    errors.push(ConfigError { setting, origin: None, message: err.to_string() })
                }
            }
        }
        if let Some(dir) = &self.api.web_dir
            && let Err(message) = check_web_dir(dir)
        {
            errors.push(ConfigError { setting: "api.web_dir".to_owned(), origin: None, message });
        }
        match deployment {
            Some(deployment) if errors.is_empty() => Ok(Environment { deployment, thresholds }),
            _ => Err(ConfigErrors(errors)),
        }
    }

    /// The resolved configuration as TOML, secrets redacted (what `check-config` prints).
    pub fn to_redacted_toml(&self) -> String {
        #[derive(Serialize)]
        struct View<'a> {
            chain: String,
            chain_id: u64,
            rpc_url: String,
            deployment: String,
            storage: String,
            signer: &'a str,
            confirmations: u64,
            log_range: u64,
            poll_interval: String,
            reorg_window: u64,
            rpc_timeout: String,
            shutdown_timeout: String,
            leader_lease: String,
            paydays: Vec<String>,
            low_balance_warning: String,
            log_format: LogFormat,
            release: &'a ReleaseConfig,
            finalize_cancel: &'a FinalizeCancelConfig,
            payout_threshold: &'a BTreeMap<String, String>,
            api: &'a ApiConfig,
            gas: &'a GasConfig,
        }
        let view = View {
            chain: self.chain.to_string(),
            chain_id: self.chain.chain_id(),
            rpc_url: redact_url(&self.rpc_url),
            deployment: self.deployment.display().to_string(),
            storage: self.storage.redacted(),
            signer: &self.signer.description,
            confirmations: self.confirmations,
            log_range: self.log_range,
            poll_interval: fmt_duration(self.poll_interval),
            reorg_window: self.reorg_window,
            rpc_timeout: fmt_duration(self.rpc_timeout),
            shutdown_timeout: fmt_duration(self.shutdown_timeout),
            leader_lease: fmt_duration(self.leader_lease),
            paydays: self.paydays.iter().map(ToString::to_string).collect(),
            low_balance_warning: shiftpay_bindings::units::format_amount(
                self.low_balance_warning,
                18,
            ),
            log_format: self.log_format,
            release: &self.release,
            finalize_cancel: &self.finalize_cancel,
            payout_threshold: &self.payout_threshold,
            api: &self.api,
            gas: &self.gas,
        };
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("# resolved from {}\n", file.display()));
        }
        if !self.env_overrides.is_empty() {
            out.push_str(&format!("# environment: {}\n", self.env_overrides.join(", ")));
        }
        out.push_str(&toml::to_string(&view).expect("the view always serializes"));
        out
    }
}

/// Flattens nested tables into dotted names.
fn flatten(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, Entry>) {
    for (key, value) in table {
        let name = format!("{prefix}{key}");
        match value {
            toml::Value::Table(inner) => flatten(inner, &format!("{name}."), out),
            other => {
                out.insert(name, Entry { value: other.clone(), origin: Origin::File });
            }
        }
    }
}

/// Applies `SHIFTPAY_RELAYER_*` (and `SHIFTPAY_DATABASE_URL`); returns the variables used.
fn apply_env(reader: &mut Reader, env: &Env) -> Vec<String> {
    let mut used = Vec::new();
    if let Some(url) = env.get(DATABASE_URL_ENV)
        && !env.contains_key(&env_name("storage"))
    {
        reader.entries.insert(
            "storage".to_owned(),
            Entry {
                value: toml::Value::String(url.clone()),
                origin: Origin::Env(DATABASE_URL_ENV.to_owned()),
            },
        );
        used.push(DATABASE_URL_ENV.to_owned());
    }
    for (name, value) in env.range(ENV_PREFIX.to_owned()..) {
        let Some(suffix) = name.strip_prefix(ENV_PREFIX) else { break };
        let setting =
            SETTINGS.iter().find(|s| env_name(s) == *name).map(|s| (*s).to_owned()).or_else(|| {
                suffix
                    .strip_prefix("PAYOUT_THRESHOLD_")
                    .filter(|token| !token.is_empty())
                    .map(|token| format!("payout_threshold.{token}"))
            });
        let Some(setting) = setting else {
            reader.error(
                name,
                None,
                format!(
                    "unknown setting; the variables are {ENV_PREFIX} + a setting in capitals, e.g. {}",
                    env_name("api.listen")
                ),
            );
            continue;
        };
        let value = if LIST_SETTINGS.contains(&setting.as_str()) {
            toml::Value::Array(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_owned()))
                    .collect(),
            )
        } else {
            toml::Value::String(value.clone())
        };
        // A threshold from the environment replaces the file's for the same token, whatever
        // the case of the symbol.
        if let Some(token) = setting.strip_prefix("payout_threshold.") {
            reader.entries.retain(|k, _| {
                k.strip_prefix("payout_threshold.").is_none_or(|t| !t.eq_ignore_ascii_case(token))
            });
        }
        reader.entries.insert(setting, Entry { value, origin: Origin::Env(name.clone()) });
        used.push(name.clone());
    }
    used
}

/// Works out the signer from the environment and the `signer.*` settings.
fn read_signer(reader: &mut Reader, env: &Env) -> Option<SignerConfig> {
    let keystore = reader.path("signer.keystore");
    let account = reader
        .string("signer.account")
        .map(|(name, _)| name)
        .or_else(|| env.get(ACCOUNT_ENV).filter(|s| !s.trim().is_empty()).cloned());
    let password_file = reader.path("signer.password_file");
    let mnemonic_index = reader.u64("signer.mnemonic_index", 0..=u64::from(u32::MAX));
    let private_key = env.get(PRIVATE_KEY_ENV).filter(|s| !s.trim().is_empty());
    let mnemonic = env.get(MNEMONIC_ENV).filter(|s| !s.trim().is_empty());

    let given: Vec<&str> = [
        (private_key.is_some(), PRIVATE_KEY_ENV),
        (mnemonic.is_some(), MNEMONIC_ENV),
        (keystore.is_some(), "signer.keystore"),
        (account.is_some(), "signer.account (or SHIFTPAY_ACCOUNT)"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
    .collect();
    if given.len() > 1 {
        reader.error(
            "signer",
            None,
            format!("choose one signing key: {} are all set", given.join(", ")),
        );
        return None;
    }
    let password = || -> Option<(PasswordSource, String)> {
        if let Some(file) = &password_file {
            return Some((
                PasswordSource::File(file.clone()),
                format!("password from {}", file.display()),
            ));
        }
        env.get(PASSWORD_ENV).map(|pw| {
            (
                PasswordSource::Literal(Secret::new(pw.as_str())),
                format!("password from {PASSWORD_ENV}"),
            )
        })
    };
    let no_password = |reader: &mut Reader| {
        reader.error(
            "signer.password_file",
            None,
            format!("a keystore needs its password: set signer.password_file or {PASSWORD_ENV} (the relayer cannot prompt)"),
        );
    };
    if let Some(key) = private_key {
        return Some(SignerConfig {
            source: SignerSource::PrivateKey(Secret::new(key.as_str())),
            description: format!("private key from {PRIVATE_KEY_ENV}"),
        });
    }
    if let Some(phrase) = mnemonic {
        let index = u32::try_from(mnemonic_index.unwrap_or(0)).unwrap_or_default();
        return Some(SignerConfig {
            source: SignerSource::Mnemonic { phrase: Secret::new(phrase.as_str()), index },
            description: format!("mnemonic from {MNEMONIC_ENV}, index {index}"),
        });
    }
    if let Some(path) = keystore {
        let Some((password, how)) = password() else {
            no_password(reader);
            return None;
        };
        return Some(SignerConfig {
            description: format!("keystore {} ({how})", path.display()),
            source: SignerSource::Keystore { path, password },
        });
    }
    if let Some(name) = account {
        let Some((password, how)) = password() else {
            no_password(reader);
            return None;
        };
        return Some(SignerConfig {
            description: format!("keystore account {name} in ~/.foundry/keystores ({how})"),
            source: SignerSource::Account { name, password },
        });
    }
    reader.error(
        "signer",
        None,
        format!(
            "no signing key: set {PRIVATE_KEY_ENV}, or signer.keystore / signer.account with \
             signer.password_file or {PASSWORD_ENV}"
        ),
    );
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn minimal_config_gets_preset_defaults() {
        let config = Config::from_toml_str(
            "chain = \"rootstock-testnet\"",
            Path::new("/etc/relayer"),
            &env(&[(PRIVATE_KEY_ENV, KEY)]),
        )
        .unwrap();
        assert_eq!(config.chain.chain_id(), 31);
        assert_eq!(config.rpc_url, "https://public-node.testnet.rsk.co");
        assert_eq!(config.confirmations, 12);
        assert_eq!(config.log_range, 2_000);
        assert_eq!(config.poll_interval, Duration::from_secs(5));
        assert_eq!(config.reorg_window, 64);
        assert_eq!(config.deployment, PathBuf::from("/etc/relayer/deployments/31.json"));
        assert_eq!(config.storage, StorageUrl::Sqlite("/etc/relayer/shiftpay-relayer.db".into()));
        assert_eq!(config.gas.bump_pct, 40);
        assert_eq!(config.gas.max_multiple, Some(80));
        assert_eq!(config.api.listen.to_string(), "127.0.0.1:8546");
        assert!(config.release.enabled);
        assert!(config.finalize_cancel.enabled);
        assert_eq!(config.api.ready_max_lag, 50);
        assert!(
            format!("{config:?}").contains("[redacted]")
                || !format!("{config:?}").contains(&KEY[2..])
        );
        assert!(!config.to_redacted_toml().contains(&KEY[2..]));
    }

    #[test]
    fn web_dir_must_hold_an_index_html() {
        let dir = tempfile::tempdir().unwrap();
        let keys = env(&[(PRIVATE_KEY_ENV, KEY)]);
        let unset = Config::from_toml_str("chain = \"devnet\"", dir.path(), &keys).unwrap();
        assert_eq!(unset.api.web_dir, None, "no page unless configured");
        assert!(!unset.to_redacted_toml().contains("web_dir"));
        let config = Config::from_toml_str(
            "chain = \"devnet\"\n[api]\nweb_dir = \"site\"",
            dir.path(),
            &keys,
        )
        .unwrap();
        let site = dir.path().join("site");
        assert_eq!(config.api.web_dir.as_deref(), Some(site.as_path()), "relative to the file");
        assert!(config.to_redacted_toml().contains("web_dir"));
        // The deployment file is missing too: pick the web_dir error out of the list.
        let web_error = |config: &Config| {
            config
                .check_environment()
                .err()
                .and_then(|errors| errors.0.into_iter().find(|e| e.setting == "api.web_dir"))
                .map(|e| e.message)
        };
        let missing = web_error(&config).unwrap();
        assert!(missing.contains("does not exist") && missing.contains("make web"), "{missing}");
        std::fs::create_dir(&site).unwrap();
        let empty = web_error(&config).unwrap();
        assert!(empty.contains("has no index.html"), "{empty}");
        std::fs::write(site.join("index.html"), "<!doctype html>").unwrap();
        assert_eq!(web_error(&config), None);
    }

    #[test]
    fn devnet_polls_every_second() {
        let config = Config::from_toml_str(
            "chain = \"devnet\"",
            Path::new("."),
            &env(&[(PRIVATE_KEY_ENV, KEY)]),
        )
        .unwrap();
        assert_eq!(config.poll_interval, Duration::from_secs(1));
        assert_eq!(config.confirmations, 1);
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
            chain = "rootstock"
            confirmations = -1
            poll_interval = "soon"
            paydays = ["FRI 17:00", "FUNDAY 09:00", "daily 25:00"]
            storage = "mysql://relayer:hunter2@db/shiftpay"
            colour = "blue"
            [api]
            listen = "localhost"
            cors_origins = ["https://pay.example.org/app"]
            [gas]
            bump_pct = 12
            max_multiple = 100
            [signer]
            private_key = "0x01"
        "#;
        let errors = Config::from_toml_str(
            text,
            Path::new("."),
            &env(&[("SHIFTPAY_RELAYER_LOG_RANGE", "lots"), ("SHIFTPAY_RELAYER_NOPE", "1")]),
        )
        .unwrap_err();
        let settings: Vec<&str> = errors.0.iter().map(|e| e.setting.as_str()).collect();
        for expected in [
            "confirmations",
            "poll_interval",
            "paydays",
            "storage",
            "colour",
            "api.listen",
            "api.cors_origins",
            "gas.bump_pct",
            "gas.max_multiple",
            "signer.private_key",
            "log_range",
            "SHIFTPAY_RELAYER_NOPE",
            "signer",
        ] {
            assert!(settings.contains(&expected), "{expected} missing from {errors}");
        }
        let text = errors.to_string();
        assert!(text.contains("expected sqlite://PATH or postgres://"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("log_range (from SHIFTPAY_RELAYER_LOG_RANGE)"), "{text}");
        assert_eq!(errors.0.iter().filter(|e| e.setting == "paydays").count(), 2, "{text}");
    }

    #[test]
    fn env_overrides_the_file() {
        let config = Config::from_toml_str(
            "chain = \"devnet\"\nconfirmations = 3\n[api]\nlisten = \"127.0.0.1:9000\"\n",
            Path::new("/srv"),
            &env(&[
                (PRIVATE_KEY_ENV, KEY),
                ("SHIFTPAY_RELAYER_CONFIRMATIONS", "5"),
                ("SHIFTPAY_RELAYER_API_CORS_ORIGINS", "https://a.example, http://localhost:5173"),
                ("SHIFTPAY_RELAYER_PAYDAYS", "FRI 17:00,monthly 31 09:30"),
                ("SHIFTPAY_RELAYER_STORAGE", "sqlite://relayer.db"),
                ("SHIFTPAY_RELAYER_PAYOUT_THRESHOLD_RBTC", "0.01"),
            ]),
        )
        .unwrap();
        assert_eq!(config.confirmations, 5);
        assert_eq!(config.api.listen.port(), 9000);
        assert_eq!(config.api.cors_origins, ["https://a.example", "http://localhost:5173"]);
        assert_eq!(config.paydays.len(), 2);
        // From the environment: relative to the working directory, not the file.
        assert_eq!(config.storage, StorageUrl::Sqlite("relayer.db".into()));
        assert_eq!(config.payout_threshold.get("RBTC").map(String::as_str), Some("0.01"));
        assert_eq!(config.env_overrides.len(), 5);
    }

    #[test]
    fn keystore_needs_a_password_source() {
        let errors = Config::from_toml_str(
            "chain = \"devnet\"\n[signer]\nkeystore = \"keys/relayer.json\"\n",
            Path::new("/srv"),
            &Env::new(),
        )
        .unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(errors.0[0].setting, "signer.password_file");
        let config = Config::from_toml_str(
            "chain = \"devnet\"\n[signer]\nkeystore = \"keys/relayer.json\"\n",
            Path::new("/srv"),
            &env(&[(PASSWORD_ENV, "pw")]),
        )
        .unwrap();
        assert!(matches!(
            &config.signer.source,
            SignerSource::Keystore { path, password: PasswordSource::Literal(_) }
                if path == Path::new("/srv/keys/relayer.json")
        ));
        let errors = Config::from_toml_str(
            "chain = \"devnet\"\n[signer]\naccount = \"relayer\"\n",
            Path::new("/srv"),
            &env(&[(PRIVATE_KEY_ENV, KEY), (PASSWORD_ENV, "pw")]),
        )
        .unwrap_err();
        assert!(errors.to_string().contains("choose one signing key"), "{errors}");
    }

    #[test]
    fn unknown_chain_needs_an_rpc_url() {
        let errors = Config::from_toml_str(
            "chain = \"4114\"",
            Path::new("."),
            &env(&[(PRIVATE_KEY_ENV, KEY)]),
        )
        .unwrap_err();
        assert_eq!(errors.0[0].setting, "rpc_url");
        let errors = Config::from_toml_str(
            "chain = \"narnia\"",
            Path::new("."),
            &env(&[(PRIVATE_KEY_ENV, KEY)]),
        )
        .unwrap_err();
        assert!(errors.to_string().contains("unknown chain"), "{errors}");
        let errors = Config::from_toml_str("", Path::new("."), &Env::new()).unwrap_err();
        assert_eq!(errors.0.len(), 2, "{errors}"); // chain and signer
    }

    #[test]
    fn paydays_parse_and_compute() {
        let friday: Payday = "fri 17:00 UTC".parse().unwrap();
        assert_eq!(friday.to_string(), "FRI 17:00");
        // 2026-11-27 is a Friday; 17:00 UTC = 1_795_798_800.
        let friday_5pm = 1_795_798_800;
        let thursday_noon = 1_795_694_400; // 2026-11-26 12:00 UTC
        assert_eq!(friday.next_after(thursday_noon), friday_5pm);
        assert_eq!(friday.next_after(friday_5pm), friday_5pm + 7 * 86_400);
        assert_eq!(friday.last_at_or_before(friday_5pm), Some(friday_5pm));
        assert_eq!(friday.last_at_or_before(friday_5pm - 1), Some(friday_5pm - 7 * 86_400));

        let daily: Payday = "daily 09:30".parse().unwrap();
        assert_eq!(daily.next_after(thursday_noon), 1_795_771_800); // 2026-11-27 09:30

        // Monthly on the 31st pays on the last day of shorter months: 2027-02-28 00:00 UTC.
        let monthly: Payday = "monthly 31 00:00".parse().unwrap();
        let feb_1_2027 = 1_801_440_000;
        assert_eq!(monthly.next_after(feb_1_2027), 1_803_772_800);

        for bad in [
            "FRI",
            "FRI 24:00",
            "FRI 17:60",
            "monthly 0 10:00",
            "FRI 17:00 CET",
            "weekly 10:00",
            "FRI 7:5:0",
        ] {
            assert!(bad.parse::<Payday>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn urls_are_redacted_by_the_bindings() {
        // One definition (`shiftpay_bindings::rpc::redact_url`): check-config and the errors
        // show a hosted RPC URL's host only, never its key or a database password.
        let config = Config::from_toml_str(
            "chain = \"rootstock\"\nrpc_url = \"https://rpc.example.org/v2/0123456789abcdef\"",
            Path::new("."),
            &env(&[(PRIVATE_KEY_ENV, KEY)]),
        )
        .unwrap();
        let shown = config.to_redacted_toml();
        assert!(shown.contains("rpc_url = \"https://rpc.example.org/…\""), "{shown}");
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        let err = parse_storage("mysql://relayer:hunter2@db/shiftpay", Path::new(".")).unwrap_err();
        assert!(!err.contains("hunter2") && err.contains("mysql://db/…"), "{err}");
    }

    #[test]
    fn postgres_storage_urls_are_accepted_and_redacted() {
        let url = "postgres://relayer:hunter2@db:5432/shiftpay?options=-c%20search_path%3Drelayer";
        let storage = parse_storage(url, Path::new(".")).unwrap();
        assert_eq!(storage, StorageUrl::Postgres(url.to_owned()));
        assert_eq!(storage.redacted(), "postgres://db:5432/…");
        let storage = parse_storage("postgresql://db/shiftpay", Path::new(".")).unwrap();
        assert!(matches!(storage, StorageUrl::Postgres(_)));
        // A malformed URL fails check-config without showing the password.
        let err = parse_storage("postgres://relayer:hunter2@db:port/shiftpay", Path::new("."))
            .unwrap_err();
        assert!(err.contains("not a PostgreSQL URL") && !err.contains("hunter2"), "{err}");
        // SHIFTPAY_DATABASE_URL (issue 14's name) sets it too.
        let config = Config::from_toml_str(
            "chain = \"devnet\"",
            Path::new("/srv"),
            &env(&[(PRIVATE_KEY_ENV, KEY), ("SHIFTPAY_DATABASE_URL", url)]),
        )
        .unwrap();
        assert_eq!(config.storage, StorageUrl::Postgres(url.to_owned()));
        assert!(!config.to_redacted_toml().contains("hunter2"));
    }

    #[test]
    fn leader_lease_outlasts_the_poll_interval() {
        let load = |extra: &str| {
            Config::from_toml_str(
                &format!("chain = \"devnet\"\n{extra}"),
                Path::new("."),
                &env(&[(PRIVATE_KEY_ENV, KEY)]),
            )
        };
        assert_eq!(load("").unwrap().leader_lease, Duration::from_secs(15));
        assert_eq!(
            load("poll_interval = \"10s\"").unwrap().leader_lease,
            Duration::from_secs(30),
            "three polls by default"
        );
        let config = load("leader_lease = \"3s\"\npoll_interval = \"200ms\"").unwrap();
        assert_eq!(config.leader_lease, Duration::from_secs(3));
        assert!(config.to_redacted_toml().contains("leader_lease = \"3s\""));
        let errors = load("leader_lease = \"2s\"\npoll_interval = \"2s\"").unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        assert_eq!(errors.0[0].setting, "leader_lease");
        assert!(errors.0[0].message.contains("longer than poll_interval (2s)"), "{errors}");
        let errors = load("leader_lease = \"1s\"").unwrap_err();
        assert!(errors.0[0].message.contains("must be from 2s"), "{errors}");
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64KiB").unwrap(), 65_536);
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration_ms("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration_ms("3m").unwrap(), Duration::from_secs(180));
        assert_eq!(parse_duration_ms("7").unwrap(), Duration::from_secs(7));
        assert_eq!(fmt_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
    }
}
