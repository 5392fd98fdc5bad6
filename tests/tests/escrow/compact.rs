//! 64-byte EIP-2098 compact signatures on the escrow's signed paths: approvals and settlements
//! signed by ethers v6 (an implementation independent of the contracts and of MetaMask's) and
//! submitted in their compact `r || vs` encoding are accepted like 65-byte ones; both encodings
//! share the signer's nonce (one replays the other); tampered, foreign and high-s signatures are
//! refused in either encoding, without consuming the nonce.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    sol_types::SolValue,
};
use serde_json::{Value, json};
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};
use shiftpay_tests::{
    Evm,
    external_signer::{self, EthersSignature},
};

use crate::fixture::{ExpectRevert, Fixture, no_signature, units};

const M0: U256 = U256::ZERO;
const FAR: u64 = 4_000_000_000;

fn domain(f: &Fixture) -> Value {
    json!({
        "name": "ShiftPay MilestoneEscrow",
        "version": "1",
        "chainId": f.evm.chain_id(),
        "verifyingContract": f.escrow.to_string(),
    })
}

fn domain_type() -> Value {
    json!([
        { "name": "name", "type": "string" },
        { "name": "version", "type": "string" },
        { "name": "chainId", "type": "uint256" },
        { "name": "verifyingContract", "type": "address" },
    ])
}

/// `label` signs, with ethers, the client's approval of `(job, index)` with `nonce`.
fn sign_approval(f: &Fixture, label: &str, job: U256, index: U256, nonce: U256) -> EthersSignature {
    let typed_data = json!({
        "types": {
            "EIP712Domain": domain_type(),
            "Approval": [
                { "name": "jobId", "type": "uint256" },
                { "name": "milestoneIndex", "type": "uint256" },
                { "name": "nonce", "type": "uint256" },
                { "name": "deadline", "type": "uint256" },
            ],
        },
        "primaryType": "Approval",
        "domain": domain(f),
        "message": {
            "jobId": job.to_string(),
            "milestoneIndex": index.to_string(),
            "nonce": nonce.to_string(),
            "deadline": FAR.to_string(),
        },
    });
    external_signer::sign_typed_data_ethers(Evm::private_key(label), &typed_data)
        .expect("ethers signs (run `npm ci` at the repository root)")
}

/// `label` signs, with ethers, a settlement of `(job, index)` at `worker_bps` with `nonce`.
fn sign_settlement(
    f: &Fixture,
    label: &str,
    job: U256,
    index: U256,
    worker_bps: u64,
    nonce: U256,
) -> EthersSignature {
    let typed_data = json!({
        "types": {
            "EIP712Domain": domain_type(),
            "Settlement": [
                { "name": "jobId", "type": "uint256" },
                { "name": "milestoneIndex", "type": "uint256" },
                { "name": "workerBps", "type": "uint256" },
                { "name": "nonce", "type": "uint256" },
                { "name": "deadline", "type": "uint256" },
            ],
        },
        "primaryType": "Settlement",
        "domain": domain(f),
        "message": {
            "jobId": job.to_string(),
            "milestoneIndex": index.to_string(),
            "workerBps": worker_bps.to_string(),
            "nonce": nonce.to_string(),
            "deadline": FAR.to_string(),
        },
    });
    external_signer::sign_typed_data_ethers(Evm::private_key(label), &typed_data)
        .expect("ethers signs (run `npm ci` at the repository root)")
}

fn approve_signed(
    job: U256,
    index: U256,
    signature: Bytes,
) -> MilestoneEscrow::approveMilestoneWithSignatureCall {
    MilestoneEscrow::approveMilestoneWithSignatureCall {
        jobId: job,
        milestoneIndex: index,
        deadline: U256::from(FAR),
        signature,
    }
}

fn settle(
    job: U256,
    index: U256,
    bps: u64,
    client_sig: Bytes,
    worker_sig: Bytes,
) -> MilestoneEscrow::settleCall {
    MilestoneEscrow::settleCall {
        jobId: job,
        milestoneIndex: index,
        workerBps: U256::from(bps),
        deadline: U256::from(FAR),
        clientSignature: client_sig,
        workerSignature: worker_sig,
    }
}

