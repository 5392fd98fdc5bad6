//! EIP-712 approvals and settlements signed by an independent implementation
//! (`@metamask/eth-sig-util` through Node.js), EIP-1271 contract clients, and every way a
//! signature must be refused: replayed, expired, for another chain, job, milestone or split,
//! signed by someone who is not the party, or invalidated. Every nonce consumed is logged
//! (`SignatureNonceUsed`, `NonceInvalidated`), so a relayer follows nonces from events alone.

use std::collections::BTreeMap;

use alloy::{
    primitives::{Address, Bytes, Log, U256},
    signers::SignerSync,
    sol_types::{SolCall, SolValue},
};
use serde_json::{Value, json};
use shiftpay_bindings::escrow::{
    self, Approval, MilestoneEscrow, MilestoneState, ResolutionKind, Settlement,
};
use shiftpay_tests::{Evm, decode_events, external_signer};

use crate::fixture::{EscrowWalletMock, ExpectRevert, Fixture, NATIVE, no_signature, units};

const M0: U256 = U256::ZERO;
const FAR: u64 = 4_000_000_000;

fn eip712_domain_type() -> Value {
    json!([
        { "name": "name", "type": "string" },
        { "name": "version", "type": "string" },
        { "name": "chainId", "type": "uint256" },
        { "name": "verifyingContract", "type": "address" },
    ])
}

/// The `eth_signTypedData_v4` payload of an approval, written by hand (not derived from the Rust
/// structs) so the external signer checks the contract's typed data independently.
fn approval_typed_data(
    chain_id: u64,
    escrow: Address,
    job: U256,
    index: U256,
    nonce: U256,
    deadline: u64,
) -> Value {
    json!({
        "types": {
            "EIP712Domain": eip712_domain_type(),
            "Approval": [
                { "name": "jobId", "type": "uint256" },
                { "name": "milestoneIndex", "type": "uint256" },
                { "name": "nonce", "type": "uint256" },
                { "name": "deadline", "type": "uint256" },
            ],
        },
        "primaryType": "Approval",
        "domain": { "name": "ShiftPay MilestoneEscrow", "version": "1", "chainId": chain_id, "verifyingContract": escrow.to_string() },
        "message": { "jobId": job.to_string(), "milestoneIndex": index.to_string(), "nonce": nonce.to_string(), "deadline": deadline.to_string() },
    })
}

/// The `eth_signTypedData_v4` payload of a settlement.
fn settlement_typed_data(
    chain_id: u64,
    escrow: Address,
    job: U256,
    index: U256,
    worker_bps: u64,
    nonce: U256,
    deadline: u64,
) -> Value {
    json!({
        "types": {
            "EIP712Domain": eip712_domain_type(),
            "Settlement": [
                { "name": "jobId", "type": "uint256" },
                { "name": "milestoneIndex", "type": "uint256" },
                { "name": "workerBps", "type": "uint256" },
                { "name": "nonce", "type": "uint256" },
                { "name": "deadline", "type": "uint256" },
            ],
        },
        "primaryType": "Settlement",
        "domain": { "name": "ShiftPay MilestoneEscrow", "version": "1", "chainId": chain_id, "verifyingContract": escrow.to_string() },
        "message": {
            "jobId": job.to_string(),
            "milestoneIndex": index.to_string(),
            "workerBps": worker_bps.to_string(),
            "nonce": nonce.to_string(),
            "deadline": deadline.to_string(),
        },
    })
}

/// Signs with the key of the harness account `label` through MetaMask's implementation.
fn sign(label: &str, typed_data: &Value) -> external_signer::ExternalSignature {
    external_signer::sign_typed_data(Evm::private_key(label), typed_data)
        .expect("the external signer signs")
}

impl Fixture {
    /// `label` signs an approval of `(job, index)` with `nonce` for this chain and escrow.
    fn sign_approval(
        &self,
        label: &str,
        job: U256,
        index: U256,
        nonce: U256,
        deadline: u64,
    ) -> Bytes {
        sign(
            label,
            &approval_typed_data(self.evm.chain_id(), self.escrow, job, index, nonce, deadline),
        )
        .signature
    }

