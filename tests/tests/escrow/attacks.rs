//! Hostile parties and tokens: re-entrant recipients and tokens, reverting and gas-burning
//! payees, blocklisting tokens, short-paying and false-returning tokens. None of them can be paid
//! twice, take another milestone's funds or block the other party.

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::{SolCall, SolError, SolValue},
};
use shiftpay_bindings::escrow::{MilestoneEscrow, MilestoneState};
use shiftpay_tests::{
    Evm, Receipt, TxError,
    mocks::{FalseReturningERC20, FeeOnTransferERC20},
};

use crate::fixture::{
    EscrowBlocklistToken, EscrowHostileParty, EscrowReentrantToken, ExpectRevert, Fixture, NATIVE,
    REVIEW, units,
};

const M0: U256 = U256::ZERO;

/// `EscrowHostileParty.Mode` values.
const ACCEPT: u8 = 0;
const REVERT: u8 = 1;
const BURN_GAS: u8 = 2;
const REENTER: u8 = 3;

/// A hostile contract party controlled by the EOA "mallory".
struct Hostile {
    address: Address,
    owner: Address,
}

impl Hostile {
    fn deploy(evm: &mut Evm) -> Self {
        let owner = evm.account("mallory");
        let address = evm
            .deploy(owner, [EscrowHostileParty::BYTECODE.as_ref(), &owner.abi_encode()].concat())
            .expect("hostile party deploys");
        Self { address, owner }
    }

    fn configure(&self, evm: &mut Evm, mode: u8, target: Address, data: Bytes) {
        evm.send(
            self.owner,
            self.address,
            EscrowHostileParty::configureCall { mode_: mode, target_: target, reentryData_: data },
        )
        .expect("configure");
    }

    /// The hostile contract calls the escrow with `call` (and `value` wei).
    fn exec<C: SolCall>(
        &self,
        f: &mut Fixture,
        value: U256,
        call: C,
    ) -> Result<Receipt<Bytes>, TxError> {
        let escrow = f.escrow;
        f.evm.send_value(
            self.owner,
            self.address,
            value,
            EscrowHostileParty::executeCall { to: escrow, value, data: call.abi_encode().into() },
        )
    }
}

/// The re-entry attempts the hostile contract reported in a transaction's logs.
fn reentry_attempts<T>(receipt: &Receipt<T>) -> Vec<(bool, Bytes)> {
    receipt
        .events::<EscrowHostileParty::ReentryAttempted>()
        .into_iter()
        .map(|event| (event.succeeded, event.returnData))
        .collect()
}

fn reentrancy_error() -> Bytes {
    MilestoneEscrow::ReentrancyGuardReentrantCall {}.abi_encode().into()
}

/// A native job of (1, 2) rBTC from the fixture's client to the hostile worker, accepted, with
/// milestone 0 submitted.
fn job_for_hostile_worker(f: &mut Fixture, hostile: &Hostile) -> U256 {
    let mut params = f.params(NATIVE, &[units(18, 1), units(18, 2)]);
    params.worker = hostile.address;
    let job = f.create(params, 2);
    hostile
        .exec(f, U256::ZERO, MilestoneEscrow::acceptJobCall { jobId: job })
        .expect("hostile accepts");
    hostile
        .exec(
            f,
            U256::ZERO,
            MilestoneEscrow::submitCall {
                jobId: job,
                milestoneIndex: M0,
                deliverableHash: Default::default(),
            },
        )
        .expect("hostile submits");
    job
}

#[test]
fn reverting_native_worker_is_credited_and_withdraws_elsewhere() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    hostile.configure(&mut f.evm, REVERT, Address::ZERO, Bytes::new());
    let job = job_for_hostile_worker(&mut f, &hostile);
    let client = f.client;

    let receipt = f
        .call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .expect("approval is not blocked");
    let deferred = receipt.event::<MilestoneEscrow::PaymentDeferred>();
    assert_eq!(
        (deferred.jobId, deferred.account, deferred.token, deferred.amount),
        (job, hostile.address, NATIVE, units(18, 1))
    );
    assert_eq!(f.state(job, 0), MilestoneState::Released);
    assert_eq!(f.balance(NATIVE, hostile.address), U256::ZERO);
    assert_eq!(f.owed(NATIVE, hostile.address), units(18, 1));
    assert_eq!(f.balance(NATIVE, f.escrow), units(18, 3), "the credit stays in the escrow");

    // The contract names another address to receive what it is owed.
    let owner_before = f.balance(NATIVE, hostile.owner);
    let owner = hostile.owner;
    let receipt = hostile
        .exec(&mut f, U256::ZERO, MilestoneEscrow::withdrawCall { token: NATIVE, to: owner })
        .expect("withdraw");
    let event = receipt.event::<MilestoneEscrow::DeferredPaymentWithdrawn>();
    assert_eq!(
        (event.account, event.token, event.to, event.amount),
        (hostile.address, NATIVE, owner, units(18, 1))
    );
    assert_eq!(f.balance(NATIVE, owner) - owner_before, units(18, 1));
    assert_eq!(f.owed(NATIVE, hostile.address), U256::ZERO);
    assert_eq!(f.balance(NATIVE, f.escrow), units(18, 2));
}

