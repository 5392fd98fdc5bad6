//! Chain presets and the facts a command needs about the chain it runs against.
//!
//! [`PRESETS`] lists the chains ShiftPay knows: Rootstock mainnet (30) and testnet (31), a local
//! `devnet` (chain id 33, Rootstock's regtest id, served by anvil or an RSKj regtest node) and
//! three other EVM chains that settle to Bitcoin (BOB, Citrea testnet, Botanix testnet). A command
//! resolves `--chain NAME|ID` with [`find_preset`], then [`ChainInfo::detect`] checks the node's
//! chain id and fills in defaults for chains without a preset (`--rpc-url` alone).
//!
//! Facts about Rootstock (legacy transactions only, 12 confirmations, 2,000-block log queries on
//! the hosted RPC, a 6.8M block gas limit, EIP-1191 checksums) come from `shared/ROOTSTOCK.md`.

use std::fmt;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, address},
    providers::Provider,
};
use serde::{Deserialize, Serialize};

/// How transactions are priced on a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GasPolicy {
    /// Type-0 transactions with an explicit `gasPrice` from `eth_gasPrice`; never
    /// `eth_feeHistory` (Rootstock and Botanix).
    Legacy,
    /// EIP-1559 transactions (`maxFeePerGas`, `maxPriorityFeePerGas`).
    Eip1559,
}

impl GasPolicy {
    /// Short lowercase name: `legacy` or `eip1559`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Legacy => "legacy",
            Self::Eip1559 => "eip1559",
        }
    }
}

impl fmt::Display for GasPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An ERC-20 token a chain preset knows by symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    /// Symbol users type (matched case-insensitively), e.g. `USDRIF`.
    pub symbol: &'static str,
    /// Other accepted spellings (case-insensitive), e.g. `USD₮0` for `USDT0`.
    pub aliases: &'static [&'static str],
    /// Human name, e.g. `Dollar on Chain`.
    pub name: &'static str,
    /// Token contract.
    pub address: Address,
    /// ERC-20 `decimals()`.
    pub decimals: u8,
}

impl TokenInfo {
    /// Whether `symbol` names this token (its symbol or an alias, ignoring ASCII case).
    pub fn matches(&self, symbol: &str) -> bool {
        self.symbol.eq_ignore_ascii_case(symbol)
            || self.aliases.iter().any(|alias| alias.eq_ignore_ascii_case(symbol))
    }
}

/// Everything ShiftPay knows about a chain before talking to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ChainPreset {
    /// Name used with `--chain`: `rootstock`, `rootstock-testnet`, `devnet`, `bob`,
    /// `citrea-testnet`, `botanix-testnet`.
    pub name: &'static str,
    /// Other names accepted by [`preset_by_name`], e.g. `rsk`.
    pub aliases: &'static [&'static str],
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Human name, e.g. `Rootstock Mainnet`.
    pub display_name: &'static str,
    /// Public JSON-RPC endpoint (HTTP).
    pub rpc_url: &'static str,
    /// Block explorer base URL; a transaction link is `{explorer}/tx/{hash}`.
    pub explorer: Option<&'static str>,
    /// Blocks to wait after inclusion before a transaction counts as final.
    pub confirmations: u64,
    /// How transactions are priced.
    pub gas_policy: GasPolicy,
    /// `eth_getLogs` page size in blocks.
    pub log_range: u64,
    /// Block gas limit to plan batches against (the node's latest block may lower it, see
    /// [`ChainInfo::detect`]).
    pub block_gas_limit: u64,
    /// Symbol of the native coin (18 decimals on every preset), e.g. `RBTC`.
    pub native_symbol: &'static str,
    /// Other accepted spellings of the native coin, e.g. `rbtc` on Rootstock testnet.
    pub native_aliases: &'static [&'static str],
    /// Whether addresses are printed with EIP-1191 (chain-id-aware) checksums.
    pub checksum_chain_id: bool,
    /// ERC-20 tokens known by symbol on this chain.
    pub tokens: &'static [TokenInfo],
    /// `false` for the local devnet: deployments there may be overwritten freely.
    pub live: bool,
}