    /// `label` signs a settlement of `(job, index)` at `worker_bps` with `nonce`.
    fn sign_settlement(
        &self,
        label: &str,
        job: U256,
        index: U256,
        worker_bps: u64,
        nonce: U256,
        deadline: u64,
    ) -> Bytes {
        sign(
            label,
            &settlement_typed_data(
                self.evm.chain_id(),
                self.escrow,
                job,
                index,
                worker_bps,
                nonce,
                deadline,
            ),
        )
        .signature
    }
}

fn approve_signed(
    job: U256,
    index: U256,
    deadline: u64,
    signature: Bytes,
) -> MilestoneEscrow::approveMilestoneWithSignatureCall {
    MilestoneEscrow::approveMilestoneWithSignatureCall {
        jobId: job,
        milestoneIndex: index,
        deadline: U256::from(deadline),
        signature,
    }
}

fn settle(
    job: U256,
    index: U256,
    bps: u64,
    deadline: u64,
    client_sig: Bytes,
    worker_sig: Bytes,
) -> MilestoneEscrow::settleCall {
    MilestoneEscrow::settleCall {
        jobId: job,
        milestoneIndex: index,
        workerBps: U256::from(bps),
        deadline: U256::from(deadline),
        clientSignature: client_sig,
        workerSignature: worker_sig,
    }
}

#[test]
fn digests_agree_across_metamask_rust_and_the_contract() {
    let mut f = Fixture::new();
    let (escrow, chain) = (f.escrow, f.evm.chain_id());
    let external = sign(
        "client",
        &approval_typed_data(chain, escrow, U256::from(3), U256::from(1), U256::from(7), FAR),
    );
    let rust = Approval {
        jobId: U256::from(3),
        milestoneIndex: U256::from(1),
        nonce: U256::from(7),
        deadline: U256::from(FAR),
    }
    .signing_hash(chain, escrow);
    let contract = f
        .evm
        .view(
            escrow,
            MilestoneEscrow::approvalDigestCall {
                jobId: U256::from(3),
                milestoneIndex: U256::from(1),
                nonce: U256::from(7),
                deadline: U256::from(FAR),
            },
        )
        .unwrap();
    assert_eq!((external.digest, rust), (contract, contract));

    let external = sign(
        "worker",
        &settlement_typed_data(
            chain,
            escrow,
            U256::from(3),
            U256::from(1),
            2_500,
            U256::from(7),
            FAR,
        ),
    );
    let settlement = Settlement {
        jobId: U256::from(3),
        milestoneIndex: U256::from(1),
        workerBps: U256::from(2_500),
        nonce: U256::from(7),
        deadline: U256::from(FAR),
    };
    let contract = f
        .evm
        .view(
            escrow,
            MilestoneEscrow::settlementDigestCall {
                jobId: U256::from(3),
                milestoneIndex: U256::from(1),
                workerBps: U256::from(2_500),
                nonce: U256::from(7),
                deadline: U256::from(FAR),
            },
        )
        .unwrap();
    assert_eq!((external.digest, settlement.signing_hash(chain, escrow)), (contract, contract));

    let separator = f.evm.view(escrow, MilestoneEscrow::domainSeparatorCall {}).unwrap();
    assert_eq!(separator, escrow::eip712_domain(chain, escrow).separator());
    let typehash = f.evm.view(escrow, MilestoneEscrow::APPROVAL_TYPEHASHCall {}).unwrap();
    assert_eq!(typehash, alloy::primitives::keccak256(Approval::TYPE_STRING));
    let typehash = f.evm.view(escrow, MilestoneEscrow::SETTLEMENT_TYPEHASHCall {}).unwrap();
    assert_eq!(typehash, alloy::primitives::keccak256(Settlement::TYPE_STRING));
}

