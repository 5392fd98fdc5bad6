//! Tokens: how a user names one (`USDRIF`, `rbtc`, an address), how it resolves against the chain
//! preset and the deployment file, and the ERC-20 interface the CLI and relayer call.
//!
//! A symbol resolves only to a token the chain preset ([`crate::chains::ChainPreset::tokens`]) or
//! the deployment file ([`crate::deployment::DeployedToken`]) lists. An address outside both is an
//! *unknown* token: usable only when the caller allows it explicitly (`--allow-unknown-token`),
//! after showing [`TOKEN_REQUIREMENTS`]; its symbol and decimals are then read on-chain.

use std::{fmt, str::FromStr};

use alloy::{
    primitives::{Address, U256},
    providers::Provider,
};
use serde::{Serialize, Serializer};

use crate::{
    chains::{AddressError, ChainInfo, NATIVE_DECIMALS, TokenInfo, parse_address},
    deployment::DeployedToken,
    units::{self, MAX_TOKEN_DECIMALS, UnitsError},
};

#[allow(missing_docs)]
mod generated {
    alloy::sol! {
        /// The ERC-20 functions ShiftPay uses (with the optional metadata extension), parameter
        /// names as in OpenZeppelin 5 (`value`).
        #[sol(rpc, abi)]
        #[derive(Debug, PartialEq, Eq)]
        interface IERC20 {
            event Transfer(address indexed from, address indexed to, uint256 value);
            event Approval(address indexed owner, address indexed spender, uint256 value);
            function name() external view returns (string);
            function symbol() external view returns (string);
            function decimals() external view returns (uint8);
            function totalSupply() external view returns (uint256);
            function balanceOf(address account) external view returns (uint256);
            function allowance(address owner, address spender) external view returns (uint256);
            function approve(address spender, uint256 value) external returns (bool);
            function transfer(address to, uint256 value) external returns (bool);
            function transferFrom(address from, address to, uint256 value) external returns (bool);
        }
    }
}

pub use generated::IERC20;

/// What ShiftPay's contracts require of an ERC-20 token, shown before an unknown token is used.
pub const TOKEN_REQUIREMENTS: &str = "ShiftPay's contracts take the native coin and standard \
ERC-20 tokens with 0 to 18 decimals that move exactly the amount asked and keep their balances: \
no fee on transfer, no rebasing, no transfer hooks that call back or burn gas, and decimals that \
never change (they are read once, when a pool opens). Every deposit checks the contract's balance \
before and after, so a token that delivers less than asked makes the deposit revert \
(Transfers_AmountMismatch). A token whose balances shrink afterwards (negative rebasing, holding \
fees, seizure) leaves the contracts holding less than they owe, so the last withdrawals fail; a \
token that pauses or blacklists blocks every payment while it does; a hook that reverts makes \
payments to that recipient fail (payouts emit PayoutFailed and keep the amount owed).";

/// A token as the user named it, before resolving it against the chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TokenRef {
    /// The native coin (`native`, or `0x0000…0000`).
    Native,
    /// A symbol (`USDRIF`, `rbtc`), resolved against the chain preset and the deployment file;
    /// the native coin's symbol resolves to the native coin.
    Symbol(String),
    /// A token contract address.
    Address(Address),
}

impl FromStr for TokenRef {
    type Err = TokenError;

    /// `native`, an address (`0x…`, any case, see [`parse_address`]) or a symbol (letters,
    /// digits, `.`, `-`, `_`, or a non-ASCII sign like `₮`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let invalid =
            |reason: &str| TokenError::Invalid { input: s.to_owned(), reason: reason.to_owned() };
        if text.is_empty() {
            return Err(invalid("it is empty"));
        }
        if text.eq_ignore_ascii_case("native") {
            return Ok(Self::Native);
        }
        if text.starts_with("0x") || text.starts_with("0X") {
            let address = parse_address(text)?;
            return Ok(if address.is_zero() { Self::Native } else { Self::Address(address) });
        }
        if let Some(bad) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_ascii_punctuation() && !".-_".contains(*c))
        {
            return Err(invalid(&format!("{bad:?} cannot appear in a token symbol")));
        }
        Ok(Self::Symbol(text.to_owned()))
    }
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Native => f.write_str("native"),
            Self::Symbol(symbol) => f.write_str(symbol),
            Self::Address(address) => write!(f, "{address}"),
        }
    }
}

impl Serialize for TokenRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A resolved token: what amounts are parsed and formatted with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Token {
    /// Token contract; [`Address::ZERO`] for the native coin (what the contracts take).
    pub address: Address,
    /// Symbol to print (the preset's, the deployment file's, or the token's own `symbol()`).
    pub symbol: String,
    /// Decimals (18 for the native coin).
    pub decimals: u8,
    /// Whether the chain preset or the deployment file lists the token (always true for the
    /// native coin). An unknown token was explicitly allowed by the caller.
    pub known: bool,
}

