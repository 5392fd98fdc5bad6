//! EIP-712 withdraw requests checked against an independent implementation:
//! `@metamask/eth-sig-util` (through `shiftpay_tests::external_signer`) builds the digest and the
//! signature from plain `eth_signTypedData_v4` JSON, written here from the documented type string
//! and domain, not from the Rust bindings.
//!
//! - a request MetaMask's code signed is accepted and pays out;
//! - the digest MetaMask computes equals the contract's `hashWithdrawRequest` and the Rust
//!   typed-data definition in `shiftpay_bindings::payroll` (`WithdrawRequest::signing_hash`);
//! - replayed, expired, wrong-chain, wrong-contract, tampered and wrong-signer requests are rejected;
//! - 64-byte EIP-2098 compact signatures made by ethers (a second independent implementation) are
//!   accepted like 65-byte ones: the two encodings share the nonce (one replays the other), and
//!   tampered or high-s signatures are rejected in either encoding.

use alloy::{
    primitives::{Address, B256, Bytes, U256, aliases::U40, keccak256},
    sol_types::SolValue,
};
use serde_json::{Value, json};
use shiftpay_bindings::payroll::{self as bindings, Payroll, PayrollTypes};
use shiftpay_tests::{Evm, external_signer};

const RATE: u128 = 1_000_000_000_000_000; // 0.001 token per second (18 decimals)

struct Setup {
    evm: Evm,
    payroll: Address,
    token: Address,
    worker: Address,
    relayer: Address,
    stream_id: U256,
}

/// A funded stream of `worker`, one day old.
fn setup() -> Setup {
    let mut evm = Evm::new();
    let deployer = evm.account("eip712 deployer");
    let employer = evm.account("eip712 employer");
    let worker = evm.account("eip712 worker");
    let relayer = evm.account("eip712 relayer");
    let payroll = evm.deploy(deployer, Payroll::BYTECODE.clone()).expect("Payroll deploys");
    let token = evm.deploy_token(deployer, "DAI", 18);
    evm.mint(token, employer, U256::from(10u64).pow(U256::from(24)));
    evm.approve(token, employer, payroll, U256::MAX);
    evm.send(
        employer,
        payroll,
        Payroll::depositCall { token, amount: U256::from(10u64).pow(U256::from(23)) },
    )
    .expect("deposit");
    let stream_id = evm
        .send(
            employer,
            payroll,
            Payroll::createStreamCall {
                worker,
                token,
                rate: RATE,
                start: U40::ZERO,
                end: U40::ZERO,
            },
        )
        .expect("createStream")
        .ret;
    evm.skip(86_400);
    Setup { evm, payroll, token, worker, relayer, stream_id }
}

/// The `eth_signTypedData_v4` payload a wallet would be asked to sign, written out by hand.
fn typed_data(
    chain_id: u64,
    verifying_contract: Address,
    request: &PayrollTypes::WithdrawRequest,
) -> Value {
    json!({
        "types": {
            "EIP712Domain": [
                { "name": "name", "type": "string" },
                { "name": "version", "type": "string" },
                { "name": "chainId", "type": "uint256" },
                { "name": "verifyingContract", "type": "address" }
            ],
            "WithdrawRequest": [
                { "name": "streamId", "type": "uint256" },
                { "name": "to", "type": "address" },
                { "name": "amount", "type": "uint256" },
                { "name": "nonce", "type": "uint256" },
                { "name": "deadline", "type": "uint256" }
            ]
        },
        "primaryType": "WithdrawRequest",
        "domain": {
            "name": "ShiftPay Payroll",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": verifying_contract.to_string()
        },
        "message": {
            "streamId": request.streamId.to_string(),
            "to": request.to.to_string(),
            "amount": request.amount.to_string(),
            "nonce": request.nonce.to_string(),
            "deadline": request.deadline.to_string()
        }
    })
}

