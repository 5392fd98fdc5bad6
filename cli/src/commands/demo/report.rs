//! The final table: every party's balances before and after this run, what the contracts still
//! hold for it, and the check that it adds up, per token.
//!
//! For each token: `deposited` (what the payers' balances went down by) must equal `paid out`
//! (what the payees' balances went up by) plus what this run's Payroll pool and escrow job
//! still hold (read from the contracts). Everything is read on chain. rBTC pays gas too: each
//! party's change is counted without the gas its own transactions cost (summed from their
//! receipts, shown in its own column); the relayer's gas is the relayer's, outside the table.

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use serde::Serialize;
use shiftpay_bindings::{
    escrow::{MilestoneEscrow, MilestoneState},
    tokens::Token,
};

use super::Demo;
use crate::output::OutputArgs;

/// Every party's balances of both tokens, plus what the contracts hold for this run.
#[derive(Debug, Clone)]
pub(super) struct Snapshot {
    /// `[party][token]`, parties in [`Role::ALL`] order, tokens `[tUSD, rBTC]`.
    balances: Vec<[U256; 2]>,
    /// What this run's Payroll pools and escrow job hold, per token.
    held_payroll: [U256; 2],
    held_escrow: [U256; 2],
}

/// One party's row for one token.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PartyRow {
    party: &'static str,
    address: Address,
    before: String,
    after: String,
    /// Change without gas, signed, in token units (decimal string).
    change: String,
    /// Gas paid by the party's own transactions (rBTC only).
    gas: String,
}

/// One token's accounting.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TokenReport {
    symbol: String,
    decimals: u8,
    parties: Vec<PartyRow>,
    /// What the payers' balances went down by (token units).
    deposited: String,
    /// What the payees' balances went up by.
    paid_out: String,
    /// What this run's Payroll pool still holds.
    held_in_payroll: String,
    /// What this run's escrow job still holds.
    held_in_escrow: String,
    /// `deposited == paid_out + held_in_payroll + held_in_escrow`.
    balanced: bool,
    /// The same numbers with the symbol, for people.
    summary: String,
}

/// The demo's result.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report {
    run: u64,
    chain_id: u64,
    job_id: String,
    tokens: Vec<TokenReport>,
    /// Every token balanced.
    pub(super) ok: bool,
    seconds: f64,
}

impl Demo {
    /// Reads every party's balances and this run's holdings.
    pub(super) async fn snapshot(&self) -> eyre::Result<Snapshot> {
        let tokens = [self.tusd.clone(), self.rbtc.clone()];
        let mut balances = Vec::new();
        for party in &self.parties {
            let address = party.signer.address();
            balances.push([
                self.balance(address, &tokens[0]).await?,
                self.balance(address, &tokens[1]).await?,
            ]);
        }
        let mut held_payroll = [U256::ZERO; 2];
        let mut held_escrow = [U256::ZERO; 2];
        for (i, token) in tokens.iter().enumerate() {
            held_payroll[i] = self.pool_balance(token).await?;
            held_escrow[i] = self.held_by_escrow(token).await?;
        }
        Ok(Snapshot { balances, held_payroll, held_escrow })
    }

    /// What the escrow holds for this run in `token`: the job's open funded milestones and any
    /// payment deferred to a party.
    async fn held_by_escrow(&self, token: &Token) -> eyre::Result<U256> {
        let escrow = self.deployment.escrow.address;
        let mut held = U256::ZERO;
        if !self.job.is_zero() {
            let job = self.view(escrow, &MilestoneEscrow::getJobCall { jobId: self.job }).await?;
            if job.token == token.address {
                let milestones = self
                    .view(escrow, &MilestoneEscrow::getMilestonesCall { jobId: self.job })
                    .await?;
                for milestone in milestones {
                    let open = matches!(
                        MilestoneState::try_from(milestone.status),
                        Ok(MilestoneState::Funded
                            | MilestoneState::Submitted
                            | MilestoneState::ChangesRequested
                            | MilestoneState::Disputed)
                    );
                    if open {
                        held += U256::from(milestone.amount);
                    }
                }
            }
        }
        for party in &self.parties {
            let account = party.signer.address();
            held += self
                .view(escrow, &MilestoneEscrow::owedCall { token: token.address, account })
                .await?;
        }
        Ok(held)
    }