#[test]
fn signed_approval_submitted_by_a_relayer_pays_the_worker() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (usd, client, worker, relayer) = (f.usd, f.client, f.worker, f.relayer);
    let signature = f.sign_approval("client", job, M0, U256::ZERO, FAR);
    let before = f.balance(usd, worker);

    let receipt =
        f.call(relayer, approve_signed(job, M0, FAR, signature.clone())).expect("relayer submits");
    let event = receipt.event::<MilestoneEscrow::MilestoneApproved>();
    assert_eq!(
        (event.jobId, event.client, event.worker, event.milestoneIndex),
        (job, client, worker, M0)
    );
    assert!(event.bySignature);
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
    assert_eq!(f.state(job, 0), MilestoneState::Released);
    assert_eq!(f.nonce(client), U256::from(1));

    // Replayed: the nonce moved on.
    f.call(relayer, approve_signed(job, M0, FAR, signature.clone()))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client });
    // Nor can it approve another milestone.
    f.submit(job, 1);
    f.call(relayer, approve_signed(job, U256::from(1), FAR, signature))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client });
}

#[test]
fn expired_approval_is_refused() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let relayer = f.relayer;
    let deadline = f.now() + 600;
    let signature = f.sign_approval("client", job, M0, U256::ZERO, deadline);

    let mut at_deadline = f.evm.clone();
    at_deadline.warp(deadline);
    at_deadline
        .send(relayer, f.escrow, approve_signed(job, M0, deadline, signature.clone()))
        .expect("valid at its deadline");

    f.warp(deadline + 1);
    f.call(relayer, approve_signed(job, M0, deadline, signature.clone())).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_SignatureExpired { deadline: U256::from(deadline) },
    );
    // Claiming a later deadline than the one signed breaks the signature.
    f.call(relayer, approve_signed(job, M0, deadline + 100, signature))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: f.client });
}

#[test]
fn approval_for_another_chain_job_or_signer_is_refused() {
    let mut f = Fixture::new();
    let first = f.submitted_job();
    let second = f.submitted_job();
    let (escrow, client, relayer) = (f.escrow, f.client, f.relayer);
    let invalid = MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client };

    // Wrong chain: signed for Rootstock mainnet (30), submitted on this chain.
    let rootstock =
        sign("client", &approval_typed_data(30, escrow, second, M0, U256::ZERO, FAR)).signature;
    f.call(relayer, approve_signed(second, M0, FAR, rootstock))
        .reverted()
        .expect_error(invalid.clone());
    // Same signature, chain forked to another id after signing.
    let here = f.sign_approval("client", second, M0, U256::ZERO, FAR);
    let mut forked = f.evm.clone();
    forked.set_chain_id(31);
    forked
        .send(relayer, escrow, approve_signed(second, M0, FAR, here.clone()))
        .reverted()
        .expect_error(invalid.clone());
    // Wrong job: signed for job 2, submitted for job 1.
    f.call(relayer, approve_signed(first, M0, FAR, here.clone()))
        .reverted()
        .expect_error(invalid.clone());
    // Another contract (same chain, other escrow address).
    let other = sign(
        "client",
        &approval_typed_data(
            f.evm.chain_id(),
            Address::repeat_byte(7),
            second,
            M0,
            U256::ZERO,
            FAR,
        ),
    );
    f.call(relayer, approve_signed(second, M0, FAR, other.signature))
        .reverted()
        .expect_error(invalid.clone());
    // Not the client: the worker or a stranger signing the client's approval.
    for label in ["worker", "stranger", "arbiter"] {
        let forged = f.sign_approval(label, second, M0, U256::ZERO, FAR);
        f.call(relayer, approve_signed(second, M0, FAR, forged))
            .reverted()
            .expect_error(invalid.clone());
    }
    // Garbage and truncated signatures (63 bytes: 64 would be an EIP-2098 compact signature,
    // which `compact.rs` covers, and 65 bytes cut to 64 is one whenever v was 27).
    f.call(relayer, approve_signed(second, M0, FAR, Bytes::from(vec![1u8; 65])))
        .reverted()
        .expect_error(invalid.clone());
    f.call(relayer, approve_signed(second, M0, FAR, Bytes::copy_from_slice(&here[..63])))
        .reverted()
        .expect_error(invalid);
    // Nothing above consumed the client's nonce: the genuine signature still works.
    assert_eq!(f.nonce(client), U256::ZERO);
    f.call(relayer, approve_signed(second, M0, FAR, here)).expect("genuine signature");
}