impl Token {
    /// The chain's native coin.
    pub fn native(chain: &ChainInfo) -> Self {
        Self {
            address: Address::ZERO,
            symbol: chain.native_symbol().to_owned(),
            decimals: NATIVE_DECIMALS,
            known: true,
        }
    }

    /// A token from a chain preset's list.
    pub fn from_info(info: &TokenInfo) -> Self {
        Self {
            address: info.address,
            symbol: info.symbol.to_owned(),
            decimals: info.decimals,
            known: true,
        }
    }

    /// A token from the deployment file's list.
    pub fn from_deployed(token: &DeployedToken) -> Self {
        Self {
            address: token.address,
            symbol: token.symbol.clone(),
            decimals: token.decimals,
            known: true,
        }
    }

    /// Whether this is the native coin.
    pub fn is_native(&self) -> bool {
        self.address.is_zero()
    }

    /// Parses a human amount of this token (errors name the token:
    /// `"1.0000001" has more decimals than USDT0's 6`).
    pub fn parse_amount(&self, s: &str) -> Result<U256, UnitsError> {
        units::parse_amount(s, self.decimals).map_err(|e| e.for_token(&self.symbol))
    }

    /// Formats token units with the symbol: `1500.25 USDRIF`.
    pub fn format_amount(&self, value: U256) -> String {
        format!("{} {}", units::format_amount(value, self.decimals), self.symbol)
    }
}

/// Why a token could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a symbol, `native` or an address.
    #[error("invalid token {input:?}: {reason}")]
    Invalid {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A malformed address.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// No token with that symbol on this chain.
    #[error(
        "unknown token {symbol:?} on {chain}: known tokens are {known}; pass an address for any other"
    )]
    UnknownSymbol {
        /// The symbol given.
        symbol: String,
        /// The chain's name.
        chain: String,
        /// The known symbols, comma-separated.
        known: String,
    },
    /// An address outside the preset and deployment lists, not allowed by the caller.
    #[error(
        "token {address} is not a known token on {chain}: check that it meets ShiftPay's token requirements, then allow it with --allow-unknown-token"
    )]
    UnknownAddress {
        /// The address, formatted for the chain.
        address: String,
        /// The chain's name.
        chain: String,
    },
    /// Nothing is deployed at the address.
    #[error("no contract at token address {address} on {chain}")]
    NoCode {
        /// The address, formatted for the chain.
        address: String,
        /// The chain's name.
        chain: String,
    },
    /// The contract does not answer `decimals()`.
    #[error("{address} on {chain} is not an ERC-20 token: its decimals() call failed ({reason})")]
    NotAToken {
        /// The address, formatted for the chain.
        address: String,
        /// The chain's name.
        chain: String,
        /// The call's error.
        reason: String,
    },
    /// The token reports decimals the contracts reject.
    #[error(
        "token {symbol} ({address}) has {decimals} decimals: the contracts accept 0 to {MAX_TOKEN_DECIMALS}"
    )]
    UnsupportedDecimals {
        /// The token's symbol.
        symbol: String,
        /// The address, formatted for the chain.
        address: String,
        /// The decimals it reports.
        decimals: u8,
    },
    /// A listed token's on-chain decimals differ from its listing: wrong address or wrong chain.
    #[error(
        "token {symbol} ({address}) reports {found} decimals on-chain but is listed with {listed}: the token list does not match this chain"
    )]
    DecimalsMismatch {
        /// The listed symbol.
        symbol: String,
        /// The address, formatted for the chain.
        address: String,
        /// Decimals in the list.
        listed: u8,
        /// Decimals the contract reports.
        found: u8,
    },
    /// The node did not answer.
    #[error("cannot read token {address} from the node: {reason}")]
    Rpc {
        /// The address, formatted for the chain.
        address: String,
        /// The transport error.
        reason: String,
    },
}

