//! Gasless withdrawals: EIP-712 `WithdrawRequest`s signed by the worker (EOA via the harness's
//! alloy signer, contract wallet via EIP-1271) and submitted by a relayer; nonce, deadline,
//! signer and replay checks. Independent-implementation cross-checks live in `eip712*` modules.

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use shiftpay_bindings::payroll::{self, Payroll, WithdrawRequest};

use crate::unit_fixture::{ExpectRevert, Fixture, MockERC1271Wallet, NATIVE, e, units};

fn sign(f: &Fixture, signer: &PrivateKeySigner, request: &WithdrawRequest) -> Bytes {
    let digest = request.signing_hash(f.evm.chain_id(), f.payroll);
    Bytes::from(signer.sign_hash_sync(&digest).expect("signs").as_bytes().to_vec())
}

fn submit(
    f: &mut Fixture,
    request: &WithdrawRequest,
    signature: Bytes,
) -> Result<shiftpay_tests::Receipt<Payroll::withdrawWithSignatureReturn>, shiftpay_tests::TxError>
{
    let call = Payroll::withdrawWithSignatureCall { request: request.clone().into(), signature };
    f.evm.send(f.relayer, f.payroll, call)
}

/// A funded native stream that earned 100e15 wei.
fn setup() -> (Fixture, U256) {
    let mut f = Fixture::new();
    f.deposit(NATIVE, units(18, 1));
    let id = f.create(NATIVE, e(15), 0, 0);
    f.evm.skip(100);
    (f, id)
}

fn request(f: &Fixture, id: U256, to: Address, amount: u128, nonce: u64) -> WithdrawRequest {
    WithdrawRequest {
        streamId: id,
        to,
        amount: U256::from(amount),
        nonce: U256::from(nonce),
        deadline: U256::from(f.now() + 3_600),
    }
}

#[test]
fn domain_and_digest_match_the_bindings() {
    let (mut f, id) = setup();
    let separator = f.evm.view(f.payroll, Payroll::DOMAIN_SEPARATORCall {}).expect("view");
    assert_eq!(separator, payroll::eip712_domain(f.evm.chain_id(), f.payroll).separator());
    let typehash = f.evm.view(f.payroll, Payroll::WITHDRAW_REQUEST_TYPEHASHCall {}).expect("view");
    assert_eq!(typehash, alloy::primitives::keccak256(WithdrawRequest::TYPE_STRING));
    let req = request(&f, id, f.worker, 5, 0);
    let digest = f
        .evm
        .view(f.payroll, Payroll::hashWithdrawRequestCall { request: req.clone().into() })
        .expect("view");
    assert_eq!(digest, req.signing_hash(f.evm.chain_id(), f.payroll));
    let domain = f.evm.view(f.payroll, Payroll::eip712DomainCall {}).expect("eip712Domain");
    assert_eq!(domain.name, payroll::EIP712_NAME);
    assert_eq!(domain.version, payroll::EIP712_VERSION);
    assert_eq!(domain.chainId, U256::from(f.evm.chain_id()));
    assert_eq!(domain.verifyingContract, f.payroll);
}

#[test]
fn relayer_submits_a_worker_signed_withdrawal() {
    let (mut f, id) = setup();
    let signer = f.evm.signer("worker");
    let to = f.evm.account("cold wallet");
    let req = request(&f, id, to, 60 * e(15), 0);
    let signature = sign(&f, &signer, &req);
    let before = f.evm.balance(to);
    let relayer_before = f.evm.balance(f.relayer);

    let receipt = submit(&mut f, &req, signature.clone()).expect("signed withdrawal");
    let executed = receipt.event::<Payroll::SignedWithdrawalExecuted>();
    assert_eq!(
        (executed.streamId, executed.worker, executed.relayer, executed.nonce),
        (id, f.worker, f.relayer, U256::ZERO)
    );
    let withdrawn = receipt.event::<Payroll::Withdrawn>();
    assert_eq!(
        (withdrawn.to, withdrawn.caller, withdrawn.amount),
        (to, f.relayer, U256::from(60 * e(15)))
    );
    assert_eq!(f.evm.balance(to) - before, U256::from(60 * e(15)));
    assert_eq!(f.evm.balance(f.relayer), relayer_before);
    assert_eq!(f.withdrawable(id), U256::from(40 * e(15)));
    assert_eq!(
        f.evm.view(f.payroll, Payroll::noncesCall { worker: f.worker }).expect("nonces"),
        U256::from(1)
    );

    // Replay: the nonce is spent.
    submit(&mut f, &req, signature).reverted().expect_error(Payroll::Payroll_InvalidNonce {
        worker: f.worker,
        expected: U256::from(1),
        provided: U256::ZERO,
    });
    // The next nonce works.
    let next = request(&f, id, to, 40 * e(15), 1);
    let signature = sign(&f, &signer, &next);
    submit(&mut f, &next, signature).expect("second signed withdrawal");
    assert_eq!(f.withdrawable(id), U256::ZERO);
}