/// Decimals of the native coin on every preset chain (rBTC, ETH, cBTC, BTC).
pub const NATIVE_DECIMALS: u8 = 18;

/// Rootstock mainnet tokens, from `shared/ROOTSTOCK.md`.
pub const ROOTSTOCK_TOKENS: &[TokenInfo] = &[
    TokenInfo {
        symbol: "RIF",
        aliases: &[],
        name: "RIF Token",
        address: address!("0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5"),
        decimals: 18,
    },
    TokenInfo {
        symbol: "USDRIF",
        aliases: &[],
        name: "RIF US Dollar",
        address: address!("0x3A15461d8aE0F0Fb5Fa2629e9DA7D66A794a6e37"),
        decimals: 18,
    },
    TokenInfo {
        symbol: "DOC",
        aliases: &[],
        name: "Dollar on Chain",
        address: address!("0xE700691Da7B9851F2F35f8b8182C69C53ccad9DB"),
        decimals: 18,
    },
    TokenInfo {
        symbol: "rUSDT",
        aliases: &[],
        name: "Bridged Tether USD",
        address: address!("0xEf213441a85DF4d7acBdAe0Cf78004E1e486BB96"),
        decimals: 18,
    },
    TokenInfo {
        symbol: "USDT0",
        aliases: &["USD₮0"],
        name: "Tether USD₮0",
        address: address!("0x779dED0C9e1022225F8e0630b35A9B54Be713736"),
        decimals: 6,
    },
    TokenInfo {
        symbol: "WRBTC",
        aliases: &[],
        name: "Wrapped RBTC",
        address: address!("0x967f8799aF07DF1534d48A95a5C9FEBE92c53ae0"),
        decimals: 18,
    },
];

/// Rootstock testnet tokens whose addresses are published by Rootstock itself.
///
/// Only tRIF (dev.rootstock.io, "RIF Token" page); it also answers to `RIF` so scripts written for
/// mainnet run unchanged. Testnet deployments of USDRIF, DOC and USD₮0 exist but their addresses
/// are not listed here because no first-party token table was found: pass them by address (with
/// `--allow-unknown-token`) or list them in the deployment file's `tokens`.
pub const ROOTSTOCK_TESTNET_TOKENS: &[TokenInfo] = &[TokenInfo {
    symbol: "tRIF",
    aliases: &["RIF"],
    name: "RIF Token (testnet)",
    address: address!("0x19f64674D8a5b4e652319F5e239EFd3bc969a1FE"),
    decimals: 18,
}];

