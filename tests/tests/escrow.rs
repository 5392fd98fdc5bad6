//! Test suites of the `MilestoneEscrow` contract (milestone escrow), run in-process with revm.
//!
//! - `create`: job creation rules, funding, the offer (accept / withdraw).
//! - `review`: submit, approve, silence pays the worker, change requests, disputes' windows.
//! - `disputes`: arbiter rulings, the 50/50 ruling timeout, jobs without an arbiter (no disputes,
//!   settlements, reclaiming an unanswered change request).
//! - `ending`: cancel with notice to the worker, resign, reclaim after the deadline.
//! - `signatures`: EIP-712 approvals and settlements signed by `@metamask/eth-sig-util`, replay,
//!   expiry, wrong chain / job / signer, EIP-1271 contract clients.
//! - `attacks`: re-entrant tokens and recipients, reverting and gas-burning payees, odd tokens.
//! - `invariant`: stateful property test over random sequences across jobs and tokens.
//! - `gas`: the escrow's gas table for `contracts/GAS.md` builds and fits a Rootstock block.
//!
//! Modules live in `tests/tests/escrow/` and are declared with `#[path]` because this file is the
//! crate root of the `escrow` test binary.

#[path = "escrow/fixture.rs"]
mod fixture;

#[path = "escrow/create.rs"]
mod create;

#[path = "escrow/review.rs"]
mod review;

#[path = "escrow/disputes.rs"]
mod disputes;

#[path = "escrow/ending.rs"]
mod ending;

#[path = "escrow/signatures.rs"]
mod signatures;

#[path = "escrow/attacks.rs"]
mod attacks;

#[path = "escrow/invariant.rs"]
mod invariant;

#[path = "escrow/gas.rs"]
mod gas;

#[path = "escrow/compact.rs"]
mod compact;