#[test]
fn invalidate_nonce_cancels_pending_signatures() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (client, relayer) = (f.client, f.relayer);
    let signature = f.sign_approval("client", job, M0, U256::ZERO, FAR);
    let receipt = f.call(client, MilestoneEscrow::invalidateNonceCall {}).unwrap();
    let event = receipt.event::<MilestoneEscrow::NonceInvalidated>();
    assert_eq!((event.signer, event.nonce), (client, U256::ZERO));
    assert_eq!(f.nonce(client), U256::from(1));
    f.call(relayer, approve_signed(job, M0, FAR, signature))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client });
}

#[test]
fn settlement_signed_by_both_parties_needs_no_arbiter_and_no_fee() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let (usd, client, worker, arbiter, relayer) = (f.usd, f.client, f.worker, f.arbiter, f.relayer);
    let client_sig = f.sign_settlement("client", job, M0, 2_500, U256::ZERO, FAR);
    let worker_sig = f.sign_settlement("worker", job, M0, 2_500, U256::ZERO, FAR);
    let before = [f.balance(usd, worker), f.balance(usd, client), f.balance(usd, arbiter)];

    let receipt = f
        .call(relayer, settle(job, M0, 2_500, FAR, client_sig.clone(), worker_sig.clone()))
        .unwrap();
    let event = receipt.event::<MilestoneEscrow::MilestoneResolved>();
    assert_eq!(ResolutionKind::try_from(event.resolution), Ok(ResolutionKind::Settlement));
    assert_eq!(
        (event.workerAmount, event.clientAmount, event.arbiterFee),
        (units(6, 25), units(6, 75), U256::ZERO)
    );
    assert_eq!(f.balance(usd, worker) - before[0], units(6, 25));
    assert_eq!(f.balance(usd, client) - before[1], units(6, 75));
    assert_eq!(f.balance(usd, arbiter), before[2]);
    assert_eq!(f.state(job, 0), MilestoneState::Resolved);
    assert_eq!((f.nonce(client), f.nonce(worker)), (U256::from(1), U256::from(1)));

    f.call(relayer, settle(job, M0, 2_500, FAR, client_sig, worker_sig)).reverted().expect_error(
        MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: M0,
            status: MilestoneState::Resolved as u8,
        },
    );
}

#[test]
fn a_party_settles_by_calling_with_the_other_partys_signature() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 100), units(6, 50)]);
    let (client, worker) = (f.client, f.worker);
    // A funded milestone, never submitted: the worker calls, the client signed.
    let client_sig = f.sign_settlement("client", job, M0, 4_000, U256::ZERO, FAR);
    let before = f.balance(usd, worker);
    f.call(worker, settle(job, M0, 4_000, FAR, client_sig, no_signature()))
        .expect("worker settles");
    assert_eq!(f.balance(usd, worker) - before, units(6, 40));
    assert_eq!(f.nonce(worker), U256::ZERO, "the caller's own nonce is untouched");
    assert_eq!(f.nonce(client), U256::from(1));

    // Milestone 1: the client calls with the worker's signature, after a change request.
    f.submit(job, 1);
    f.request_changes(job, 1).unwrap();
    let worker_sig = f.sign_settlement("worker", job, U256::from(1), 10_000, U256::ZERO, FAR);
    f.call(client, settle(job, U256::from(1), 10_000, FAR, no_signature(), worker_sig))
        .expect("client settles");
    assert_eq!(f.balance(usd, worker) - before, units(6, 90));
}