#[test]
fn withdraw_rejects_nothing_owed_and_the_zero_address() {
    let mut f = Fixture::new();
    let (worker, usd) = (f.worker, f.usd);
    f.call(worker, MilestoneEscrow::withdrawCall { token: usd, to: worker })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_NothingToWithdraw {
            token: usd,
            account: worker,
        });
    f.call(worker, MilestoneEscrow::withdrawCall { token: usd, to: Address::ZERO })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidRecipient {});
}

#[test]
fn withdraw_to_the_escrow_itself_is_refused_and_the_credit_kept() {
    let mut f = Fixture::new();
    let deployer = f.evm.account("deployer");
    let token = f.evm.deploy(deployer, EscrowBlocklistToken::BYTECODE.clone()).unwrap();
    let (client, worker, escrow) = (f.client, f.worker, f.escrow);
    f.evm
        .send(client, token, EscrowBlocklistToken::mintCall { to: client, amount: units(6, 100) })
        .unwrap();
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::approveCall { spender: escrow, value: U256::MAX },
        )
        .unwrap();
    let job = f.active_job(token, &[units(6, 100)]);
    f.submit(job, 0);
    // The worker is blocklisted when paid: the ERC-20 payout is deferred to a credit.
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::setBlockedCall { account: worker, isBlocked: true },
        )
        .unwrap();
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.owed(token, worker), units(6, 100));

    // Withdrawn to the escrow, the tokens would stay there credited to no one.
    f.call(worker, MilestoneEscrow::withdrawCall { token, to: escrow })
        .reverted()
        .expect_error(MilestoneEscrow::MilestoneEscrow_InvalidRecipient {});
    assert_eq!(f.owed(token, worker), units(6, 100), "the credit is kept");
    assert_eq!(f.balance(token, escrow), units(6, 100));

    let cold = f.evm.account("worker cold wallet");
    f.call(worker, MilestoneEscrow::withdrawCall { token, to: cold }).expect("withdraw elsewhere");
    assert_eq!(f.balance(token, cold), units(6, 100));
    assert_eq!(f.owed(token, worker), U256::ZERO);
}

#[test]
fn gas_burning_worker_costs_the_caller_little() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    hostile.configure(&mut f.evm, BURN_GAS, Address::ZERO, Bytes::new());
    let job = job_for_hostile_worker(&mut f, &hostile);
    let relayer = f.relayer;
    f.warp(f.now() + REVIEW + 1);
    let receipt = f
        .call(relayer, MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 })
        .expect("release");
    assert!(receipt.gas_used < 150_000, "gas-burning recipient cost {} gas", receipt.gas_used);
    assert_eq!(f.owed(NATIVE, hostile.address), units(18, 1));
}

#[test]
fn reverting_client_cannot_block_the_worker() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    hostile.configure(&mut f.evm, REVERT, Address::ZERO, Bytes::new());
    let params = f.params(NATIVE, &[units(18, 2), units(18, 4)]);
    let create = MilestoneEscrow::createJobCall { params, fundCount: U256::from(2) };
    let receipt = hostile.exec(&mut f, units(18, 6), create).expect("hostile client creates a job");
    let job = MilestoneEscrow::createJobCall::abi_decode_returns(&receipt.ret).unwrap();
    f.accept(job);
    f.submit(job, 0);
    hostile
        .exec(&mut f, U256::ZERO, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 })
        .unwrap();

    let (worker, arbiter) = (f.worker, f.arbiter);
    let (worker_before, arbiter_before) = (f.balance(NATIVE, worker), f.balance(NATIVE, arbiter));
    f.call(
        arbiter,
        MilestoneEscrow::resolveCall {
            jobId: job,
            milestoneIndex: M0,
            workerBps: U256::from(5_000),
        },
    )
    .expect("ruling is not blocked by the client");
    // 2 rBTC, 5% fee = 0.1; 0.95 each.
    let share = units(18, 95) / U256::from(100);
    assert_eq!(f.balance(NATIVE, worker) - worker_before, share);
    assert_eq!(f.balance(NATIVE, arbiter) - arbiter_before, units(18, 1) / U256::from(10));
    assert_eq!(f.owed(NATIVE, hostile.address), share);

    // Resigning refunds to the reverting client as a credit; the worker is not stuck either.
    let receipt =
        f.call(worker, MilestoneEscrow::resignCall { jobId: job }).expect("resign is not blocked");
    assert_eq!(receipt.event::<MilestoneEscrow::PaymentDeferred>().amount, units(18, 4));
    assert_eq!(f.owed(NATIVE, hostile.address), share + units(18, 4));
}