/// Every chain ShiftPay has a preset for, mainnets first.
///
/// Non-Rootstock figures (confirmations, log range, block gas limit) are conservative planning
/// values, not protocol constants: BOB is an OP-stack rollup with 2 s blocks (10 confirmations
/// ≈ 20 s), Citrea a ZK rollup whose sequencer soft-confirms blocks (3 confirmations), Botanix a
/// proof-of-stake chain with ~6 s blocks (5 confirmations). Their block gas limits are capped by
/// the node's latest block in [`ChainInfo::detect`].
pub const PRESETS: &[ChainPreset] = &[
    ChainPreset {
        name: "rootstock",
        aliases: &["rsk", "rsk-mainnet", "rootstock-mainnet"],
        chain_id: 30,
        display_name: "Rootstock Mainnet",
        rpc_url: "https://public-node.rsk.co",
        explorer: Some("https://explorer.rootstock.io"),
        confirmations: 12,
        gas_policy: GasPolicy::Legacy,
        log_range: 2_000,
        block_gas_limit: 6_800_000,
        native_symbol: "RBTC",
        native_aliases: &[],
        checksum_chain_id: true,
        tokens: ROOTSTOCK_TOKENS,
        live: true,
    },
    ChainPreset {
        name: "rootstock-testnet",
        aliases: &["rsk-testnet"],
        chain_id: 31,
        display_name: "Rootstock Testnet",
        rpc_url: "https://public-node.testnet.rsk.co",
        explorer: Some("https://explorer.testnet.rootstock.io"),
        confirmations: 12,
        gas_policy: GasPolicy::Legacy,
        log_range: 2_000,
        block_gas_limit: 6_800_000,
        native_symbol: "tRBTC",
        native_aliases: &["RBTC"],
        checksum_chain_id: true,
        tokens: ROOTSTOCK_TESTNET_TOKENS,
        live: true,
    },
    ChainPreset {
        name: "devnet",
        aliases: &["local", "anvil", "regtest"],
        chain_id: 33,
        display_name: "Local devnet (anvil or RSKj regtest)",
        rpc_url: "http://127.0.0.1:8545",
        explorer: None,
        confirmations: 1,
        gas_policy: GasPolicy::Legacy,
        log_range: 2_000,
        block_gas_limit: 6_800_000,
        native_symbol: "RBTC",
        native_aliases: &[],
        checksum_chain_id: false,
        tokens: &[],
        live: false,
    },
    ChainPreset {
        name: "bob",
        aliases: &["bob-mainnet"],
        chain_id: 60808,
        display_name: "BOB",
        rpc_url: "https://rpc.gobob.xyz",
        explorer: Some("https://explorer.gobob.xyz"),
        confirmations: 10,
        gas_policy: GasPolicy::Eip1559,
        log_range: 2_000,
        block_gas_limit: 30_000_000,
        native_symbol: "ETH",
        native_aliases: &[],
        checksum_chain_id: false,
        tokens: &[],
        live: true,
    },
    ChainPreset {
        name: "citrea-testnet",
        aliases: &[],
        chain_id: 5115,
        display_name: "Citrea Testnet",
        rpc_url: "https://rpc.testnet.citrea.xyz",
        explorer: Some("https://explorer.testnet.citrea.xyz"),
        confirmations: 3,
        gas_policy: GasPolicy::Eip1559,
        log_range: 1_000,
        block_gas_limit: 10_000_000,
        native_symbol: "cBTC",
        native_aliases: &[],
        checksum_chain_id: false,
        tokens: &[],
        live: true,
    },
    ChainPreset {
        name: "botanix-testnet",
        aliases: &[],
        chain_id: 3636,
        display_name: "Botanix Testnet",
        rpc_url: "https://node.botanixlabs.dev",
        explorer: Some("https://testnet.botanixscan.io"),
        confirmations: 5,
        gas_policy: GasPolicy::Legacy,
        log_range: 1_000,
        block_gas_limit: 30_000_000,
        native_symbol: "BTC",
        native_aliases: &[],
        checksum_chain_id: false,
        tokens: &[],
        live: true,
    },
];

impl ChainPreset {
    /// Whether `name` is this preset's name or one of its aliases (ASCII case-insensitive).
    pub fn matches(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|alias| alias.eq_ignore_ascii_case(name))
    }

    /// The known token `symbol` names (symbol or alias, case-insensitive).
    pub fn token(&self, symbol: &str) -> Option<&'static TokenInfo> {
        self.tokens.iter().find(|token| token.matches(symbol))
    }

    /// The known token at `address`.
    pub fn token_by_address(&self, address: Address) -> Option<&'static TokenInfo> {
        self.tokens.iter().find(|token| token.address == address)
    }

    /// Whether `symbol` names the native coin: `native`, the native symbol or an alias.
    pub fn is_native_symbol(&self, symbol: &str) -> bool {
        symbol.eq_ignore_ascii_case("native")
            || self.native_symbol.eq_ignore_ascii_case(symbol)
            || self.native_aliases.iter().any(|alias| alias.eq_ignore_ascii_case(symbol))
    }

    /// `address` as this chain prints it: EIP-1191 on Rootstock 30/31, EIP-55 elsewhere.
    pub fn format_address(&self, address: Address) -> String {
        address.to_checksum(self.checksum_chain_id.then_some(self.chain_id))
    }
}