#[test]
fn settlement_signatures_are_refused_when_they_do_not_match() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let other_job = f.disputed_job();
    let (escrow, client, worker, relayer) = (f.escrow, f.client, f.worker, f.relayer);
    let client_sig = f.sign_settlement("client", job, M0, 6_000, U256::ZERO, FAR);
    let worker_sig = f.sign_settlement("worker", job, M0, 6_000, U256::ZERO, FAR);
    let bad_worker = MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: worker };
    let bad_client = MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client };

    // Another split than the one signed.
    f.call(relayer, settle(job, M0, 6_001, FAR, client_sig.clone(), worker_sig.clone()))
        .reverted()
        .expect_error(bad_client.clone());
    // A stranger signing for the worker.
    let forged = f.sign_settlement("stranger", job, M0, 6_000, U256::ZERO, FAR);
    f.call(relayer, settle(job, M0, 6_000, FAR, client_sig.clone(), forged))
        .reverted()
        .expect_error(bad_worker.clone());
    // The client cannot sign both halves.
    f.call(client, settle(job, M0, 6_000, FAR, no_signature(), client_sig.clone()))
        .reverted()
        .expect_error(bad_worker.clone());
    // Missing worker signature.
    f.call(relayer, settle(job, M0, 6_000, FAR, client_sig.clone(), no_signature()))
        .reverted()
        .expect_error(bad_worker.clone());
    // Another job.
    f.call(relayer, settle(other_job, M0, 6_000, FAR, client_sig.clone(), worker_sig.clone()))
        .reverted()
        .expect_error(bad_client.clone());
    // Another chain.
    let mut forked = f.evm.clone();
    forked.set_chain_id(30);
    forked
        .send(relayer, escrow, settle(job, M0, 6_000, FAR, client_sig.clone(), worker_sig.clone()))
        .reverted()
        .expect_error(bad_client.clone());
    let rootstock_client =
        sign("client", &settlement_typed_data(30, escrow, job, M0, 6_000, U256::ZERO, FAR))
            .signature;
    f.call(relayer, settle(job, M0, 6_000, FAR, rootstock_client, worker_sig.clone()))
        .reverted()
        .expect_error(bad_client);
    // Out-of-range split and expired deadline.
    f.call(relayer, settle(job, M0, 10_001, FAR, client_sig.clone(), worker_sig.clone()))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidBps { bps: U256::from(10_001) });
    let deadline = f.now() + 10;
    let short_client = f.sign_settlement("client", job, M0, 6_000, U256::ZERO, deadline);
    let short_worker = f.sign_settlement("worker", job, M0, 6_000, U256::ZERO, deadline);
    let mut late = f.evm.clone();
    late.warp(deadline + 1);
    late.send(
        relayer,
        escrow,
        settle(job, M0, 6_000, deadline, short_client.clone(), short_worker.clone()),
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_SignatureExpired {
        deadline: U256::from(deadline),
    });
    f.warp(deadline);
    f.call(relayer, settle(job, M0, 6_000, deadline, short_client, short_worker))
        .expect("valid at its deadline");

    // Replay on the other job's milestone after the nonces moved.
    f.call(relayer, settle(other_job, M0, 6_000, FAR, client_sig, worker_sig))
        .reverted()
        .expect_selector::<MilestoneEscrow::MilestoneEscrow_InvalidSignature>();
}

#[test]
fn settlement_needs_funds_in_the_milestone() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let params = f.params(usd, &[units(6, 1), units(6, 2)]);
    let job = f.create(params, 1);
    let worker = f.worker;
    let client_sig = f.sign_settlement("client", job, U256::from(1), 5_000, U256::ZERO, FAR);
    f.call(worker, settle(job, U256::from(1), 5_000, FAR, client_sig, no_signature()))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_WrongMilestoneStatus {
            jobId: job,
            milestoneIndex: U256::from(1),
            status: MilestoneState::Unfunded as u8,
        });
}

/// A Safe-like wallet owned by the EOA "safe owner" creates a native job as the client.
fn wallet_client_job(f: &mut Fixture) -> (Address, U256) {
    let owner = f.evm.account("safe owner");
    let wallet = f
        .evm
        .deploy(owner, [EscrowWalletMock::BYTECODE.as_ref(), &owner.abi_encode()].concat())
        .expect("wallet deploys");
    let params = f.params(NATIVE, &[units(18, 1), units(18, 2)]);
    let create = MilestoneEscrow::createJobCall { params, fundCount: U256::from(2) };
    let escrow = f.escrow;
    let receipt = f
        .evm
        .send_value(
            owner,
            wallet,
            units(18, 3),
            EscrowWalletMock::executeCall {
                target: escrow,
                value: units(18, 3),
                data: create.abi_encode().into(),
            },
        )
        .expect("wallet creates the job");
    let job = MilestoneEscrow::createJobCall::abi_decode_returns(&receipt.ret).expect("job id");
    f.accept(job);
    f.submit(job, 0);
    (wallet, job)
}