#[test]
fn reentrant_worker_is_paid_exactly_once() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    let job = job_for_hostile_worker(&mut f, &hostile);
    // On payment, try to release the same milestone again.
    let again =
        MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 }.abi_encode();
    let escrow = f.escrow;
    hostile.configure(&mut f.evm, REENTER, escrow, again.into());
    f.warp(f.now() + REVIEW + 1);
    let relayer = f.relayer;
    let receipt = f
        .call(relayer, MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 })
        .expect("release");

    assert_eq!(reentry_attempts(&receipt), vec![(false, reentrancy_error())]);
    assert_eq!(f.balance(NATIVE, hostile.address), units(18, 1), "paid once");
    assert_eq!(f.owed(NATIVE, hostile.address), U256::ZERO);
    assert_eq!(f.balance(NATIVE, f.escrow), units(18, 2), "milestone 1 untouched");
    assert_eq!(f.state(job, 1), MilestoneState::Funded);
}

#[test]
fn reentrant_client_is_refunded_exactly_once() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    let params = f.params(NATIVE, &[units(18, 1), units(18, 2)]);
    let create = MilestoneEscrow::createJobCall { params, fundCount: U256::from(2) };
    let receipt = hostile.exec(&mut f, units(18, 3), create).unwrap();
    let job = MilestoneEscrow::createJobCall::abi_decode_returns(&receipt.ret).unwrap();
    // A second, honest job whose funds the attacker would like to drain.
    let honest = f.params(NATIVE, &[units(18, 5)]);
    f.create(honest, 1);

    let escrow = f.escrow;
    let again = MilestoneEscrow::withdrawOfferCall { jobId: job }.abi_encode();
    hostile.configure(&mut f.evm, REENTER, escrow, again.into());
    let before = f.balance(NATIVE, hostile.address);
    let receipt = hostile
        .exec(&mut f, U256::ZERO, MilestoneEscrow::withdrawOfferCall { jobId: job })
        .expect("withdraw offer");
    assert_eq!(reentry_attempts(&receipt), vec![(false, reentrancy_error())]);
    assert_eq!(f.balance(NATIVE, hostile.address) - before, units(18, 3));
    assert_eq!(f.balance(NATIVE, f.escrow), units(18, 5), "the honest job's funds stay");
}

#[test]
fn reentrant_token_cannot_reenter_during_funding_or_payout() {
    let mut f = Fixture::new();
    let deployer = f.evm.account("deployer");
    let token = f.evm.deploy(deployer, EscrowReentrantToken::BYTECODE.clone()).unwrap();
    let client = f.client;
    let escrow = f.escrow;
    f.evm
        .send(client, token, EscrowReentrantToken::mintCall { to: client, amount: units(18, 100) })
        .unwrap();
    f.evm
        .send(
            client,
            token,
            EscrowReentrantToken::approveCall { spender: escrow, value: U256::MAX },
        )
        .unwrap();
    let params = f.params(token, &[units(18, 10), units(18, 20)]);
    let job = f.create(params, 1);
    f.accept(job);
    f.submit(job, 0);

    // During funding (transferFrom), the token tries to withdraw the offer... of a job it funds.
    let attack = MilestoneEscrow::cancelCall { jobId: job }.abi_encode();
    f.evm
        .send(
            client,
            token,
            EscrowReentrantToken::armCall { target_: escrow, reentryData_: attack.into() },
        )
        .unwrap();
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::from(1), count: U256::from(1) },
    )
    .expect("fund");
    let revert = f.evm.view(token, EscrowReentrantToken::lastReentryRevertCall {}).unwrap();
    assert_eq!(revert, reentrancy_error());

    // During the payout (transfer), it tries to approve the same milestone again.
    let attack =
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 }.abi_encode();
    f.evm
        .send(
            client,
            token,
            EscrowReentrantToken::armCall { target_: escrow, reentryData_: attack.into() },
        )
        .unwrap();
    let worker = f.worker;
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .expect("approve");
    let attempts = f.evm.view(token, EscrowReentrantToken::reentryAttemptsCall {}).unwrap();
    let succeeded = f.evm.view(token, EscrowReentrantToken::lastReentrySucceededCall {}).unwrap();
    let revert = f.evm.view(token, EscrowReentrantToken::lastReentryRevertCall {}).unwrap();
    assert_eq!((attempts, succeeded, revert), (U256::from(2), false, reentrancy_error()));
    assert_eq!(f.balance(token, worker), units(18, 10), "paid once");
    assert_eq!(f.balance(token, escrow), units(18, 20));
    assert_eq!(f.state(job, 1), MilestoneState::Funded, "the cancel attempt changed nothing");
}