/// Finds a preset by name or alias, ignoring ASCII case (`rootstock`, `RSK`, `rsk-testnet`…).
pub fn preset_by_name(name: &str) -> Option<&'static ChainPreset> {
    PRESETS.iter().find(|preset| preset.matches(name.trim()))
}

/// Finds a preset by chain id.
pub fn preset_by_id(chain_id: u64) -> Option<&'static ChainPreset> {
    PRESETS.iter().find(|preset| preset.chain_id == chain_id)
}

/// Resolves a `--chain` value: a preset name or alias, or a decimal chain id of a preset.
///
/// ```
/// use shiftpay_bindings::chains::find_preset;
/// assert_eq!(find_preset("rsk")?.chain_id, 30);
/// assert_eq!(find_preset("31")?.name, "rootstock-testnet");
/// assert!(find_preset("ethereum").is_err());
/// # Ok::<(), shiftpay_bindings::chains::ChainError>(())
/// ```
pub fn find_preset(name_or_id: &str) -> Result<&'static ChainPreset, ChainError> {
    let trimmed = name_or_id.trim();
    let found = match trimmed.parse::<u64>() {
        Ok(id) => preset_by_id(id),
        Err(_) => preset_by_name(trimmed),
    };
    found.ok_or_else(|| ChainError::UnknownChain(name_or_id.to_owned()))
}

/// Names of every preset, comma-separated (for error messages and help).
pub fn preset_names() -> String {
    PRESETS.iter().map(|preset| preset.name).collect::<Vec<_>>().join(", ")
}

/// Why a chain could not be selected or reached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// `--chain` names no preset.
    #[error(
        "unknown chain {0:?}: use one of {names} or a chain id, or pass --rpc-url for any other EVM chain",
        names = preset_names()
    )]
    UnknownChain(String),
    /// The node answers for another chain than the one selected.
    #[error(
        "the node is on chain {found}, not {expected_name} (chain {expected}): check --rpc-url and --chain"
    )]
    WrongChain {
        /// The selected preset's chain id.
        expected: u64,
        /// The selected preset's name.
        expected_name: &'static str,
        /// The chain id the node reported.
        found: u64,
    },
    /// The node did not answer.
    #[error("the node did not answer {method}: {reason}")]
    Rpc {
        /// The JSON-RPC method that failed.
        method: &'static str,
        /// The transport or node error.
        reason: String,
    },
}

/// What a command runs against: a preset chain, or any EVM chain reached with `--rpc-url`.
///
/// For a chain without a preset, [`ChainInfo::detect`] uses conservative defaults:
/// [`GasPolicy::Legacy`] unless the node both reports a base fee in its latest block and answers
/// `eth_feeHistory`; [`UNKNOWN_CHAIN_CONFIRMATIONS`] confirmation (unknown chains are mostly local
/// test nodes that mine only on demand, where waiting for more would never end: pass
/// `--confirmations` for a public chain); [`UNKNOWN_CHAIN_LOG_RANGE`]-block log pages; the latest
/// block's gas limit; no explorer; EIP-55 checksums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainInfo {
    /// EIP-155 chain id, as reported by the node.
    pub chain_id: u64,
    /// The matching preset, if any.
    pub preset: Option<&'static ChainPreset>,
    /// Blocks to wait after inclusion.
    pub confirmations: u64,
    /// How transactions are priced.
    pub gas_policy: GasPolicy,
    /// `eth_getLogs` page size in blocks.
    pub log_range: u64,
    /// Block gas limit to plan batches against.
    pub block_gas_limit: u64,
    /// Block explorer base URL.
    pub explorer: Option<String>,
}