/// Signs `request` as `label` with MetaMask's implementation; returns (signature, digest).
fn metamask_sign(
    label: &str,
    chain_id: u64,
    verifying_contract: Address,
    request: &PayrollTypes::WithdrawRequest,
) -> (Bytes, B256) {
    let signed = external_signer::sign_typed_data(
        Evm::private_key(label),
        &typed_data(chain_id, verifying_contract, request),
    )
    .expect("@metamask/eth-sig-util signs (run `npm ci` at the repository root)");
    (signed.signature, signed.digest)
}

fn request(setup: &mut Setup, amount: U256, deadline: u64) -> PayrollTypes::WithdrawRequest {
    let nonce = setup
        .evm
        .view(setup.payroll, Payroll::noncesCall { worker: setup.worker })
        .expect("nonces");
    PayrollTypes::WithdrawRequest {
        streamId: setup.stream_id,
        to: setup.worker,
        amount,
        nonce,
        deadline: U256::from(deadline),
    }
}

fn submit(
    setup: &mut Setup,
    request: &PayrollTypes::WithdrawRequest,
    signature: Bytes,
) -> Result<(), shiftpay_tests::TxError> {
    setup
        .evm
        .send(
            setup.relayer,
            setup.payroll,
            Payroll::withdrawWithSignatureCall { request: request.clone(), signature },
        )
        .map(drop)
}

#[test]
fn metamask_signed_request_is_accepted_and_digests_agree() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let amount = U256::from(RATE) * U256::from(3_600u64);
    let deadline = setup.evm.timestamp() + 600;
    let req = request(&mut setup, amount, deadline);
    let (signature, metamask_digest) =
        metamask_sign("eip712 worker", chain_id, setup.payroll, &req);

    // Three implementations, one digest: MetaMask's, the contract's, the Rust SDK's.
    let contract_digest = setup
        .evm
        .view(setup.payroll, Payroll::hashWithdrawRequestCall { request: req.clone() })
        .expect("hash");
    let sdk_digest =
        bindings::WithdrawRequest::from(req.clone()).signing_hash(chain_id, setup.payroll);
    assert_eq!(
        contract_digest, metamask_digest,
        "contract digest != @metamask/eth-sig-util digest"
    );
    assert_eq!(
        sdk_digest, metamask_digest,
        "shiftpay-bindings digest != @metamask/eth-sig-util digest"
    );

    // The separator and type hash recomputed from the EIP-712 definitions.
    let type_hash = keccak256(bindings::WithdrawRequest::TYPE_STRING);
    assert_eq!(
        setup.evm.view(setup.payroll, Payroll::WITHDRAW_REQUEST_TYPEHASHCall {}).expect("typehash"),
        type_hash
    );
    let domain_type_hash = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
    );
    let separator = keccak256(
        (
            domain_type_hash,
            keccak256("ShiftPay Payroll"),
            keccak256("1"),
            U256::from(chain_id),
            setup.payroll,
        )
            .abi_encode(),
    );
    assert_eq!(
        setup.evm.view(setup.payroll, Payroll::DOMAIN_SEPARATORCall {}).expect("separator"),
        separator
    );

    let before = setup.evm.token_balance(setup.token, setup.worker);
    let receipt = setup
        .evm
        .send(
            setup.relayer,
            setup.payroll,
            Payroll::withdrawWithSignatureCall {
                request: req.clone(),
                signature: signature.clone(),
            },
        )
        .expect("MetaMask-signed request is accepted");
    assert_eq!(setup.evm.token_balance(setup.token, setup.worker), before + amount);
    let executed = receipt.event::<Payroll::SignedWithdrawalExecuted>();
    assert_eq!(
        (executed.worker, executed.relayer, executed.nonce),
        (setup.worker, setup.relayer, U256::ZERO)
    );
    let withdrawn = receipt.event::<Payroll::Withdrawn>();
    assert_eq!(
        (withdrawn.to, withdrawn.caller, withdrawn.amount),
        (setup.worker, setup.relayer, amount)
    );
    assert_eq!(
        setup.evm.view(setup.payroll, Payroll::noncesCall { worker: setup.worker }).unwrap(),
        U256::from(1)
    );

    // Replay: the nonce was consumed.
    let error = submit(&mut setup, &req, signature).expect_err("replay is rejected");
    error.expect_error(Payroll::Payroll_InvalidNonce {
        worker: setup.worker,
        expected: U256::from(1),
        provided: U256::ZERO,
    });

    // A fresh request with the next nonce works again (the rejection was the nonce, nothing else).
    let next = request(&mut setup, amount, deadline);
    let (signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &next);
    submit(&mut setup, &next, signature).expect("next nonce is accepted");
}

