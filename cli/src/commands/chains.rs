//! `shiftpay chains [NAME]`: the chain presets compiled into this binary (chain id, RPC,
//! explorer, confirmations, gas policy, known tokens), so an operator sees what `--chain NAME`
//! means before sending anything. Any other EVM chain works with `--rpc-url` alone.

use std::fmt::Write as _;

use clap::Args;
use serde::Serialize;
use shiftpay_bindings::chains::{ChainPreset, GasPolicy, NATIVE_DECIMALS, PRESETS, find_preset};

use crate::output::OutputArgs;

/// Arguments of `shiftpay chains`.
#[derive(Debug, Args)]
pub(crate) struct ChainsArgs {
    /// Show one chain in detail, by name, alias (e.g. `rsk`) or chain id; all presets when
    /// omitted.
    name: Option<String>,
}

/// One preset as printed by `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ChainView {
    name: &'static str,
    aliases: &'static [&'static str],
    chain_id: u64,
    display_name: &'static str,
    rpc_url: &'static str,
    explorer: Option<&'static str>,
    confirmations: u64,
    gas_policy: GasPolicy,
    log_range: u64,
    block_gas_limit: u64,
    native_symbol: &'static str,
    native_aliases: &'static [&'static str],
    native_decimals: u8,
    /// `eip1191` on Rootstock 30/31, `eip55` elsewhere.
    checksum: &'static str,
    live: bool,
    tokens: Vec<TokenView>,
}

/// One known token as printed by `--json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    symbol: &'static str,
    aliases: &'static [&'static str],
    name: &'static str,
    /// Checksummed the chain's way (EIP-1191 on Rootstock).
    address: String,
    decimals: u8,
}

impl ChainView {
    fn new(preset: &'static ChainPreset) -> Self {
        Self {
            name: preset.name,
            aliases: preset.aliases,
            chain_id: preset.chain_id,
            display_name: preset.display_name,
            rpc_url: preset.rpc_url,
            explorer: preset.explorer,
            confirmations: preset.confirmations,
            gas_policy: preset.gas_policy,
            log_range: preset.log_range,
            block_gas_limit: preset.block_gas_limit,
            native_symbol: preset.native_symbol,
            native_aliases: preset.native_aliases,
            native_decimals: NATIVE_DECIMALS,
            checksum: if preset.checksum_chain_id { "eip1191" } else { "eip55" },
            live: preset.live,
            tokens: preset
                .tokens
                .iter()
                .map(|token| TokenView {
                    symbol: token.symbol,
                    aliases: token.aliases,
                    name: token.name,
                    address: preset.format_address(token.address),
                    decimals: token.decimals,
                })
                .collect(),
        }
    }
}

pub(crate) fn run(args: &ChainsArgs, output: &OutputArgs) -> eyre::Result<()> {
    match &args.name {
        Some(name) => {
            let view = ChainView::new(find_preset(name)?);
            output.emit(&view, |view| print!("{}", render_detail(view)))
        }
        None => {
            let views: Vec<ChainView> = PRESETS.iter().map(ChainView::new).collect();
            output.emit(&views, |views| print!("{}", render_table(views)))
        }
    }
}

/// `6800000` as `6,800,000`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn token_list(view: &ChainView) -> String {
    if view.tokens.is_empty() {
        "-".to_owned()
    } else {
        view.tokens.iter().map(|t| t.symbol).collect::<Vec<_>>().join(", ")
    }
}