/// Confirmations on a chain without a preset (see [`ChainInfo`]).
pub const UNKNOWN_CHAIN_CONFIRMATIONS: u64 = 1;
/// `eth_getLogs` page size on a chain without a preset.
pub const UNKNOWN_CHAIN_LOG_RANGE: u64 = 1_000;
/// Block gas limit assumed on a chain without a preset when the node's latest block is not read.
pub const UNKNOWN_CHAIN_BLOCK_GAS_LIMIT: u64 = 6_800_000;

impl ChainInfo {
    /// The facts of a preset chain, unchanged.
    pub fn from_preset(preset: &'static ChainPreset) -> Self {
        Self {
            chain_id: preset.chain_id,
            preset: Some(preset),
            confirmations: preset.confirmations,
            gas_policy: preset.gas_policy,
            log_range: preset.log_range,
            block_gas_limit: preset.block_gas_limit,
            explorer: preset.explorer.map(str::to_owned),
        }
    }

    /// The facts of chain `chain_id`: its preset's if it has one, otherwise the conservative
    /// defaults documented on [`ChainInfo`] with the given gas policy.
    pub fn for_chain_id(chain_id: u64, unknown_gas_policy: GasPolicy) -> Self {
        match preset_by_id(chain_id) {
            Some(preset) => Self::from_preset(preset),
            None => Self {
                chain_id,
                preset: None,
                confirmations: UNKNOWN_CHAIN_CONFIRMATIONS,
                gas_policy: unknown_gas_policy,
                log_range: UNKNOWN_CHAIN_LOG_RANGE,
                block_gas_limit: UNKNOWN_CHAIN_BLOCK_GAS_LIMIT,
                explorer: None,
            },
        }
    }

    /// Asks the node for its chain id and builds the chain's facts.
    ///
    /// With `expected` (the preset picked by `--chain`), a node on another chain is a
    /// [`ChainError::WrongChain`]. Without it, the node's chain id selects a preset if one
    /// matches; otherwise the gas policy is probed (see [`ChainInfo`]). In both cases the block gas
    /// limit is lowered to the latest block's when that is smaller.
    pub async fn detect<P: Provider>(
        provider: &P,
        expected: Option<&'static ChainPreset>,
    ) -> Result<Self, ChainError> {
        let chain_id = provider
            .get_chain_id()
            .await
            .map_err(|e| ChainError::Rpc { method: "eth_chainId", reason: e.to_string() })?;
        if let Some(preset) = expected
            && preset.chain_id != chain_id
        {
            return Err(ChainError::WrongChain {
                expected: preset.chain_id,
                expected_name: preset.name,
                found: chain_id,
            });
        }
        let latest = provider.get_block_by_number(BlockNumberOrTag::Latest).await.map_err(|e| {
            ChainError::Rpc { method: "eth_getBlockByNumber", reason: e.to_string() }
        })?;
        let mut info = match preset_by_id(chain_id) {
            Some(preset) => Self::from_preset(preset),
            None => {
                let has_base_fee =
                    latest.as_ref().is_some_and(|block| block.header.base_fee_per_gas.is_some());
                let fee_history = has_base_fee
                    && provider.get_fee_history(1, BlockNumberOrTag::Latest, &[]).await.is_ok();
                let policy = if fee_history { GasPolicy::Eip1559 } else { GasPolicy::Legacy };
                let mut info = Self::for_chain_id(chain_id, policy);
                if let Some(block) = &latest {
                    info.block_gas_limit = block.header.gas_limit;
                }
                info
            }
        };
        if let Some(block) = &latest
            && block.header.gas_limit > 0
        {
            info.block_gas_limit = info.block_gas_limit.min(block.header.gas_limit);
        }
        Ok(info)
    }

    /// `address` as this chain prints it: EIP-1191 checksum on Rootstock 30/31 (what Rootstock
    /// wallets and explorers show), EIP-55 elsewhere.
    pub fn format_address(&self, address: Address) -> String {
        match self.preset {
            Some(preset) => preset.format_address(address),
            None => address.to_checksum(None),
        }
    }