/// Resolves a token without a node: the native coin, or a token listed by the chain preset or
/// the deployment file (`extra`). Symbols match case-insensitively (preset aliases included, e.g.
/// `USD₮0`); the preset wins over `extra` on a clash. An unlisted address is
/// [`TokenError::UnknownAddress`].
pub fn resolve_known(
    chain: &ChainInfo,
    token: &TokenRef,
    extra: &[DeployedToken],
) -> Result<Token, TokenError> {
    let preset_tokens = chain.preset.map_or(&[][..], |preset| preset.tokens);
    match token {
        TokenRef::Native => Ok(Token::native(chain)),
        TokenRef::Address(address) if address.is_zero() => Ok(Token::native(chain)),
        TokenRef::Address(address) => preset_tokens
            .iter()
            .find(|info| info.address == *address)
            .map(Token::from_info)
            .or_else(|| extra.iter().find(|t| t.address == *address).map(Token::from_deployed))
            .ok_or_else(|| TokenError::UnknownAddress {
                address: chain.format_address(*address),
                chain: chain.display_name(),
            }),
        TokenRef::Symbol(symbol) => {
            let is_native = match chain.preset {
                Some(preset) => preset.is_native_symbol(symbol),
                None => symbol.eq_ignore_ascii_case("native"),
            };
            if is_native {
                return Ok(Token::native(chain));
            }
            preset_tokens
                .iter()
                .find(|info| info.matches(symbol))
                .map(Token::from_info)
                .or_else(|| {
                    extra
                        .iter()
                        .find(|t| t.symbol.eq_ignore_ascii_case(symbol))
                        .map(Token::from_deployed)
                })
                .ok_or_else(|| TokenError::UnknownSymbol {
                    symbol: symbol.clone(),
                    chain: chain.display_name(),
                    known: known_symbols(chain, extra),
                })
        }
    }
}