    /// The table, checked.
    pub(super) async fn report(&self, before: &Snapshot, after: &Snapshot) -> eyre::Result<Report> {
        let tokens = [self.tusd.clone(), self.rbtc.clone()];
        let parties: Vec<(&'static str, Address)> =
            self.parties.iter().map(|p| (p.role.name(), p.signer.address())).collect();
        let reports: Vec<TokenReport> = tokens
            .iter()
            .enumerate()
            .map(|(t, token)| account(token, t, &parties, &self.gas, before, after))
            .collect();
        Ok(Report {
            run: self.run,
            chain_id: self.ctx.chain.chain_id,
            job_id: self.job.to_string(),
            ok: reports.iter().all(|r| r.balanced),
            tokens: reports,
            seconds: (self.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        })
    }
}

/// The accounting of token `t` of the snapshots (the check itself, no I/O): `parties` in
/// snapshot order, `gas` what each address's own transactions cost (native coin only).
fn account(
    token: &Token,
    t: usize,
    parties: &[(&'static str, Address)],
    gas: &HashMap<Address, U256>,
    before: &Snapshot,
    after: &Snapshot,
) -> TokenReport {
    let (mut deposited, mut paid_out) = (U256::ZERO, U256::ZERO);
    let mut rows = Vec::new();
    for (p, &(party, address)) in parties.iter().enumerate() {
        let gas = if token.is_native() {
            gas.get(&address).copied().unwrap_or_default()
        } else {
            U256::ZERO
        };
        // The change without gas: after + gas - before.
        let (old, new) = (before.balances[p][t], after.balances[p][t] + gas);
        let change = if new >= old {
            paid_out += new - old;
            format!("+{}", fmt(token, new - old))
        } else {
            deposited += old - new;
            format!("-{}", fmt(token, old - new))
        };
        rows.push(PartyRow {
            party,
            address,
            before: fmt(token, before.balances[p][t]),
            after: fmt(token, after.balances[p][t]),
            change,
            gas: if token.is_native() { fmt(token, gas) } else { String::new() },
        });
    }
    // Holdings can only have grown from zero in a fresh run; count their change.
    let held_payroll = after.held_payroll[t].saturating_sub(before.held_payroll[t]);
    let held_escrow = after.held_escrow[t].saturating_sub(before.held_escrow[t]);
    let balanced = before.held_payroll[t] <= after.held_payroll[t]
        && before.held_escrow[t] <= after.held_escrow[t]
        && deposited == paid_out + held_payroll + held_escrow;
    let summary = format!(
        "deposited {} {} paid out {} + still in the Payroll pool {} + still in escrow {}",
        token.format_amount(deposited),
        if balanced { "=" } else { "!=" },
        token.format_amount(paid_out),
        token.format_amount(held_payroll),
        token.format_amount(held_escrow)
    );
    TokenReport {
        symbol: token.symbol.clone(),
        decimals: token.decimals,
        parties: rows,
        deposited: fmt(token, deposited),
        paid_out: fmt(token, paid_out),
        held_in_payroll: fmt(token, held_payroll),
        held_in_escrow: fmt(token, held_escrow),
        balanced,
        summary,
    }
}

/// Token units in human form (no symbol).
fn fmt(token: &Token, value: U256) -> String {
    shiftpay_bindings::units::format_amount(value, token.decimals)
}

impl Report {
    /// Prints the table on stdout (or the JSON document with `--json`).
    pub(super) fn emit(&self, out: &OutputArgs) -> eyre::Result<()> {
        out.emit(self, |report| {
            println!(
                "ShiftPay demo, run {} on chain {}: balances of this run's parties",
                report.run, report.chain_id
            );
            for token in &report.tokens {
                println!();
                let gas = token.parties.iter().any(|p| !p.gas.is_empty());
                let mut headers = vec!["party", "address", "before", "after", "change (no gas)"];
                if gas {
                    headers.push("gas paid");
                }
                let rows: Vec<Vec<String>> = token
                    .parties
                    .iter()
                    .map(|p| {
                        let mut row = vec![
                            p.party.to_owned(),
                            p.address.to_string(),
                            p.before.clone(),
                            p.after.clone(),
                            p.change.clone(),
                        ];
                        if gas {
                            row.push(p.gas.clone());
                        }
                        row
                    })
                    .collect();
                println!("{}", token.symbol);
                crate::commands::payroll_common::print_table("  ", &headers, &rows);
                println!(
                    "  {}  {}",
                    if token.balanced { "ok:" } else { "MISMATCH:" },
                    token.summary
                );
            }
            println!();
            println!(
                "{} ({}s)",
                if report.ok { "every token adds up" } else { "THE BALANCES DO NOT ADD UP" },
                report.seconds
            );
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARTIES: [(&str, Address); 3] = [
        ("payer", Address::repeat_byte(1)),
        ("payee", Address::repeat_byte(2)),
        ("bystander", Address::repeat_byte(3)),
    ];

    fn tusd() -> Token {
        Token { address: Address::repeat_byte(9), symbol: "tUSD".into(), decimals: 6, known: true }
    }

    fn rbtc() -> Token {
        Token { address: Address::ZERO, symbol: "RBTC".into(), decimals: 18, known: true }
    }

    /// Balances of the three parties in token 0 and 1, and the holdings.
    fn snapshot(balances: [[u64; 2]; 3], payroll: [u64; 2], escrow: [u64; 2]) -> Snapshot {
        Snapshot {
            balances: balances.iter().map(|b| b.map(U256::from)).collect(),
            held_payroll: payroll.map(U256::from),
            held_escrow: escrow.map(U256::from),
        }
    }

    #[test]
    fn payers_decrease_equals_payees_increase_plus_holdings() {
        // The payer puts 1000 in: 600 reach the payee, 300 stay in the pool, 100 in escrow.
        let before = snapshot([[1_000, 0], [0, 0], [5, 0]], [0, 0], [0, 0]);
        let after = snapshot([[0, 0], [600, 0], [5, 0]], [300, 0], [100, 0]);
        let report = account(&tusd(), 0, &PARTIES, &HashMap::new(), &before, &after);
        assert!(report.balanced, "{report:#?}");
        assert_eq!(report.deposited, "0.001");
        assert_eq!(report.paid_out, "0.0006");
        assert_eq!(report.parties[0].change, "-0.001");
        assert_eq!(report.parties[2].change, "+0");
        assert!(report.summary.contains(" = "), "{}", report.summary);
    }

    #[test]
    fn a_unit_unaccounted_for_fails_the_check() {
        // One unit more reached the payee than left the payer and the holdings explain.
        let before = snapshot([[1_000, 0], [0, 0], [0, 0]], [0, 0], [0, 0]);
        let after = snapshot([[0, 0], [601, 0], [0, 0]], [300, 0], [100, 0]);
        let report = account(&tusd(), 0, &PARTIES, &HashMap::new(), &before, &after);
        assert!(!report.balanced);
        assert!(report.summary.contains(" != "), "{}", report.summary);
        // Holdings that shrank (an earlier run's money counted as this run's) fail it too.
        let before = snapshot([[1_000, 0], [0, 0], [0, 0]], [500, 0], [0, 0]);
        let after = snapshot([[0, 0], [1_400, 0], [0, 0]], [100, 0], [0, 0]);
        assert!(!account(&tusd(), 0, &PARTIES, &HashMap::new(), &before, &after).balanced);
    }

    #[test]
    fn native_changes_are_counted_without_each_partys_own_gas() {
        // The payer sends 700 and pays 50 of gas; the payee receives 700.
        let before = snapshot([[0, 1_000], [0, 0], [0, 0]], [0, 0], [0, 0]);
        let after = snapshot([[0, 250], [0, 700], [0, 0]], [0, 0], [0, 0]);
        let gas: HashMap<Address, U256> = [(PARTIES[0].1, U256::from(50))].into();
        let report = account(&rbtc(), 1, &PARTIES, &gas, &before, &after);
        assert!(report.balanced, "{report:#?}");
        assert_eq!(report.parties[0].gas, "0.00000000000000005");
        // Without the gas column the payer's decrease is 50 too many.
        assert!(!account(&rbtc(), 1, &PARTIES, &HashMap::new(), &before, &after).balanced);
    }
}