    /// Explorer link of a transaction, when the chain has an explorer.
    pub fn tx_url(&self, hash: B256) -> Option<String> {
        self.explorer
            .as_ref()
            .map(|explorer| format!("{}/tx/{hash}", explorer.trim_end_matches('/')))
    }

    /// Explorer link of an address (EIP-1191 formatted on Rootstock), when the chain has one.
    pub fn address_url(&self, address: Address) -> Option<String> {
        self.explorer.as_ref().map(|explorer| {
            format!("{}/address/{}", explorer.trim_end_matches('/'), self.format_address(address))
        })
    }

    /// Symbol of the native coin (`RBTC`, `tRBTC`, `ETH`…), or `native` on a chain without a
    /// preset.
    pub fn native_symbol(&self) -> &str {
        self.preset.map_or("native", |preset| preset.native_symbol)
    }

    /// Human name: the preset's display name, or `chain <id>`.
    pub fn display_name(&self) -> String {
        self.preset.map_or_else(
            || format!("chain {}", self.chain_id),
            |preset| preset.display_name.to_owned(),
        )
    }

    /// Whether deployments on this chain hold real value (every chain but the devnet; chains
    /// without a preset count as live).
    pub fn is_live(&self) -> bool {
        self.preset.is_none_or(|preset| preset.live)
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not 20 bytes of hex.
    #[error("invalid address {input:?}: {reason}")]
    Malformed {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Mixed case that is no valid checksum: most likely a typo.
    #[error(
        "invalid address {input:?}: its mixed-case checksum matches neither EIP-55 nor Rootstock's EIP-1191 (chain 30 or 31); check it for a typo, or write it in lowercase to skip the check"
    )]
    BadChecksum {
        /// The text given.
        input: String,
    },
}