/// What the `ecrecover` precompile returns for `(digest, v, r, s)` (it accepts high s).
fn ecrecover(f: &mut Fixture, digest: B256, v: u8, r: U256, s: U256) -> Address {
    let caller = f.stranger;
    let input = (digest, U256::from(v), r, s).abi_encode();
    let output = f
        .evm
        .send_raw(caller, Address::with_last_byte(1), U256::ZERO, input.into())
        .expect("the precompile does not revert")
        .ret;
    assert_eq!(output.len(), 32, "ecrecover recovered no address");
    Address::from_slice(&output[12..])
}

#[test]
fn compact_signed_approval_pays_the_worker_and_its_65_byte_form_is_a_replay() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    let (usd, client, worker, relayer) = (f.usd, f.client, f.worker, f.relayer);
    let signed = sign_approval(&f, "client", job, M0, U256::ZERO);
    let digest = f
        .evm
        .view(
            f.escrow,
            MilestoneEscrow::approvalDigestCall {
                jobId: job,
                milestoneIndex: M0,
                nonce: U256::ZERO,
                deadline: U256::from(FAR),
            },
        )
        .expect("approvalDigest");
    assert_eq!(signed.digest, digest, "ethers digest != contract digest");
    assert_eq!(signed.compact.len(), 64);
    let before = f.balance(usd, worker);

    let receipt = f
        .call(relayer, approve_signed(job, M0, signed.compact.clone()))
        .expect("a compact approval is accepted");
    let event = receipt.event::<MilestoneEscrow::MilestoneApproved>();
    assert_eq!((event.jobId, event.client, event.worker), (job, client, worker));
    assert!(event.bySignature);
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
    assert_eq!(f.state(job, 0), MilestoneState::Released);
    assert_eq!(f.nonce(client), U256::from(1));

    // The same approval in its 65-byte encoding signs the spent nonce: refused.
    f.call(relayer, approve_signed(job, M0, signed.signature))
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client });
    assert_eq!(f.balance(usd, worker) - before, units(6, 100));
    assert_eq!(f.nonce(client), U256::from(1));

    // The next approval works in the 65-byte encoding after the compact one.
    f.submit(job, 1);
    let next = sign_approval(&f, "client", job, U256::from(1), U256::from(1));
    f.call(relayer, approve_signed(job, U256::from(1), next.signature))
        .expect("65-byte approval with the next nonce");
    assert_eq!(f.balance(usd, worker) - before, units(6, 300));
}

#[test]
fn compact_signed_settlements_are_accepted() {
    let mut f = Fixture::new();
    let job = f.disputed_job();
    let (usd, client, worker, relayer) = (f.usd, f.client, f.worker, f.relayer);
    let client_sig = sign_settlement(&f, "client", job, M0, 2_500, U256::ZERO);
    let worker_sig = sign_settlement(&f, "worker", job, M0, 2_500, U256::ZERO);
    let before = (f.balance(usd, worker), f.balance(usd, client));

    // A relayer submits both parties' compact signatures.
    f.call(relayer, settle(job, M0, 2_500, client_sig.compact, worker_sig.compact.clone()))
        .expect("compact settlement");
    assert_eq!(f.state(job, 0), MilestoneState::Resolved);
    assert_eq!(f.balance(usd, worker) - before.0, units(6, 25));
    assert_eq!(f.balance(usd, client) - before.1, units(6, 75));
    assert_eq!((f.nonce(client), f.nonce(worker)), (U256::ONE, U256::ONE));

    // Replaying it in the 65-byte encoding moves nothing.
    f.call(relayer, settle(job, M0, 2_500, client_sig.signature, worker_sig.signature)).reverted();
    assert_eq!(f.balance(usd, worker) - before.0, units(6, 25));
    assert_eq!((f.nonce(client), f.nonce(worker)), (U256::ONE, U256::ONE));

    // A party calls with the other's compact signature (worker calls, client signed; milestone 1
    // was never submitted), and a mix of encodings from a relayer (milestone 2).
    let client_sig = sign_settlement(&f, "client", job, U256::from(1), 4_000, U256::ONE);
    f.call(worker, settle(job, U256::from(1), 4_000, client_sig.compact, no_signature()))
        .expect("worker settles with the client's compact signature");
    assert_eq!(f.balance(usd, worker) - before.0, units(6, 25 + 80));
    let client_sig = sign_settlement(&f, "client", job, U256::from(2), 10_000, U256::from(2));
    let worker_sig = sign_settlement(&f, "worker", job, U256::from(2), 10_000, U256::ONE);
    f.call(relayer, settle(job, U256::from(2), 10_000, client_sig.signature, worker_sig.compact))
        .expect("65-byte client and compact worker signatures");
    assert_eq!(f.balance(usd, worker) - before.0, units(6, 25 + 80 + 300));
    assert_eq!((f.nonce(client), f.nonce(worker)), (U256::from(3), U256::from(2)));
}

