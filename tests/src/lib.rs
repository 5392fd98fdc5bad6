//! Test support for ShiftPay's contracts: an in-process revm harness ([`Evm`]), bindings of the
//! test-only contracts ([`mocks`]) and an independent EIP-712 signer ([`external_signer`]).
//!
//! The suites live in `tests/tests/` (one binary per area); benchmark programs in `src/bin/`.

pub mod evm;
pub mod external_signer;
pub mod gas;
pub mod mocks;

pub use evm::{Evm, Receipt, TxError, decode_events};