/// Parses an address written in any case, with or without `0x`.
///
/// All-lowercase and all-uppercase hex are taken as they are. Mixed case is a checksum and must
/// be valid under EIP-55 or under EIP-1191 for Rootstock mainnet (30) or testnet (31), so a
/// mistyped checksummed address is caught instead of paying a stranger.
///
/// ```
/// use shiftpay_bindings::chains::parse_address;
/// let rif = parse_address("0x2acc95758f8b5f583470ba265eb685a8f45fc9d5")?;
/// assert_eq!(parse_address("0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5")?, rif); // EIP-1191, chain 30
/// assert_eq!(parse_address("0x2AcC95758f8b5F583470ba265EB685a8F45fC9D5")?, rif); // EIP-55
/// assert!(parse_address("0x2acc95758f8b5f583470ba265eb685a8f45fc9").is_err());
/// # Ok::<(), shiftpay_bindings::chains::AddressError>(())
/// ```
pub fn parse_address(s: &str) -> Result<Address, AddressError> {
    let trimmed = s.trim();
    let malformed = |reason: String| AddressError::Malformed { input: s.to_owned(), reason };
    let hex = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")).unwrap_or(trimmed);
    if hex.is_empty() {
        return Err(malformed("it is empty".to_owned()));
    }
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(malformed(format!("{bad:?} is not a hex digit")));
    }
    if hex.len() != 40 {
        return Err(malformed(format!("it has {} hex digits instead of 40", hex.len())));
    }
    let address: Address = hex.parse().map_err(|e| malformed(format!("{e}")))?;
    let has_lower = hex.chars().any(|c| c.is_ascii_lowercase());
    let has_upper = hex.chars().any(|c| c.is_ascii_uppercase());
    if has_lower && has_upper {
        let valid = [None, Some(30), Some(31)]
            .into_iter()
            .any(|chain_id| address.to_checksum(chain_id)[2..] == *hex);
        if !valid {
            return Err(AddressError::BadChecksum { input: s.to_owned() });
        }
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_unique_names_ids_and_aliases() {
        let mut names: Vec<&str> = PRESETS
            .iter()
            .flat_map(|p| std::iter::once(p.name).chain(p.aliases.iter().copied()))
            .collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a name or alias is used twice");
        let mut ids: Vec<u64> = PRESETS.iter().map(|p| p.chain_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PRESETS.len());
        for preset in PRESETS {
            assert!(
                preset.confirmations >= 1 && preset.log_range > 0 && preset.block_gas_limit > 0
            );
            assert_eq!(
                preset.checksum_chain_id,
                matches!(preset.chain_id, 30 | 31),
                "{}",
                preset.name
            );
            assert_eq!(preset.live, preset.name != "devnet");
            if let Some(explorer) = preset.explorer {
                assert!(explorer.starts_with("https://") && !explorer.ends_with('/'));
            }
        }
    }

    #[test]
    fn rootstock_presets_follow_the_rootstock_facts() {
        for name in ["rootstock", "rootstock-testnet"] {
            let preset = preset_by_name(name).unwrap();
            assert_eq!(preset.gas_policy, GasPolicy::Legacy);
            assert_eq!(preset.confirmations, 12);
            assert_eq!(preset.log_range, 2_000);
            assert_eq!(preset.block_gas_limit, 6_800_000);
        }
        assert_eq!(preset_by_name("devnet").unwrap().rpc_url, "http://127.0.0.1:8545");
        assert_eq!(preset_by_name("devnet").unwrap().confirmations, 1);
    }

    #[test]
    fn finds_presets_by_name_alias_and_id_case_insensitively() {
        assert_eq!(preset_by_name("RSK").unwrap().chain_id, 30);
        assert_eq!(preset_by_name("rsk-testnet").unwrap().chain_id, 31);
        assert_eq!(preset_by_name(" Rootstock ").unwrap().chain_id, 30);
        assert_eq!(preset_by_id(60808).unwrap().name, "bob");
        assert_eq!(find_preset("5115").unwrap().name, "citrea-testnet");
        assert!(preset_by_id(1).is_none());
        let message = find_preset("ethereum").unwrap_err().to_string();
        assert!(
            message.starts_with("unknown chain \"ethereum\": use one of rootstock, "),
            "{message}"
        );
        assert!(find_preset("1").is_err());
    }

    #[test]
    fn token_addresses_are_valid_checksums_as_published() {
        // Catches a mistyped address literal: each is written as its source publishes it, which
        // must be a valid EIP-55 or EIP-1191 checksum.
        let published = [
            ("RIF", "0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5"),
            ("USDRIF", "0x3A15461d8aE0F0Fb5Fa2629e9DA7D66A794a6e37"),
            ("DOC", "0xE700691Da7B9851F2F35f8b8182C69C53ccad9DB"),
            ("rUSDT", "0xEf213441a85DF4d7acBdAe0Cf78004E1e486BB96"),
            ("USDT0", "0x779dED0C9e1022225F8e0630b35A9B54Be713736"),
            ("WRBTC", "0x967f8799aF07DF1534d48A95a5C9FEBE92c53ae0"),
            ("tRIF", "0x19f64674D8a5b4e652319F5e239EFd3bc969a1FE"),
        ];
        for (symbol, text) in published {
            let address = parse_address(text).unwrap_or_else(|e| panic!("{symbol}: {e}"));
            let token = ROOTSTOCK_TOKENS
                .iter()
                .chain(ROOTSTOCK_TESTNET_TOKENS)
                .find(|t| t.symbol == symbol)
                .unwrap();
            assert_eq!(token.address, address, "{symbol}");
        }
    }

    #[test]
    fn tokens_match_symbols_and_aliases_case_insensitively() {
        let mainnet = preset_by_name("rootstock").unwrap();
        assert_eq!(mainnet.token("usdrif").unwrap().symbol, "USDRIF");
        assert_eq!(mainnet.token("USD₮0").unwrap().symbol, "USDT0");
        assert_eq!(mainnet.token("usd₮0").unwrap().decimals, 6);
        assert_eq!(mainnet.token("RUSDT").unwrap().symbol, "rUSDT");
        assert!(mainnet.token("USDT").is_none(), "ambiguous between rUSDT and USDT0");
        assert!(mainnet.is_native_symbol("rbtc") && mainnet.is_native_symbol("native"));
        let testnet = preset_by_name("rootstock-testnet").unwrap();
        assert_eq!(testnet.token("rif").unwrap().symbol, "tRIF");
        assert!(testnet.is_native_symbol("trbtc") && testnet.is_native_symbol("RBTC"));
        assert!(!preset_by_name("bob").unwrap().is_native_symbol("rbtc"));
    }

    #[test]
    fn formats_addresses_with_eip1191_on_rootstock_only() {
        let rif = ROOTSTOCK_TOKENS[0].address;
        let mainnet = ChainInfo::from_preset(preset_by_id(30).unwrap());
        assert_eq!(mainnet.format_address(rif), rif.to_checksum(Some(30)));
        assert_ne!(mainnet.format_address(rif), rif.to_checksum(None));
        let testnet = ChainInfo::from_preset(preset_by_id(31).unwrap());
        assert_eq!(testnet.format_address(rif), rif.to_checksum(Some(31)));
        let devnet = ChainInfo::from_preset(preset_by_id(33).unwrap());
        assert_eq!(devnet.format_address(rif), rif.to_checksum(None));
        let unknown = ChainInfo::for_chain_id(31337, GasPolicy::Eip1559);
        assert_eq!(unknown.format_address(rif), rif.to_checksum(None));
    }

    #[test]
    fn chain_info_links_and_defaults() {
        let mainnet = ChainInfo::from_preset(preset_by_id(30).unwrap());
        let hash = B256::repeat_byte(0xab);
        assert_eq!(
            mainnet.tx_url(hash).unwrap(),
            format!("https://explorer.rootstock.io/tx/0x{}", "ab".repeat(32))
        );
        assert_eq!(mainnet.native_symbol(), "RBTC");
        assert!(mainnet.is_live());
        let devnet = ChainInfo::from_preset(preset_by_id(33).unwrap());
        assert_eq!(devnet.tx_url(hash), None);
        assert!(!devnet.is_live());
        let unknown = ChainInfo::for_chain_id(31337, GasPolicy::Legacy);
        assert_eq!(unknown.confirmations, UNKNOWN_CHAIN_CONFIRMATIONS);
        assert_eq!(unknown.native_symbol(), "native");
        assert_eq!(unknown.display_name(), "chain 31337");
        assert!(unknown.is_live());
    }

    #[test]
    fn parses_addresses_in_any_case_and_rejects_typos() {
        let lower = "0x2acc95758f8b5f583470ba265eb685a8f45fc9d5";
        let address = parse_address(lower).unwrap();
        assert_eq!(parse_address(&lower.to_uppercase().replacen("0X", "0x", 1)).unwrap(), address);
        assert_eq!(parse_address(&lower[2..]).unwrap(), address);
        for chain_id in [None, Some(30), Some(31)] {
            assert_eq!(parse_address(&address.to_checksum(chain_id)).unwrap(), address);
        }
        // One flipped letter case in a checksummed address.
        let good = address.to_checksum(None);
        let flipped: String = good
            .char_indices()
            .map(|(i, c)| {
                if i == good.find(|c: char| c.is_ascii_uppercase()).unwrap() {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect();
        if [Some(30), Some(31)].iter().all(|id| address.to_checksum(*id) != flipped) {
            assert!(matches!(parse_address(&flipped), Err(AddressError::BadChecksum { .. })));
        }
        let short = parse_address("0x1234").unwrap_err().to_string();
        assert_eq!(short, "invalid address \"0x1234\": it has 4 hex digits instead of 40");
        let bad = parse_address("0xzz").unwrap_err().to_string();
        assert_eq!(bad, "invalid address \"0xzz\": 'z' is not a hex digit");
        assert!(parse_address("").is_err());
    }
}