#[test]
fn contract_client_approves_through_eip1271() {
    let mut f = Fixture::new();
    let (wallet, job) = wallet_client_job(&mut f);
    let (worker, relayer) = (f.worker, f.relayer);
    let before = f.balance(NATIVE, worker);

    // The wallet's owner signs the wallet's approval (the wallet's nonce, the escrow's domain).
    let wallet_nonce = f.nonce(wallet);
    let signature = f.sign_approval("safe owner", job, M0, wallet_nonce, FAR);
    // A stranger's signature is refused by the wallet.
    let forged = f.sign_approval("stranger", job, M0, U256::ZERO, FAR);
    f.call(relayer, approve_signed(job, M0, FAR, forged))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: wallet });
    // A wallet that revoked the signature refuses it too.
    let owner = f.evm.account("safe owner");
    let mut revoked = f.evm.clone();
    revoked.send(owner, wallet, EscrowWalletMock::setRevokedCall { revoked_: true }).unwrap();
    revoked
        .send(relayer, f.escrow, approve_signed(job, M0, FAR, signature.clone()))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: wallet });

    let receipt =
        f.call(relayer, approve_signed(job, M0, FAR, signature)).expect("EIP-1271 approval");
    assert!(receipt.event::<MilestoneEscrow::MilestoneApproved>().bySignature);
    // The consumed nonce is the wallet's, logged under the wallet's address.
    let used = receipt.event::<MilestoneEscrow::SignatureNonceUsed>();
    assert_eq!(
        (used.jobId, used.signer, used.milestoneIndex, used.nonce),
        (job, wallet, M0, wallet_nonce)
    );
    assert_eq!(f.balance(NATIVE, worker) - before, units(18, 1));
    assert_eq!(f.nonce(wallet), U256::from(1));
}

#[test]
fn contract_client_settles_through_eip1271() {
    let mut f = Fixture::new();
    let (wallet, job) = wallet_client_job(&mut f);
    let worker = f.worker;
    let wallet_before = f.balance(NATIVE, wallet);
    let signature = f.sign_settlement("safe owner", job, U256::from(1), 7_500, U256::ZERO, FAR);
    let receipt = f
        .call(worker, settle(job, U256::from(1), 7_500, FAR, signature, no_signature()))
        .expect("EIP-1271 settlement");
    // Only the wallet's signature was checked: one nonce consumed, the wallet's.
    let used = receipt.event::<MilestoneEscrow::SignatureNonceUsed>();
    assert_eq!(
        (used.jobId, used.signer, used.milestoneIndex, used.nonce),
        (job, wallet, U256::from(1), U256::ZERO)
    );
    assert_eq!(f.nonce(wallet), U256::from(1));
    // The wallet's quarter of 2 rBTC reaches it (its receive() accepts native within the gas cap).
    assert_eq!(f.balance(NATIVE, wallet) - wallet_before, units(18, 2) / U256::from(4));
    assert_eq!(f.owed(NATIVE, wallet), U256::ZERO);
}

/// What a relayer knows from logs alone: the next nonce of every signer it saw.
#[derive(Default)]
struct NonceFollower {
    next: BTreeMap<Address, U256>,
}

impl NonceFollower {
    /// Reads a transaction's logs; each consumed nonce must be the signer's next one.
    fn follow(&mut self, logs: &[Log]) -> Vec<(Address, U256)> {
        let mut used: Vec<(Address, U256)> =
            decode_events::<MilestoneEscrow::SignatureNonceUsed>(logs)
                .into_iter()
                .map(|event| (event.signer, event.nonce))
                .collect();
        used.extend(
            decode_events::<MilestoneEscrow::NonceInvalidated>(logs)
                .into_iter()
                .map(|event| (event.signer, event.nonce)),
        );
        for &(signer, nonce) in &used {
            let next = self.next.entry(signer).or_default();
            assert_eq!(nonce, *next, "nonces are consumed in order");
            *next = nonce + U256::from(1);
        }
        used
    }
}