#[test]
fn blocklisted_payee_does_not_block_the_other_party() {
    let mut f = Fixture::new();
    let deployer = f.evm.account("deployer");
    let token = f.evm.deploy(deployer, EscrowBlocklistToken::BYTECODE.clone()).unwrap();
    let (client, worker, arbiter, escrow) = (f.client, f.worker, f.arbiter, f.escrow);
    f.evm
        .send(client, token, EscrowBlocklistToken::mintCall { to: client, amount: units(6, 1_000) })
        .unwrap();
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::approveCall { spender: escrow, value: U256::MAX },
        )
        .unwrap();
    let job = f.active_job(token, &[units(6, 100), units(6, 100)]);
    f.submit(job, 0);
    f.call(client, MilestoneEscrow::disputeCall { jobId: job, milestoneIndex: M0 }).unwrap();

    // The client is blocklisted: the ruling still pays the worker and the arbiter.
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::setBlockedCall { account: client, isBlocked: true },
        )
        .unwrap();
    let receipt = f
        .call(
            arbiter,
            MilestoneEscrow::resolveCall {
                jobId: job,
                milestoneIndex: M0,
                workerBps: U256::from(5_000),
            },
        )
        .expect("ruling goes through");
    assert_eq!(receipt.event::<MilestoneEscrow::PaymentDeferred>().account, client);
    assert_eq!(f.balance(token, worker), units(6, 475) / U256::from(10));
    assert_eq!(f.balance(token, arbiter), units(6, 5));
    assert_eq!(f.owed(token, client), units(6, 475) / U256::from(10));

    // The client withdraws to another address of theirs; later, once unblocked, to itself.
    let cold = f.evm.account("client cold wallet");
    f.call(client, MilestoneEscrow::withdrawCall { token, to: cold }).expect("withdraw elsewhere");
    assert_eq!(f.balance(token, cold), units(6, 475) / U256::from(10));

    // The worker is blocklisted: approval still closes the milestone and credits them.
    f.submit(job, 1);
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::setBlockedCall { account: worker, isBlocked: true },
        )
        .unwrap();
    f.call(
        client,
        MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: U256::from(1) },
    )
    .expect("approve");
    assert_eq!(f.owed(token, worker), units(6, 100));
    f.call(worker, MilestoneEscrow::withdrawCall { token, to: worker })
        .reverted()
        .expect_error(EscrowBlocklistToken::EscrowBlocklistToken_Blocked { account: worker });
    f.evm
        .send(
            client,
            token,
            EscrowBlocklistToken::setBlockedCall { account: worker, isBlocked: false },
        )
        .unwrap();
    f.call(worker, MilestoneEscrow::withdrawCall { token, to: worker })
        .expect("withdraw once unblocked");
    assert_eq!(f.balance(token, worker), units(6, 475) / U256::from(10) + units(6, 100));
    assert_eq!(f.balance(token, escrow), U256::ZERO);
}

