//! Test support for ShiftPay's contracts: an in-process revm harness ([`Evm`]), bindings of the
//! test-only contracts ([`mocks`]) and an independent EIP-712 signer ([`external_signer`]).
//! For end-to-end tests against a node: an anvil process ([`anvil::AnvilProcess`]) and a
//! JSON-RPC proxy that makes it answer like a Rootstock node ([`rsk_proxy::RskProxy`]), and a
//! TCP proxy that makes a server (a database) unreachable on demand ([`tcp_proxy::TcpProxy`]).
//! The real Safe 1.5.0 contracts from npm for multisig tests ([`safe::SafeDeployment`]) and an
//! OpenZeppelin Governor + Timelock DAO compiled at test time ([`dao::Dao`]).
//!
//! The suites live in `tests/tests/` (one binary per area); benchmark programs in `src/bin/`.

pub mod anvil;
pub mod dao;
pub mod evm;
pub mod external_signer;
pub mod gas;
pub mod mocks;
pub mod rsk_proxy;
pub mod safe;
pub mod tcp_proxy;

pub use evm::{Evm, Receipt, TxError, decode_events};