#[test]
fn expired_request_is_rejected_and_deadline_is_inclusive() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let now = setup.evm.timestamp();
    let amount = U256::from(RATE);

    let expired = request(&mut setup, amount, now - 1);
    let (signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &expired);
    submit(&mut setup, &expired, signature).expect_err("expired").expect_error(
        Payroll::Payroll_SignatureExpired {
            deadline: U256::from(now - 1),
            currentTime: U256::from(now),
        },
    );

    let last_second = request(&mut setup, amount, now);
    let (signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &last_second);
    submit(&mut setup, &last_second, signature).expect("a request is valid at its deadline");
}

#[test]
fn wrong_chain_wrong_contract_tampered_and_foreign_signatures_are_rejected() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let deadline = setup.evm.timestamp() + 600;
    let amount = U256::from(RATE);
    let req = request(&mut setup, amount, deadline);
    let invalid =
        Payroll::Payroll_InvalidSignature { streamId: setup.stream_id, worker: setup.worker };

    // Signed for Rootstock mainnet (30) while the contract runs on 31337.
    let (signature, _) = metamask_sign("eip712 worker", 30, setup.payroll, &req);
    submit(&mut setup, &req, signature).expect_err("wrong chain").expect_error(invalid.clone());

    // Signed for another deployment: a second Payroll with the same stream id, worker and nonce,
    // so the verifying contract is the only difference.
    let mut other = setup.evm.clone();
    let deployer = other.account("eip712 other deployer");
    let other_payroll = other.deploy(deployer, Payroll::BYTECODE.clone()).expect("second Payroll");
    let (signature, _) = metamask_sign("eip712 worker", chain_id, other_payroll, &req);
    submit(&mut setup, &req, signature.clone())
        .expect_err("wrong contract")
        .expect_error(invalid.clone());

    // Tampered: signed for one amount, submitted with another (or another recipient).
    let (signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &req);
    let mut more = req.clone();
    more.amount = amount * U256::from(2);
    submit(&mut setup, &more, signature.clone())
        .expect_err("tampered amount")
        .expect_error(invalid.clone());
    let mut elsewhere = req.clone();
    elsewhere.to = setup.relayer;
    submit(&mut setup, &elsewhere, signature)
        .expect_err("tampered recipient")
        .expect_error(invalid.clone());

    // Signed by someone other than the stream's worker.
    let (signature, _) = metamask_sign("eip712 relayer", chain_id, setup.payroll, &req);
    submit(&mut setup, &req, signature).expect_err("foreign signer").expect_error(invalid);

    // None of the rejections consumed the nonce; the genuine signature still works.
    let (signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &req);
    submit(&mut setup, &req, signature).expect("genuine request");
}

#[test]
fn signature_for_one_chain_stops_working_after_a_chain_id_change() {
    // OpenZeppelin's EIP712 rebuilds the separator when block.chainid changes (a fork): a request
    // signed for the old chain id must not verify on the new one, and the contract's digest must
    // follow the chain id just like MetaMask's and the SDK's.
    let mut setup = setup();
    let deadline = setup.evm.timestamp() + 600;
    let req = request(&mut setup, U256::from(RATE), deadline);
    let (signature, _) = metamask_sign("eip712 worker", 31_337, setup.payroll, &req);
    setup.evm.set_chain_id(31);
    let (_, testnet_digest) = metamask_sign("eip712 worker", 31, setup.payroll, &req);
    let contract_digest = setup
        .evm
        .view(setup.payroll, Payroll::hashWithdrawRequestCall { request: req.clone() })
        .expect("hash");
    assert_eq!(contract_digest, testnet_digest);
    assert_eq!(
        bindings::WithdrawRequest::from(req.clone()).signing_hash(31, setup.payroll),
        testnet_digest
    );
    submit(&mut setup, &req, signature)
        .expect_err("signed for 31337, executed on 31")
        .expect_error(Payroll::Payroll_InvalidSignature {
            streamId: setup.stream_id,
            worker: setup.worker,
        });
}