/// The symbols [`resolve_known`] accepts on `chain`, comma-separated, native coin first.
pub fn known_symbols(chain: &ChainInfo, extra: &[DeployedToken]) -> String {
    let preset_tokens = chain.preset.map_or(&[][..], |preset| preset.tokens);
    std::iter::once(chain.native_symbol())
        .chain(preset_tokens.iter().map(|info| info.symbol))
        .chain(extra.iter().map(|t| t.symbol.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves a token and checks it against the chain.
///
/// Listed tokens ([`resolve_known`]) must have code and report their listed decimals (a mismatch
/// means the list is for another chain). An unlisted address is an error unless `allow_unknown`;
/// then its `decimals()` (0 to 18) and `symbol()` are read (a token without a readable symbol is
/// shown by its address) and the result has `known = false`: show [`TOKEN_REQUIREMENTS`].
pub async fn resolve_token<P: Provider>(
    provider: &P,
    chain: &ChainInfo,
    token: &TokenRef,
    extra: &[DeployedToken],
    allow_unknown: bool,
) -> Result<Token, TokenError> {
    let mut resolved = match resolve_known(chain, token, extra) {
        Ok(token) if token.is_native() => return Ok(token),
        Ok(token) => token,
        Err(TokenError::UnknownAddress { .. }) if allow_unknown => {
            let TokenRef::Address(address) = token else {
                unreachable!("only addresses are unknown")
            };
            Token { address: *address, symbol: String::new(), decimals: 0, known: false }
        }
        Err(error) => return Err(error),
    };
    let shown = chain.format_address(resolved.address);
    let rpc = |e: alloy::transports::TransportError| TokenError::Rpc {
        address: shown.clone(),
        reason: e.to_string(),
    };
    let code = provider.get_code_at(resolved.address).await.map_err(rpc)?;
    if code.is_empty() {
        return Err(TokenError::NoCode { address: shown, chain: chain.display_name() });
    }
    let erc20 = IERC20::new(resolved.address, provider);
    let decimals = erc20.decimals().call().await.map_err(|e| TokenError::NotAToken {
        address: shown.clone(),
        chain: chain.display_name(),
        reason: e.to_string(),
    })?;
    if resolved.known {
        if decimals != resolved.decimals {
            return Err(TokenError::DecimalsMismatch {
                symbol: resolved.symbol,
                address: shown,
                listed: resolved.decimals,
                found: decimals,
            });
        }
        return Ok(resolved);
    }
    resolved.symbol = match erc20.symbol().call().await {
        Ok(symbol) if !symbol.trim().is_empty() && symbol.len() <= 32 => symbol.trim().to_owned(),
        _ => shown.clone(),
    };
    if decimals > MAX_TOKEN_DECIMALS {
        return Err(TokenError::UnsupportedDecimals {
            symbol: resolved.symbol,
            address: shown,
            decimals,
        });
    }
    resolved.decimals = decimals;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    use super::*;
    use crate::chains::{GasPolicy, preset_by_name};

    fn chain(name: &str) -> ChainInfo {
        ChainInfo::from_preset(preset_by_name(name).unwrap())
    }

    fn test_usd() -> DeployedToken {
        DeployedToken {
            symbol: "tUSD".into(),
            address: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
            decimals: 6,
        }
    }

    #[test]
    fn parses_token_refs() {
        assert_eq!("native".parse::<TokenRef>().unwrap(), TokenRef::Native);
        assert_eq!(
            "0x0000000000000000000000000000000000000000".parse::<TokenRef>().unwrap(),
            TokenRef::Native
        );
        assert_eq!("rbtc".parse::<TokenRef>().unwrap(), TokenRef::Symbol("rbtc".into()));
        assert_eq!("USD₮0".parse::<TokenRef>().unwrap(), TokenRef::Symbol("USD₮0".into()));
        assert_eq!(
            "0x2acc95758f8b5f583470ba265eb685a8f45fc9d5".parse::<TokenRef>().unwrap(),
            TokenRef::Address(address!("0x2acc95758f8b5f583470ba265eb685a8f45fc9d5"))
        );
        assert_eq!(
            "US DRIF".parse::<TokenRef>().unwrap_err().to_string(),
            "invalid token \"US DRIF\": ' ' cannot appear in a token symbol"
        );
        assert!(matches!("0x12".parse::<TokenRef>(), Err(TokenError::Address(_))));
        assert!("".parse::<TokenRef>().is_err());
    }

    #[test]
    fn resolves_symbols_case_insensitively_against_the_preset() {
        let mainnet = chain("rootstock");
        let resolve = |s: &str| resolve_known(&mainnet, &s.parse().unwrap(), &[]);
        assert_eq!(resolve("usdrif").unwrap().symbol, "USDRIF");
        let usdt0 = resolve("USD₮0").unwrap();
        assert_eq!((usdt0.symbol.as_str(), usdt0.decimals, usdt0.known), ("USDT0", 6, true));
        let native = resolve("rbtc").unwrap();
        assert!(native.is_native() && native.symbol == "RBTC" && native.decimals == 18);
        assert!(resolve("RBTC").unwrap().is_native());
        assert!(resolve("native").unwrap().is_native());
        let rif = resolve("0x2acc95758f8b5f583470ba265eb685a8f45fc9d5").unwrap();
        assert_eq!(rif.symbol, "RIF");
        assert_eq!(
            resolve("USDT").unwrap_err().to_string(),
            "unknown token \"USDT\" on Rootstock Mainnet: known tokens are RBTC, RIF, USDRIF, DOC, rUSDT, USDT0, WRBTC; pass an address for any other"
        );
        let unknown =
            resolve("0x1111111111111111111111111111111111111111").unwrap_err().to_string();
        assert!(unknown.starts_with("token 0x1111111111111111111111111111111111111111 is not a known token on Rootstock Mainnet"), "{unknown}");
    }

    #[test]
    fn resolves_deployment_tokens_and_native_aliases() {
        let devnet = chain("devnet");
        let extra = [test_usd()];
        let tusd = resolve_known(&devnet, &"TUSD".parse().unwrap(), &extra).unwrap();
        assert_eq!((tusd.decimals, tusd.known), (6, true));
        let by_address =
            resolve_known(&devnet, &TokenRef::Address(extra[0].address), &extra).unwrap();
        assert_eq!(by_address, tusd);
        assert!(resolve_known(&devnet, &"rbtc".parse().unwrap(), &extra).unwrap().is_native());
        assert!(
            resolve_known(&chain("bob"), &"rbtc".parse().unwrap(), &[]).is_err(),
            "rbtc is not BOB's coin"
        );
        assert!(resolve_known(&chain("bob"), &"eth".parse().unwrap(), &[]).unwrap().is_native());
        let testnet = chain("rootstock-testnet");
        assert!(resolve_known(&testnet, &"rbtc".parse().unwrap(), &[]).unwrap().is_native());
        assert_eq!(resolve_known(&testnet, &"RIF".parse().unwrap(), &[]).unwrap().symbol, "tRIF");
        let unknown_chain = ChainInfo::for_chain_id(31337, GasPolicy::Eip1559);
        assert!(
            resolve_known(&unknown_chain, &"native".parse().unwrap(), &[]).unwrap().is_native()
        );
        assert_eq!(known_symbols(&unknown_chain, &extra), "native, tUSD");
    }

    #[test]
    fn token_amounts_name_the_token() {
        let usdt0 = resolve_known(&chain("rootstock"), &"USDT0".parse().unwrap(), &[]).unwrap();
        assert_eq!(usdt0.parse_amount("1500.25").unwrap(), U256::from(1_500_250_000u64));
        assert_eq!(usdt0.format_amount(U256::from(1_500_250_000u64)), "1500.25 USDT0");
        assert_eq!(
            usdt0.parse_amount("1.0000001").unwrap_err().to_string(),
            "\"1.0000001\" has more decimals than USDT0's 6"
        );
    }

    #[test]
    fn requirements_paragraph_is_one_paragraph() {
        assert!(!TOKEN_REQUIREMENTS.contains('\n'));
        assert!(
            TOKEN_REQUIREMENTS.contains("fee on transfer")
                && TOKEN_REQUIREMENTS.contains("rebasing")
        );
    }
}