#[test]
fn short_paying_token_is_rejected() {
    let mut f = Fixture::new();
    let deployer = f.evm.account("deployer");
    let token = f.evm.deploy(deployer, FeeOnTransferERC20::BYTECODE.clone()).unwrap();
    let (client, escrow) = (f.client, f.escrow);
    f.evm
        .send(client, token, FeeOnTransferERC20::mintCall { to: client, amount: units(18, 100) })
        .unwrap();
    f.evm
        .send(client, token, FeeOnTransferERC20::approveCall { spender: escrow, value: U256::MAX })
        .unwrap();
    let params = f.params(token, &[units(18, 10)]);
    f.try_create(params.clone(), 1).reverted().expect_error(
        MilestoneEscrow::Transfers_AmountMismatch {
            token,
            expected: units(18, 10),
            received: units(18, 10) * U256::from(99) / U256::from(100),
        },
    );
    // Unfunded creation works, but funding later is rejected the same way.
    let job = f.create(params, 0);
    f.call(
        client,
        MilestoneEscrow::fundCall { jobId: job, from: U256::ZERO, count: U256::from(1) },
    )
    .reverted()
    .expect_selector::<MilestoneEscrow::Transfers_AmountMismatch>();
    assert_eq!(f.state(job, 0), MilestoneState::Unfunded);
}

#[test]
fn false_returning_token_works_and_fails_loudly() {
    let mut f = Fixture::new();
    let deployer = f.evm.account("deployer");
    let token = f.evm.deploy(deployer, FalseReturningERC20::BYTECODE.clone()).unwrap();
    let (client, worker, escrow) = (f.client, f.worker, f.escrow);
    f.evm
        .send(client, token, FalseReturningERC20::mintCall { to: client, amount: units(18, 100) })
        .unwrap();
    let params = f.params(token, &[units(18, 10)]);
    // No allowance: the token returns false, SafeERC20 turns it into a revert.
    f.try_create(params.clone(), 1)
        .reverted()
        .expect_error(MilestoneEscrow::SafeERC20FailedOperation { token });
    f.evm
        .send(
            client,
            token,
            FalseReturningERC20::approveCall { spender: escrow, amount: U256::MAX },
        )
        .unwrap();
    let job = f.create(params, 1);
    f.accept(job);
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.balance(token, worker), units(18, 10));
}

#[test]
fn accepting_contract_worker_is_paid_directly() {
    let mut f = Fixture::new();
    let hostile = Hostile::deploy(&mut f.evm);
    hostile.configure(&mut f.evm, ACCEPT, Address::ZERO, Bytes::new());
    let job = job_for_hostile_worker(&mut f, &hostile);
    let client = f.client;
    f.call(client, MilestoneEscrow::approveMilestoneCall { jobId: job, milestoneIndex: M0 })
        .unwrap();
    assert_eq!(f.balance(NATIVE, hostile.address), units(18, 1));
}

#[test]
fn a_starved_native_payout_reverts_instead_of_deferring() {
    // A caller giving the release too little gas for the payout's full gas cap must not be able
    // to force the worker into a deferred payment: the call reverts, nothing changes.
    let mut f = Fixture::new();
    let job = f.active_job(NATIVE, &[units(18, 1)]);
    f.submit(job, 0);
    let end = f.window_end(job, 0);
    f.warp(end + 1);
    let starver = Hostile::deploy(&mut f.evm);
    let release = MilestoneEscrow::releaseAfterReviewCall { jobId: job, milestoneIndex: M0 };
    let escrow = f.escrow;
    let starved = f.evm.send(
        starver.owner,
        starver.address,
        EscrowHostileParty::executeWithGasCall {
            to: escrow,
            gasLimit: U256::from(75_000),
            data: release.abi_encode().into(),
        },
    );
    let err = starved.reverted();
    let inner = err
        .decode::<EscrowHostileParty::EscrowHostileParty_CallFailed>()
        .expect("wrapped revert")
        .reason;
    let insufficient = MilestoneEscrow::MilestoneEscrow_InsufficientGas::abi_decode(&inner)
        .expect("the escrow refused for lack of gas");
    assert!(insufficient.gasLeft < insufficient.needed);
    assert_eq!(f.state(job, 0), MilestoneState::Submitted);
    assert_eq!(f.owed(NATIVE, f.worker), U256::ZERO);

    // With enough gas the same call pays the worker directly.
    let worker = f.worker;
    let before = f.balance(NATIVE, worker);
    f.evm
        .send(
            starver.owner,
            starver.address,
            EscrowHostileParty::executeWithGasCall {
                to: escrow,
                gasLimit: U256::from(200_000),
                data: release.abi_encode().into(),
            },
        )
        .expect("enough gas");
    assert_eq!(f.balance(NATIVE, worker) - before, units(18, 1));
}