/// For arbitrary field values (full 256-bit ranges, any chain id, any verifying contract), the
/// digest of MetaMask's implementation equals the SDK's and the deployed contract's.
///
/// Each case starts Node.js for the external signer, so the case count is fixed at a few dozen
/// through an explicit runner: the `proptest!` macro would let `PROPTEST_CASES` (1,000 in CI, meant
/// for the in-process invariant tests) override it.
#[test]
fn digests_agree_for_arbitrary_requests() {
    use proptest::prelude::any;

    let config = proptest::test_runner::Config {
        cases: 24,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    };
    let fields = (
        any::<[u8; 32]>(),
        any::<[u8; 20]>(),
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        1..u64::from(u32::MAX),
    );
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&fields, |(stream_id, to, amount, nonce, deadline, chain_id)| {
        let mut evm = Evm::new();
        evm.set_chain_id(chain_id);
        let deployer = evm.account("eip712 fuzz deployer");
        let payroll = evm.deploy(deployer, Payroll::BYTECODE.clone()).expect("Payroll deploys");
        let request = PayrollTypes::WithdrawRequest {
            streamId: U256::from_be_bytes(stream_id),
            to: Address::from(to),
            amount: U256::from_be_bytes(amount),
            nonce: U256::from(nonce),
            deadline: U256::from_be_bytes(deadline),
        };
        let (_, metamask_digest) = metamask_sign("eip712 worker", chain_id, payroll, &request);
        let sdk_digest =
            bindings::WithdrawRequest::from(request.clone()).signing_hash(chain_id, payroll);
        let contract_digest =
            evm.view(payroll, Payroll::hashWithdrawRequestCall { request }).expect("hash");
        proptest::prop_assert_eq!(sdk_digest, metamask_digest);
        proptest::prop_assert_eq!(contract_digest, metamask_digest);
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// Signs `request` as `label` with ethers (a second independent implementation); the result
/// carries both the 65-byte and the 64-byte EIP-2098 compact encoding.
fn ethers_sign(
    label: &str,
    chain_id: u64,
    verifying_contract: Address,
    request: &PayrollTypes::WithdrawRequest,
) -> external_signer::EthersSignature {
    external_signer::sign_typed_data_ethers(
        Evm::private_key(label),
        &typed_data(chain_id, verifying_contract, request),
    )
    .expect("ethers signs (run `npm ci` at the repository root)")
}

/// What the `ecrecover` precompile (address 1) returns for `(digest, v, r, s)`: it accepts high-s
/// signatures, unlike the contracts.
fn ecrecover(evm: &mut Evm, digest: B256, v: u8, r: U256, s: U256) -> Address {
    let caller = evm.account("eip712 ecrecover caller");
    let input = (digest, U256::from(v), r, s).abi_encode();
    let output = evm
        .send_raw(caller, Address::with_last_byte(1), U256::ZERO, input.into())
        .expect("the precompile does not revert")
        .ret;
    assert_eq!(output.len(), 32, "ecrecover recovered no address");
    Address::from_slice(&output[12..])
}

#[test]
fn ethers_compact_signature_is_accepted_and_its_65_byte_form_is_then_a_replay() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let amount = U256::from(RATE) * U256::from(600u64);
    let deadline = setup.evm.timestamp() + 600;
    let req = request(&mut setup, amount, deadline);
    let signed = ethers_sign("eip712 worker", chain_id, setup.payroll, &req);
    assert_eq!(signed.compact.len(), 64);

    // ethers' digest is the contract's, and ethers signs like MetaMask (RFC 6979: same r, s, v).
    let contract_digest = setup
        .evm
        .view(setup.payroll, Payroll::hashWithdrawRequestCall { request: req.clone() })
        .expect("hash");
    assert_eq!(signed.digest, contract_digest, "ethers digest != contract digest");
    let (metamask_signature, _) = metamask_sign("eip712 worker", chain_id, setup.payroll, &req);
    assert_eq!(signed.signature, metamask_signature);
    let (r, s, v) = external_signer::split_65(&signed.signature);
    assert_eq!(signed.compact, external_signer::signature_compact(r, s, v));

    let before = setup.evm.token_balance(setup.token, setup.worker);
    let receipt = setup
        .evm
        .send(
            setup.relayer,
            setup.payroll,
            Payroll::withdrawWithSignatureCall {
                request: req.clone(),
                signature: signed.compact.clone(),
            },
        )
        .expect("a 64-byte EIP-2098 signature is accepted");
    assert_eq!(setup.evm.token_balance(setup.token, setup.worker), before + amount);
    let executed = receipt.event::<Payroll::SignedWithdrawalExecuted>();
    assert_eq!(
        (executed.worker, executed.relayer, executed.nonce),
        (setup.worker, setup.relayer, U256::ZERO)
    );
    assert_eq!(receipt.event::<Payroll::Withdrawn>().amount, amount);

    // The same request in its 65-byte encoding (or compact again) is a replay: the nonce is spent.
    let replay = Payroll::Payroll_InvalidNonce {
        worker: setup.worker,
        expected: U256::from(1),
        provided: U256::ZERO,
    };
    submit(&mut setup, &req, signed.signature)
        .expect_err("65-byte replay")
        .expect_error(replay.clone());
    submit(&mut setup, &req, signed.compact).expect_err("compact replay").expect_error(replay);
    assert_eq!(setup.evm.token_balance(setup.token, setup.worker), before + amount);

    // The next request works in either encoding.
    let next = request(&mut setup, amount, deadline);
    let signed = ethers_sign("eip712 worker", chain_id, setup.payroll, &next);
    submit(&mut setup, &next, signed.signature).expect("next nonce, 65-byte");
}

#[test]
fn tampered_compact_signatures_are_rejected() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let deadline = setup.evm.timestamp() + 600;
    let amount = U256::from(RATE);
    let req = request(&mut setup, amount, deadline);
    let invalid =
        Payroll::Payroll_InvalidSignature { streamId: setup.stream_id, worker: setup.worker };
    let compact = ethers_sign("eip712 worker", chain_id, setup.payroll, &req).compact;

    // Signed for one amount, submitted with another.
    let mut more = req.clone();
    more.amount = amount * U256::from(2);
    submit(&mut setup, &more, compact.clone())
        .expect_err("tampered amount")
        .expect_error(invalid.clone());
    // One bit flipped: in r, in s, and the parity bit (top bit of vs).
    for (byte, mask) in [(5usize, 0x01u8), (40, 0x10), (32, 0x80)] {
        let mut tampered = compact.to_vec();
        tampered[byte] ^= mask;
        submit(&mut setup, &req, tampered.into())
            .expect_err("tampered bytes")
            .expect_error(invalid.clone());
    }
    // Neither 63 nor 66 bytes is an encoding.
    submit(&mut setup, &req, compact.slice(..63))
        .expect_err("63 bytes")
        .expect_error(invalid.clone());
    submit(&mut setup, &req, [&compact[..], &[0u8, 0]].concat().into())
        .expect_err("66 bytes")
        .expect_error(invalid.clone());
    // Signed by someone else, compact.
    let foreign = ethers_sign("eip712 relayer", chain_id, setup.payroll, &req).compact;
    submit(&mut setup, &req, foreign).expect_err("foreign signer").expect_error(invalid);

    // Nothing consumed the nonce: the genuine compact signature still works.
    submit(&mut setup, &req, compact).expect("genuine compact signature");
}