#[test]
fn tampered_foreign_and_high_s_compact_signatures_are_refused() {
    let mut f = Fixture::new();
    let job = f.submitted_job();
    f.submit(job, 1);
    let (client, worker, relayer) = (f.client, f.worker, f.relayer);
    let invalid = MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: client };
    let signed = sign_approval(&f, "client", job, M0, U256::ZERO);

    // Signed for milestone 0, submitted for milestone 1.
    f.call(relayer, approve_signed(job, U256::from(1), signed.compact.clone()))
        .reverted()
        .expect_error(invalid.clone());
    // One bit flipped: in r, in s, and the parity bit (top bit of vs).
    for (byte, mask) in [(3usize, 0x04u8), (50, 0x01), (32, 0x80)] {
        let mut tampered = signed.compact.to_vec();
        tampered[byte] ^= mask;
        f.call(relayer, approve_signed(job, M0, tampered.into()))
            .reverted()
            .expect_error(invalid.clone());
    }
    // Signed by the worker and by a stranger instead of the client.
    for label in ["worker", "stranger"] {
        let forged = sign_approval(&f, label, job, M0, U256::ZERO);
        f.call(relayer, approve_signed(job, M0, forged.compact))
            .reverted()
            .expect_error(invalid.clone());
    }
    // The malleable twin (r, n - s, v ^ 1) of the client's signature: ecrecover maps it to the
    // client, so only the low-s rule refuses the 65-byte form; its 64-byte form cannot even carry
    // this s (>= 2^255 overlaps the parity bit) and decodes to another signature.
    let (r, high_s, v) = external_signer::high_s_twin(&signed.signature);
    assert!(high_s > external_signer::SECP256K1_HALF_N);
    assert_eq!(ecrecover(&mut f, signed.digest, v, r, high_s), client);
    f.call(relayer, approve_signed(job, M0, external_signer::signature_65(r, high_s, v)))
        .reverted()
        .expect_error(invalid.clone());
    f.call(relayer, approve_signed(job, M0, external_signer::signature_compact(r, high_s, v)))
        .reverted()
        .expect_error(invalid.clone());

    // A settlement split other than the one signed, and a worker signature in the client's place.
    let job2 = f.disputed_job();
    let client_sig = sign_settlement(&f, "client", job2, M0, 6_000, U256::ZERO);
    let worker_sig = sign_settlement(&f, "worker", job2, M0, 6_000, U256::ZERO);
    f.call(
        relayer,
        settle(job2, M0, 6_001, client_sig.compact.clone(), worker_sig.compact.clone()),
    )
    .reverted()
    .expect_error(invalid.clone());
    f.call(
        relayer,
        settle(job2, M0, 6_000, worker_sig.compact.clone(), worker_sig.compact.clone()),
    )
    .reverted()
    .expect_error(invalid);
    let (r, high_s, v) = external_signer::high_s_twin(&worker_sig.signature);
    f.call(
        relayer,
        settle(
            job2,
            M0,
            6_000,
            client_sig.compact.clone(),
            external_signer::signature_65(r, high_s, v),
        ),
    )
    .reverted()
    .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidSignature { signer: worker });

    // Nothing above consumed a nonce: the genuine compact signatures still work.
    assert_eq!((f.nonce(client), f.nonce(worker)), (U256::ZERO, U256::ZERO));
    f.call(relayer, approve_signed(job, M0, signed.compact)).expect("genuine compact approval");
    let client_sig = sign_settlement(&f, "client", job2, M0, 6_000, U256::ONE);
    f.call(relayer, settle(job2, M0, 6_000, client_sig.compact, worker_sig.compact))
        .expect("genuine compact settlement");
}