#[test]
fn signed_withdrawal_revert_paths() {
    let (mut f, id) = setup();
    let worker_signer = f.evm.signer("worker");
    let to = f.worker;

    // Signed by someone else.
    let req = request(&f, id, to, 1, 0);
    let intruder = f.evm.signer("intruder");
    let signature = sign(&f, &intruder, &req);
    submit(&mut f, &req, signature)
        .reverted()
        .expect_error(Payroll::Payroll_InvalidSignature { streamId: id, worker: f.worker });

    // Tampered amount after signing.
    let signature = sign(&f, &worker_signer, &req);
    let mut tampered = req.clone();
    tampered.amount = U256::from(2);
    submit(&mut f, &tampered, signature.clone())
        .reverted()
        .expect_error(Payroll::Payroll_InvalidSignature { streamId: id, worker: f.worker });
    // Garbage signature bytes.
    submit(&mut f, &req, Bytes::from(vec![1u8; 10]))
        .reverted()
        .expect_error(Payroll::Payroll_InvalidSignature { streamId: id, worker: f.worker });

    // Expired: valid up to and including the deadline.
    let mut expiring = req.clone();
    expiring.deadline = U256::from(f.now());
    let signature = sign(&f, &worker_signer, &expiring);
    let mut later = Fixture { evm: f.evm.clone(), ..f };
    later.evm.skip(1);
    submit(&mut later, &expiring, signature.clone()).reverted().expect_error(
        Payroll::Payroll_SignatureExpired {
            deadline: U256::from(f.now()),
            currentTime: U256::from(f.now() + 1),
        },
    );
    submit(&mut f, &expiring, signature).expect("valid at the deadline");

    // Wrong (future) nonce.
    let future = request(&f, id, to, 1, 5);
    let signature = sign(&f, &worker_signer, &future);
    submit(&mut f, &future, signature).reverted().expect_error(Payroll::Payroll_InvalidNonce {
        worker: f.worker,
        expected: U256::from(1),
        provided: U256::from(5),
    });

    // Over the withdrawable amount (validly signed).
    let greedy = request(&f, id, to, 1_000 * e(15), 1);
    let signature = sign(&f, &worker_signer, &greedy);
    submit(&mut f, &greedy, signature).reverted().expect_error(
        Payroll::Payroll_AmountExceedsWithdrawable {
            streamId: id,
            requested: U256::from(1_000 * e(15)),
            withdrawable: U256::from(100 * e(15) - 1),
        },
    );

    // Unknown stream.
    let ghost = request(&f, U256::from(77), to, 1, 1);
    let signature = sign(&f, &worker_signer, &ghost);
    submit(&mut f, &ghost, signature)
        .reverted()
        .expect_error(Payroll::Payroll_StreamNotFound { streamId: U256::from(77) });

    // A signature for another chain id does not verify here.
    let other_chain = request(&f, id, to, 1, 1);
    let digest = other_chain.signing_hash(30, f.payroll);
    let signature =
        Bytes::from(worker_signer.sign_hash_sync(&digest).expect("signs").as_bytes().to_vec());
    submit(&mut f, &other_chain, signature)
        .reverted()
        .expect_error(Payroll::Payroll_InvalidSignature { streamId: id, worker: f.worker });
}

#[test]
fn eip1271_contract_wallet_worker_can_sign() {
    let mut f = Fixture::new();
    let owner = f.evm.signer("wallet owner");
    let init = [
        MockERC1271Wallet::BYTECODE.as_ref(),
        &alloy::sol_types::SolConstructor::abi_encode(&MockERC1271Wallet::constructorCall {
            owner_: owner.address(),
        }),
    ]
    .concat();
    let wallet = f.evm.deploy(f.employer, init).expect("wallet deploys");
    let token = f.token(6);
    f.deposit(token, units(6, 100));
    let id = f.create_for(wallet, token, e(18), 0, 0);
    f.evm.skip(10);

    let req = WithdrawRequest {
        streamId: id,
        to: wallet,
        amount: units(6, 10),
        nonce: U256::ZERO,
        deadline: U256::from(f.now()),
    };
    // The wallet's owner signs; the wallet (the worker) validates via EIP-1271.
    let signature = sign(&f, &owner, &req);
    let receipt = submit(&mut f, &req, signature).expect("EIP-1271 signed withdrawal");
    assert_eq!(receipt.event::<Payroll::SignedWithdrawalExecuted>().worker, wallet);
    assert_eq!(f.evm.token_balance(token, wallet), units(6, 10));

    // A signature the wallet rejects.
    let next = WithdrawRequest { nonce: U256::from(1), ..req };
    let stranger = f.evm.signer("stranger");
    let signature = sign(&f, &stranger, &next);
    submit(&mut f, &next, signature)
        .reverted()
        .expect_error(Payroll::Payroll_InvalidSignature { streamId: id, worker: wallet });
}