#[test]
fn high_s_signatures_are_rejected_in_both_encodings() {
    let mut setup = setup();
    let chain_id = setup.evm.chain_id();
    let deadline = setup.evm.timestamp() + 600;
    let amount = U256::from(RATE);
    let req = request(&mut setup, amount, deadline);
    let signed = ethers_sign("eip712 worker", chain_id, setup.payroll, &req);

    // The worker's own signature's malleable twin (r, n - s, v ^ 1): ecrecover maps it to the
    // worker, so only the low-s rule refuses it.
    let (r, high_s, v) = external_signer::high_s_twin(&signed.signature);
    assert!(high_s > external_signer::SECP256K1_HALF_N);
    assert_eq!(ecrecover(&mut setup.evm, signed.digest, v, r, high_s), setup.worker);
    let invalid =
        Payroll::Payroll_InvalidSignature { streamId: setup.stream_id, worker: setup.worker };
    submit(&mut setup, &req, external_signer::signature_65(r, high_s, v))
        .expect_err("65-byte high s")
        .expect_error(invalid.clone());
    // Its 64-byte encoding: a high s this large (>= 2^255) overlaps the parity bit, so it decodes
    // to another signature, which does not verify either.
    submit(&mut setup, &req, external_signer::signature_compact(r, high_s, v))
        .expect_err("compact twin")
        .expect_error(invalid);
    assert_eq!(
        setup.evm.view(setup.payroll, Payroll::noncesCall { worker: setup.worker }).unwrap(),
        U256::ZERO
    );

    // A compact signature whose vs carries a high s exactly (n/2 < s < 2^255, parity bit clear).
    // No real key signs like that on purpose, so the signer is derived from the signature: the
    // account that ecrecover maps (digest, 27, r, n/2 + 1) to, made the worker of a new stream.
    // Its low-s twin (r, n/2, 28) recovers the same account and must be accepted, so the
    // rejection below is the s rule, nothing else.
    let employer = setup.evm.account("eip712 employer");
    let stream_id =
        setup.evm.view(setup.payroll, Payroll::nextStreamIdCall {}).expect("nextStreamId");
    let req = PayrollTypes::WithdrawRequest {
        streamId: stream_id,
        to: setup.relayer,
        amount,
        nonce: U256::ZERO,
        deadline: U256::from(deadline),
    };
    let digest = setup
        .evm
        .view(setup.payroll, Payroll::hashWithdrawRequestCall { request: req.clone() })
        .expect("hash");
    let high_s = external_signer::SECP256K1_HALF_N + U256::from(1);
    let low_s = external_signer::SECP256K1_N - high_s;
    assert_eq!(low_s, external_signer::SECP256K1_HALF_N);
    let signer = ecrecover(&mut setup.evm, digest, 27, r, high_s);
    assert_eq!(ecrecover(&mut setup.evm, digest, 28, r, low_s), signer);
    let created = setup
        .evm
        .send(
            employer,
            setup.payroll,
            Payroll::createStreamCall {
                worker: signer,
                token: setup.token,
                rate: RATE,
                start: U40::ZERO,
                end: U40::ZERO,
            },
        )
        .expect("createStream")
        .ret;
    assert_eq!(created, stream_id);
    setup.evm.skip(60);
    let invalid = Payroll::Payroll_InvalidSignature { streamId: stream_id, worker: signer };
    let high_compact = external_signer::signature_compact(r, high_s, 27);
    assert_eq!(U256::from_be_slice(&high_compact[32..]), high_s, "vs is s, parity bit clear");
    submit(&mut setup, &req, high_compact)
        .expect_err("compact high s")
        .expect_error(invalid.clone());
    submit(&mut setup, &req, external_signer::signature_65(r, high_s, 27))
        .expect_err("65-byte high s")
        .expect_error(invalid);
    // s = n/2 exactly is the largest accepted: the low-s twin passes, compact then 65-byte replay.
    submit(&mut setup, &req, external_signer::signature_compact(r, low_s, 28))
        .expect("compact low-s twin");
    submit(&mut setup, &req, external_signer::signature_65(r, low_s, 28))
        .expect_err("replay")
        .expect_error(Payroll::Payroll_InvalidNonce {
            worker: signer,
            expected: U256::from(1),
            provided: U256::ZERO,
        });
}