/// Left-aligned columns separated by two spaces, widths in characters (`₮` counts as one).
fn render_columns(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                let pad = widths[c] - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn render_table(views: &[ChainView]) -> String {
    let header = ["NAME", "ID", "GAS", "CONFIRMATIONS", "NATIVE", "TOKENS", "RPC", "EXPLORER"];
    let mut rows = vec![header.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()];
    for view in views {
        rows.push(vec![
            view.name.to_owned(),
            view.chain_id.to_string(),
            view.gas_policy.to_string(),
            view.confirmations.to_string(),
            view.native_symbol.to_owned(),
            token_list(view),
            view.rpc_url.to_owned(),
            view.explorer.unwrap_or("-").to_owned(),
        ]);
    }
    render_columns(&rows)
}

fn render_detail(view: &ChainView) -> String {
    let mut out = format!("{}: {}\n", view.name, view.display_name);
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<16} {value}");
    };
    line("chain id", view.chain_id.to_string());
    if !view.aliases.is_empty() {
        line("aliases", view.aliases.join(", "));
    }
    line("rpc", view.rpc_url.to_owned());
    line(
        "explorer",
        view.explorer.map_or_else(
            || "none".to_owned(),
            |url| format!("{url} (transactions: {url}/tx/<hash>)"),
        ),
    );
    line("confirmations", view.confirmations.to_string());
    line(
        "gas policy",
        match view.gas_policy {
            GasPolicy::Legacy => "legacy (type-0 transactions priced with eth_gasPrice)".to_owned(),
            GasPolicy::Eip1559 => "eip1559 (type-2 transactions)".to_owned(),
        },
    );
    line(
        "block gas limit",
        format!("{} (batches are chunked to fit)", thousands(view.block_gas_limit)),
    );
    line("log range", format!("{} blocks per eth_getLogs query", thousands(view.log_range)));
    let also: Vec<String> =
        view.native_aliases.iter().chain(&["native"]).map(|alias| format!("{alias:?}")).collect();
    line(
        "native coin",
        format!(
            "{} ({} decimals; also {})",
            view.native_symbol,
            view.native_decimals,
            also.join(", ")
        ),
    );
    line(
        "checksums",
        if view.checksum == "eip1191" {
            format!("EIP-1191 (chain id {})", view.chain_id)
        } else {
            "EIP-55".to_owned()
        },
    );
    line(
        "live",
        if view.live {
            "yes".to_owned()
        } else {
            "no (local; deployments may be overwritten)".to_owned()
        },
    );
    if view.tokens.is_empty() {
        line(
            "tokens",
            "none listed: pass a token address (with --allow-unknown-token) or list it in the deployment file"
                .to_owned(),
        );
        return out;
    }
    out.push_str("  tokens\n");
    let mut rows =
        vec![vec!["SYMBOL".to_owned(), "DECIMALS".into(), "ADDRESS".into(), "NAME".into()]];
    for token in &view.tokens {
        let symbols = std::iter::once(token.symbol).chain(token.aliases.iter().copied());
        rows.push(vec![
            symbols.collect::<Vec<_>>().join(", "),
            token.decimals.to_string(),
            token.address.clone(),
            token.name.to_owned(),
        ]);
    }
    for row in render_columns(&rows).lines() {
        let _ = writeln!(out, "    {row}");
    }
    out
}

#[cfg(test)]
mod tests {
    use shiftpay_bindings::chains::preset_by_name;

    use super::*;

    #[test]
    fn table_lists_every_preset_with_its_facts() {
        let views: Vec<ChainView> = PRESETS.iter().map(ChainView::new).collect();
        let table = render_table(&views);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), PRESETS.len() + 1);
        assert!(
            lines[0]
                .starts_with("NAME               ID     GAS      CONFIRMATIONS  NATIVE  TOKENS"),
            "{table}"
        );
        assert!(lines[1].starts_with("rootstock          30     legacy   12             RBTC    RIF, USDRIF, DOC, rUSDT, USDT0, WRBTC  https://public-node.rsk.co"), "{table}");
        assert!(table.contains("devnet             33     legacy   1"), "{table}");
        assert!(table.contains("bob                60808  eip1559  10"), "{table}");
    }

    #[test]
    fn detail_shows_tokens_with_rootstock_checksums() {
        let view = ChainView::new(preset_by_name("rootstock").unwrap());
        let detail = render_detail(&view);
        assert!(
            detail.starts_with("rootstock: Rootstock Mainnet\n  chain id         30\n"),
            "{detail}"
        );
        assert!(
            detail.contains("  block gas limit  6,800,000 (batches are chunked to fit)\n"),
            "{detail}"
        );
        assert!(detail.contains("  checksums        EIP-1191 (chain id 30)\n"), "{detail}");
        let rif = view.tokens.iter().find(|t| t.symbol == "RIF").unwrap();
        assert!(
            detail.contains(&format!("    RIF           18        {}  RIF Token\n", rif.address)),
            "{detail}"
        );
        assert!(detail.contains("    USDT0, USD₮0  6         "), "{detail}");
        let devnet = render_detail(&ChainView::new(preset_by_name("devnet").unwrap()));
        assert!(
            devnet.contains("  explorer         none\n")
                && devnet.contains("  tokens           none listed"),
            "{devnet}"
        );
    }

    #[test]
    fn json_view_uses_camel_case_and_chain_checksums() {
        let json = serde_json::to_value(ChainView::new(preset_by_name("rsk").unwrap())).unwrap();
        assert_eq!(json["chainId"], 30);
        assert_eq!(json["gasPolicy"], "legacy");
        assert_eq!(json["checksum"], "eip1191");
        assert_eq!(json["tokens"][0]["address"], "0x2aCc95758f8b5F583470bA265Eb685a8f45fC9D5");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2_000), "2,000");
        assert_eq!(thousands(30_000_000), "30,000,000");
    }
}
