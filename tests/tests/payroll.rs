//! Test suites of the `Payroll` contract (payroll streams), run in-process with revm.
//!
//! `unit_*` modules: every external function's success and revert paths, events, attackers
//! (re-entrant token, hostile native recipients), token edge cases, multicall and signatures.
//! Modules live in `tests/tests/payroll/` and are declared with `#[path]` because this file is the
//! crate root of the `payroll` test binary.

#[path = "payroll/unit_fixture.rs"]
mod unit_fixture;

#[path = "payroll/unit_treasury.rs"]
mod unit_treasury;

#[path = "payroll/unit_streams.rs"]
mod unit_streams;

#[path = "payroll/unit_withdraw.rs"]
mod unit_withdraw;

#[path = "payroll/unit_insolvency.rs"]
mod unit_insolvency;

#[path = "payroll/unit_signatures.rs"]
mod unit_signatures;

#[path = "payroll/unit_attacks.rs"]
mod unit_attacks;

#[path = "payroll/unit_multicall.rs"]
mod unit_multicall;

#[path = "payroll/prop_model.rs"]
mod prop_model;

#[path = "payroll/prop_accrual.rs"]
mod prop_accrual;

#[path = "payroll/invariant.rs"]
mod invariant;

#[path = "payroll/eip712.rs"]
mod eip712;