/// `label` signs `digest` with the harness key (alloy's signer; the digests are checked against
/// MetaMask's above).
fn sign_local(f: &Fixture, label: &str, digest: alloy::primitives::B256) -> Bytes {
    f.evm.signer(label).sign_hash_sync(&digest).expect("signs").as_bytes().to_vec().into()
}

#[test]
fn every_consumed_nonce_is_logged_so_relayers_follow_nonces_from_events() {
    let mut f = Fixture::new();
    let usd = f.usd;
    let job = f.active_job(usd, &[units(6, 10), units(6, 20), units(6, 30), units(6, 40)]);
    let (escrow, chain, client, worker, relayer) =
        (f.escrow, f.evm.chain_id(), f.client, f.worker, f.relayer);
    let mut follower = NonceFollower::default();
    let approval = |index: u64, nonce: u64| {
        Approval {
            jobId: job,
            milestoneIndex: U256::from(index),
            nonce: U256::from(nonce),
            deadline: U256::from(FAR),
        }
        .signing_hash(chain, escrow)
    };
    let settlement = |index: u64, bps: u64, nonce: u64| {
        Settlement {
            jobId: job,
            milestoneIndex: U256::from(index),
            workerBps: U256::from(bps),
            nonce: U256::from(nonce),
            deadline: U256::from(FAR),
        }
        .signing_hash(chain, escrow)
    };

    // A signed approval relayed by a third party: the client's nonce 0.
    f.submit(job, 0);
    let signature = sign_local(&f, "client", approval(0, 0));
    let receipt = f.call(relayer, approve_signed(job, M0, FAR, signature)).unwrap();
    let used = receipt.event::<MilestoneEscrow::SignatureNonceUsed>();
    assert_eq!(
        (used.jobId, used.signer, used.milestoneIndex, used.nonce),
        (job, client, M0, U256::ZERO)
    );
    assert_eq!(follower.follow(&receipt.logs), vec![(client, U256::ZERO)]);

    // The client burns nonce 1.
    let receipt = f.call(client, MilestoneEscrow::invalidateNonceCall {}).unwrap();
    assert_eq!(follower.follow(&receipt.logs), vec![(client, U256::from(1))]);

    // A settlement relayed with both signatures: the client's nonce 2 then the worker's 0.
    let client_sig = sign_local(&f, "client", settlement(1, 6_000, 2));
    let worker_sig = sign_local(&f, "worker", settlement(1, 6_000, 0));
    let receipt =
        f.call(relayer, settle(job, U256::from(1), 6_000, FAR, client_sig, worker_sig)).unwrap();
    let used = receipt.events::<MilestoneEscrow::SignatureNonceUsed>();
    assert!(used.iter().all(|e| e.jobId == job && e.milestoneIndex == U256::from(1)));
    assert_eq!(follower.follow(&receipt.logs), vec![(client, U256::from(2)), (worker, U256::ZERO)]);

    // The worker settles by calling: only the client's signature (nonce 3) is consumed.
    let client_sig = sign_local(&f, "client", settlement(2, 5_000, 3));
    let receipt =
        f.call(worker, settle(job, U256::from(2), 5_000, FAR, client_sig, no_signature())).unwrap();
    assert_eq!(follower.follow(&receipt.logs), vec![(client, U256::from(3))]);

    // The client settles by calling: only the worker's (nonce 1).
    let worker_sig = sign_local(&f, "worker", settlement(3, 0, 1));
    let receipt =
        f.call(client, settle(job, U256::from(3), 0, FAR, no_signature(), worker_sig)).unwrap();
    assert_eq!(follower.follow(&receipt.logs), vec![(worker, U256::from(1))]);

    // The events alone give the contract's nonces.
    for signer in [client, worker] {
        assert_eq!(follower.next[&signer], f.nonce(signer));
    }
}
