//! The `Payroll` contract: pooled employer treasuries paying per-second wage streams, with gasless
//! EIP-712 worker withdrawals and batched payouts.
//!
//! [`Payroll`] is generated from `artifacts/Payroll.json` (ABI, bytecode, custom errors, events).
//! [`WithdrawRequest`], [`eip712_domain`] and [`WithdrawRequest::signing_hash`] are the single
//! definition of the typed data a worker signs: the CLI signs with them, the relayer and the
//! contract check the same digest.

use alloy::{
    primitives::{Address, B256},
    sol,
    sol_types::{Eip712Domain, SolStruct},
};

#[allow(missing_docs)]
mod generated {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        Payroll,
        "artifacts/Payroll.json"
    );
}

pub use generated::*;

/// EIP-712 domain name of the payroll contract.
pub const EIP712_NAME: &str = "ShiftPay Payroll";
/// EIP-712 domain version of the payroll contract.
pub const EIP712_VERSION: &str = "1";

/// Token address that stands for the native coin (rBTC on Rootstock).
pub const NATIVE_TOKEN: Address = Address::ZERO;

sol! {
    /// A worker's request to withdraw `amount` of stream `streamId` to `to`, signed with EIP-712
    /// and submitted by anyone (a relayer) through `Payroll.withdrawWithSignature`.
    ///
    /// `nonce` must equal `Payroll.nonces(worker)` (one sequence per worker, consumed on use) and
    /// the request is valid up to and including the `deadline` timestamp.
    #[derive(Debug, PartialEq, Eq)]
    struct WithdrawRequest {
        uint256 streamId;
        address to;
        uint256 amount;
        uint256 nonce;
        uint256 deadline;
    }
}

/// The EIP-712 domain of a `Payroll` deployment: name [`EIP712_NAME`], version
/// [`EIP712_VERSION`], `chain_id` and the contract address as verifying contract.
///
/// The contract computes its separator with OpenZeppelin's `EIP712`, which rebuilds it when the
/// chain id changes (after a fork), so signatures for one chain never verify on another.
pub fn eip712_domain(chain_id: u64, payroll: Address) -> Eip712Domain {
    alloy::sol_types::eip712_domain! {
        name: EIP712_NAME,
        version: EIP712_VERSION,
        chain_id: chain_id,
        verifying_contract: payroll,
    }
}

impl WithdrawRequest {
    /// The EIP-712 type string the contract hashes into `WITHDRAW_REQUEST_TYPEHASH`.
    pub const TYPE_STRING: &'static str = "WithdrawRequest(uint256 streamId,address to,uint256 amount,uint256 nonce,uint256 deadline)";

    /// The digest the worker signs: `keccak256(0x1901 || domainSeparator || hashStruct(request))`,
    /// equal to `Payroll.hashWithdrawRequest(request)` on that chain and deployment.
    pub fn signing_hash(&self, chain_id: u64, payroll: Address) -> B256 {
        self.eip712_signing_hash(&eip712_domain(chain_id, payroll))
    }
}

impl From<WithdrawRequest> for PayrollTypes::WithdrawRequest {
    fn from(request: WithdrawRequest) -> Self {
        Self {
            streamId: request.streamId,
            to: request.to,
            amount: request.amount,
            nonce: request.nonce,
            deadline: request.deadline,
        }
    }
}

impl From<PayrollTypes::WithdrawRequest> for WithdrawRequest {
    fn from(request: PayrollTypes::WithdrawRequest) -> Self {
        Self {
            streamId: request.streamId,
            to: request.to,
            amount: request.amount,
            nonce: request.nonce,
            deadline: request.deadline,
        }
    }
}
