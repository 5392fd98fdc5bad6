//! Stateful invariant test: random sequences of every payroll operation (deposit, deposit by a
//! third party, create, pause, resume, adjust rate, set end, cancel, withdraw, payout, batched
//! payout, time jumps, treasury withdrawal, donations: tokens or rBTC sent to the contract outside
//! `deposit`), valid and invalid, across two employers, three
//! workers and three tokens (native rBTC, a 6-decimal and an 18-decimal ERC-20), run against the
//! contract and the reference model of [`super::prop_model`] side by side.
//!
//! Every step checks that the contract accepted or rejected the call exactly as the model
//! predicts (same custom error), and then the invariants:
//! - per token, the contract's balance equals the sum of its pools' balances plus what was donated
//!   (so it is never less: with well-behaved tokens, `>=` is the general guarantee, and donations
//!   are credited to no pool), and every pool's balance is exactly its free part plus what its
//!   streams are owed (checked in scaled units);
//! - every view (`poolBalance`, `surplus`, `debt`, `earned`, `withdrawable`, `getStream`) equals the
//!   model's figure;
//! - nothing a worker earned is lost: per stream, withdrawn + earned (withdrawable now plus the part
//!   not covered yet) equals everything accrued, rounded down, and that total never decreases;
//! - withdrawn never exceeds accrued; every payment moves exactly the stated tokens.
//!
//! Cases: `PROPTEST_CASES` (default 1,000) x 50 steps. Each case clones one pre-deployed chain
//! (the harness [`Evm`] is a plain value), so a case costs only its own transactions.

use std::sync::OnceLock;

use alloy::{
    primitives::{Address, U256, aliases::U40},
    sol_types::SolError,
};
use proptest::{prelude::*, test_runner::Config};
use shiftpay_bindings::payroll::Payroll;
use shiftpay_tests::{Evm, TxError, mocks::MockERC20};

use super::prop_model::{Model, Reject, Status};

const EMPLOYERS: usize = 2;
const WORKERS: usize = 3;
/// Token 0 is native rBTC (18 decimals), then a 6- and an 18-decimal ERC-20.
const TOKEN_DECIMALS: [u8; 3] = [18, 6, 18];
const STEPS: usize = 50;
const DAY: u64 = 86_400;
const MONTH: u64 = 30 * DAY;

/// The chain every case starts from: Payroll and the tokens deployed, every party funded, every
/// allowance given.
#[derive(Clone)]
struct World {
    evm: Evm,
    payroll: Address,
    employers: [Address; EMPLOYERS],
    workers: [Address; WORKERS],
    /// Deposits for others, calls what it is not allowed to, receives withdrawals "to" it.
    outsider: Address,
    /// `Address::ZERO` for native.
    tokens: [Address; 3],
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut evm = Evm::new();
        let deployer = evm.account("invariant deployer");
        let payroll = evm.deploy(deployer, Payroll::BYTECODE.clone()).expect("Payroll deploys");
        let employers = [evm.account("invariant employer 0"), evm.account("invariant employer 1")];
        let workers = [
            evm.account("invariant worker 0"),
            evm.account("invariant worker 1"),
            evm.account("invariant worker 2"),
        ];
        let outsider = evm.account("invariant outsider");
        let usdc = evm.deploy_token(deployer, "USDC", 6);
        let dai = evm.deploy_token(deployer, "DAI", 18);
        for token in [usdc, dai] {
            for payer in employers.into_iter().chain([outsider]) {
                evm.mint(token, payer, U256::from(10u64).pow(U256::from(36)));
                evm.approve(token, payer, payroll, U256::MAX);
            }
        }
        World { evm, payroll, employers, workers, outsider, tokens: [Address::ZERO, usdc, dai] }
    })
}

/// One step of a case. Indices are reduced modulo what exists when the step runs.
#[derive(Debug, Clone)]
enum Action {
    Deposit {
        employer: usize,
        token: usize,
        whole_tokens: u64,
        extra_units: u64,
        by_outsider: bool,
    },
    Create {
        employer: usize,
        worker: usize,
        token: usize,
        monthly_tokens: u64,
        jitter: u64,
        start_in: Option<u64>,
        duration: Option<u64>,
        /// 0: zero rate, 1: start in the past, 2: end at the start; anything else: valid.
        invalid: u8,
    },
    Pause {
        stream: usize,
        unauthorized: bool,
    },
    Resume {
        stream: usize,
        unauthorized: bool,
    },
    AdjustRate {
        stream: usize,
        monthly_tokens: u64,
        jitter: u64,
        unauthorized: bool,
    },
    SetEnd {
        stream: usize,
        end_in: Option<u64>,
        unauthorized: bool,
    },
    Cancel {
        stream: usize,
        unauthorized: bool,
    },
    Withdraw {
        stream: usize,
        per_mille: u16,
        over: bool,
        to_outsider: bool,
        by_outsider: bool,
    },
    Payout {
        stream: usize,
    },
    PayoutMany {
        streams: Vec<usize>,
    },
    Skip {
        seconds: u64,
    },
    /// Tokens reach the contract outside `deposit`: an ERC-20 `transfer` to it, or rBTC forced in
    /// (as `selfdestruct` or a block reward would; the contract has no `receive`).
    Donate {
        token: usize,
        whole_tokens: u64,
    },
    WithdrawSurplus {
        employer: usize,
        token: usize,
        per_mille: u16,
        over: bool,
    },
}

fn action() -> impl Strategy<Value = Action> {
    let duration = prop_oneof![3 => Just(None), 1 => (1..90 * DAY).prop_map(Some)];
    let start_in = prop_oneof![4 => Just(None), 1 => (0..10 * DAY).prop_map(Some)];
    prop_oneof![
        4 => (0..EMPLOYERS, 0..3usize, 0..20_000u64, any::<u64>(), prop::bool::weighted(0.2)).prop_map(
            |(employer, token, whole_tokens, extra_units, by_outsider)| {
                // About one deposit in 40 is zero (must revert).
                let whole_tokens = if whole_tokens < 500 { 0 } else { whole_tokens };
                Action::Deposit { employer, token, whole_tokens, extra_units, by_outsider }
            }
        ),
        4 => (0..EMPLOYERS, 0..WORKERS, 0..3usize, 1..20_000u64, any::<u64>(), start_in, duration, 0..30u8).prop_map(
            |(employer, worker, token, monthly_tokens, jitter, start_in, duration, invalid)| Action::Create {
                employer, worker, token, monthly_tokens, jitter, start_in, duration, invalid
            }
        ),
        2 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(stream, unauthorized)| Action::Pause { stream, unauthorized }),
        2 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(stream, unauthorized)| Action::Resume { stream, unauthorized }),
        2 => (any::<usize>(), 0..20_000u64, any::<u64>(), prop::bool::weighted(0.1)).prop_map(
            |(stream, monthly_tokens, jitter, unauthorized)| Action::AdjustRate { stream, monthly_tokens, jitter, unauthorized }
        ),
        1 => (any::<usize>(), prop_oneof![1 => Just(None), 4 => (0..60 * DAY).prop_map(Some)], prop::bool::weighted(0.1))
            .prop_map(|(stream, end_in, unauthorized)| Action::SetEnd { stream, end_in, unauthorized }),
        1 => (any::<usize>(), prop::bool::weighted(0.1)).prop_map(|(stream, unauthorized)| Action::Cancel { stream, unauthorized }),
        5 => (any::<usize>(), 0..=1_000u16, prop::bool::weighted(0.1), prop::bool::weighted(0.2), prop::bool::weighted(0.05))
            .prop_map(|(stream, per_mille, over, to_outsider, by_outsider)| Action::Withdraw {
                stream, per_mille, over, to_outsider, by_outsider
            }),
        3 => any::<usize>().prop_map(|stream| Action::Payout { stream }),
        2 => prop::collection::vec(any::<usize>(), 1..6).prop_map(|streams| Action::PayoutMany { streams }),
        6 => prop_oneof![6 => 0..3 * DAY, 1 => 0..90 * DAY].prop_map(|seconds| Action::Skip { seconds }),
        1 => (0..3usize, 1..1_000u64).prop_map(|(token, whole_tokens)| Action::Donate { token, whole_tokens }),
        2 => (0..EMPLOYERS, 0..3usize, 0..=1_000u16, prop::bool::weighted(0.1)).prop_map(
            |(employer, token, per_mille, over)| Action::WithdrawSurplus { employer, token, per_mille, over }
        ),
    ]
}

/// A case's chain, model and bookkeeping.
struct Run {
    world: World,
    model: Model,
    /// Per stream: the contract-derived total `withdrawn + earned` after the previous step, which
    /// must never decrease.
    earned_to_date: Vec<U256>,
    /// Per token: what reached the contract outside `deposit`, credited to no pool.
    donated: [U256; 3],
}

fn rate_of(monthly_tokens: u64, jitter: u64) -> U256 {
    // Monthly pay in whole tokens, spread per second, plus sub-token noise to exercise rounding.
    U256::from(monthly_tokens) * U256::from(10u64).pow(U256::from(18)) / U256::from(MONTH)
        + U256::from(jitter % 1_000_000_007)
}

fn expected_selector(reject: Reject) -> [u8; 4] {
    use Payroll as P;
    match reject {
        Reject::ZeroAmount => P::Payroll_ZeroAmount::SELECTOR,
        Reject::ZeroRate => P::Payroll_ZeroRate::SELECTOR,
        Reject::StartInPast => P::Payroll_StartInPast::SELECTOR,
        Reject::InvalidEnd => P::Payroll_InvalidEnd::SELECTOR,
        Reject::NotEmployer => P::Payroll_NotEmployer::SELECTOR,
        Reject::NotWorker => P::Payroll_NotWorker::SELECTOR,
        Reject::StreamCanceled => P::Payroll_StreamCanceled::SELECTOR,
        Reject::StreamPaused => P::Payroll_StreamPaused::SELECTOR,
        Reject::StreamNotPaused => P::Payroll_StreamNotPaused::SELECTOR,
        Reject::AmountExceedsWithdrawable => P::Payroll_AmountExceedsWithdrawable::SELECTOR,
        Reject::AmountExceedsSurplus => P::Payroll_AmountExceedsSurplus::SELECTOR,
    }
}

/// Asserts the contract did what the model predicted: both succeeded, or both rejected with the
/// same custom error.
#[track_caller]
fn assert_outcome<T>(what: &str, actual: &Result<T, TxError>, expected: &Result<(), Reject>) {
    match (actual, expected) {
        (Ok(_), Ok(())) => {}
        (Err(error), Err(reject)) => {
            let data = error
                .revert_data()
                .unwrap_or_else(|| panic!("{what}: expected {reject:?}, got {error}"));
            assert!(
                data.len() >= 4 && data[..4] == expected_selector(*reject),
                "{what}: expected {reject:?}, got {error}"
            );
        }
        (Ok(_), Err(reject)) => panic!("{what}: contract accepted, model expected {reject:?}"),
        (Err(error), Ok(())) => {
            panic!("{what}: contract rejected with {error}, model expected success")
        }
    }
}

impl Run {
    fn new() -> Self {
        Self {
            world: world().clone(),
            model: Model::default(),
            earned_to_date: Vec::new(),
            donated: [U256::ZERO; 3],
        }
    }

    fn now(&self) -> u64 {
        self.world.evm.timestamp()
    }

    fn balance_of(&mut self, token: usize, who: Address) -> U256 {
        let token = self.world.tokens[token];
        self.world.evm.balance_of(token, who)
    }

    fn stream_id(index: usize) -> U256 {
        U256::from(index + 1)
    }

    /// Applies one action to both sides and checks the outcome.
    fn step(&mut self, action: &Action) {
        let now = self.now();
        let payroll = self.world.payroll;
        let stream_count = self.model.streams.len();
        match *action {
            Action::Deposit { employer, token, whole_tokens, extra_units, by_outsider } => {
                let decimals = TOKEN_DECIMALS[token];
                let amount = if whole_tokens == 0 {
                    U256::ZERO
                } else {
                    let one = U256::from(10u64).pow(U256::from(decimals));
                    U256::from(whole_tokens) * one + U256::from(extra_units) % one
                };
                let employer_address = self.world.employers[employer];
                let payer = if by_outsider { self.world.outsider } else { employer_address };
                let token_address = self.world.tokens[token];
                let value = if token_address.is_zero() { amount } else { U256::ZERO };
                let payer_before = self.balance_of(token, payer);
                let result = if by_outsider {
                    self.world
                        .evm
                        .send_value(
                            payer,
                            payroll,
                            value,
                            Payroll::depositForCall {
                                employer: employer_address,
                                token: token_address,
                                amount,
                            },
                        )
                        .map(drop)
                } else {
                    self.world
                        .evm
                        .send_value(
                            payer,
                            payroll,
                            value,
                            Payroll::depositCall { token: token_address, amount },
                        )
                        .map(drop)
                };
                // A deposit of 0 reverts before opening a pool, so the model is only told on success.
                let expected = if amount.is_zero() { Err(Reject::ZeroAmount) } else { Ok(()) };
                assert_outcome("deposit", &result, &expected);
                if result.is_ok() {
                    self.model.deposit((employer, token), decimals, amount).expect("checked");
                    assert_eq!(
                        self.balance_of(token, payer),
                        payer_before - amount,
                        "deposit took another amount"
                    );
                }
            }
            Action::Create {
                employer,
                worker,
                token,
                monthly_tokens,
                jitter,
                start_in,
                duration,
                invalid,
            } => {
                let rate = if invalid == 0 { U256::ZERO } else { rate_of(monthly_tokens, jitter) };
                let start = match (invalid, start_in) {
                    (1, _) => now - 1,
                    (_, delay) => delay.map_or(0, |delay| now + delay),
                };
                let end = match (invalid, duration) {
                    (2, _) => start.max(now),
                    (_, duration) => duration.map_or(0, |d| start.max(now) + d),
                };
                let result = self.world.evm.send(
                    self.world.employers[employer],
                    payroll,
                    Payroll::createStreamCall {
                        worker: self.world.workers[worker],
                        token: self.world.tokens[token],
                        rate: rate.to(),
                        start: U40::from(start),
                        end: U40::from(end),
                    },
                );
                let expected = self.model.create(
                    (employer, token),
                    TOKEN_DECIMALS[token],
                    worker,
                    rate,
                    start,
                    end,
                    now,
                );
                assert_outcome("createStream", &result, &expected.map(|_| ()));
                if let (Ok(receipt), Ok(index)) = (result, expected) {
                    assert_eq!(
                        receipt.ret,
                        Self::stream_id(index),
                        "stream ids are sequential from 1"
                    );
                    self.earned_to_date.push(U256::ZERO);
                }
            }
            Action::Pause { stream, unauthorized }
            | Action::Resume { stream, unauthorized }
            | Action::Cancel { stream, unauthorized }
                if stream_count > 0 =>
            {
                let index = match action {
                    Action::Pause { .. } => self.pick(stream, |s| s.status == Status::Active),
                    Action::Resume { .. } => self.pick(stream, |s| s.status == Status::Paused),
                    _ => self.pick(stream, |s| s.status != Status::Canceled),
                };
                let caller = self.control_caller(index, unauthorized);
                let id = Self::stream_id(index);
                let (what, result, expected) = match action {
                    Action::Pause { .. } => (
                        "pause",
                        self.world
                            .evm
                            .send(caller, payroll, Payroll::pauseCall { streamId: id })
                            .map(drop),
                        self.model.pause(index, !unauthorized, now),
                    ),
                    Action::Resume { .. } => (
                        "resume",
                        self.world
                            .evm
                            .send(caller, payroll, Payroll::resumeCall { streamId: id })
                            .map(drop),
                        self.model.resume(index, !unauthorized, now),
                    ),
                    _ => (
                        "cancel",
                        self.world
                            .evm
                            .send(caller, payroll, Payroll::cancelCall { streamId: id })
                            .map(drop),
                        self.model.cancel(index, !unauthorized, now),
                    ),
                };
                assert_outcome(what, &result, &expected);
            }
            Action::AdjustRate { stream, monthly_tokens, jitter, unauthorized }
                if stream_count > 0 =>
            {
                let index = self.pick(stream, |s| s.status != Status::Canceled);
                let caller = self.control_caller(index, unauthorized);
                // monthly_tokens == 0 and jitter % p == 0 gives a zero rate, which must revert.
                let rate = if monthly_tokens == 0 && jitter % 4 == 0 {
                    U256::ZERO
                } else {
                    rate_of(monthly_tokens, jitter)
                };
                let result = self.world.evm.send(
                    caller,
                    payroll,
                    Payroll::adjustRateCall {
                        streamId: Self::stream_id(index),
                        newRate: rate.to(),
                    },
                );
                let expected = self.model.adjust_rate(index, !unauthorized, rate, now);
                assert_outcome("adjustRate", &result, &expected);
            }
            Action::SetEnd { stream, end_in, unauthorized } if stream_count > 0 => {
                let index = self.pick(stream, |s| s.status != Status::Canceled);
                let caller = self.control_caller(index, unauthorized);
                let new_end = end_in.map_or(0, |delay| now + delay);
                let result = self.world.evm.send(
                    caller,
                    payroll,
                    Payroll::setEndCall {
                        streamId: Self::stream_id(index),
                        newEnd: U40::from(new_end),
                    },
                );
                let expected = self.model.set_end(index, !unauthorized, new_end, now);
                assert_outcome("setEnd", &result, &expected);
            }
            Action::Withdraw { stream, per_mille, over, to_outsider, by_outsider }
                if stream_count > 0 =>
            {
                let model = &self.model;
                let index = self.pick(stream, |s| {
                    let scale = model.pools[&s.pool].scale;
                    !model.pools[&s.pool].balance.is_zero()
                        && s.accrued_scaled_at(now) >= (s.withdrawn + U256::from(1)) * scale
                });
                let worker = self.world.workers[self.model.streams[index].worker];
                let caller = if by_outsider { self.world.outsider } else { worker };
                let to = if to_outsider { self.world.outsider } else { worker };
                let withdrawable = self.model.withdrawable(index, now);
                let amount = if over {
                    withdrawable + U256::from(1)
                } else {
                    withdrawable * U256::from(per_mille) / U256::from(1_000)
                };
                let token = self.model.streams[index].pool.1;
                let to_before = self.balance_of(token, to);
                let result = self.world.evm.send(
                    caller,
                    payroll,
                    Payroll::withdrawCall { streamId: Self::stream_id(index), to, amount },
                );
                let expected = if by_outsider {
                    Err(Reject::NotWorker)
                } else {
                    self.model.withdraw(index, amount, now)
                };
                assert_outcome("withdraw", &result, &expected);
                if result.is_ok() {
                    assert_eq!(
                        self.balance_of(token, to),
                        to_before + amount,
                        "withdraw delivered another amount"
                    );
                }
            }
            Action::Payout { stream } if stream_count > 0 => {
                self.payout_many(&[stream % stream_count], false);
            }
            Action::PayoutMany { ref streams } if stream_count > 0 => {
                let indices: Vec<usize> = streams.iter().map(|s| s % stream_count).collect();
                self.payout_many(&indices, true);
            }
            Action::Skip { seconds } => self.world.evm.skip(seconds),
            Action::Donate { token, whole_tokens } => {
                let amount = U256::from(whole_tokens)
                    * U256::from(10u64).pow(U256::from(TOKEN_DECIMALS[token]));
                let token_address = self.world.tokens[token];
                if token_address.is_zero() {
                    let balance = self.world.evm.balance(payroll);
                    self.world.evm.set_balance(payroll, balance + amount);
                } else {
                    self.world
                        .evm
                        .send(
                            self.world.outsider,
                            token_address,
                            MockERC20::transferCall { to: payroll, value: amount },
                        )
                        .expect("direct transfer to the contract");
                }
                // Nothing in the model changes: a donation is nobody's deposit.
                self.donated[token] += amount;
            }
            Action::WithdrawSurplus { employer, token, per_mille, over } => {
                let key = (employer, token);
                let surplus = if self.model.pools.contains_key(&key) {
                    self.model.surplus_and_debt(key, now).0
                } else {
                    U256::ZERO
                };
                let amount = if over {
                    surplus + U256::from(1)
                } else {
                    surplus * U256::from(per_mille) / U256::from(1_000)
                };
                let employer_address = self.world.employers[employer];
                let before = self.balance_of(token, employer_address);
                let result = self.world.evm.send(
                    employer_address,
                    payroll,
                    Payroll::withdrawSurplusCall {
                        token: self.world.tokens[token],
                        amount,
                        to: employer_address,
                    },
                );
                let expected = self.model.withdraw_surplus(key, amount, now);
                assert_outcome("withdrawSurplus", &result, &expected);
                if result.is_ok() {
                    assert_eq!(self.balance_of(token, employer_address), before + amount);
                }
            }
            // A stream action before any stream exists: nothing to do.
            _ => {}
        }
    }

    /// Usually the first stream from `seed` (cyclically) for which the call makes sense, so that
    /// most steps do something; one time in eight the stream `seed` picks, whatever its state, so
    /// that invalid calls are exercised too.
    fn pick(&self, seed: usize, fits: impl Fn(&super::prop_model::Stream) -> bool) -> usize {
        let count = self.model.streams.len();
        let first = seed % count;
        if seed.is_multiple_of(8) {
            return first;
        }
        (0..count)
            .map(|offset| (first + offset) % count)
            .find(|&i| fits(&self.model.streams[i]))
            .unwrap_or(first)
    }

    /// The caller of an employer control: the stream's employer, or the other employer.
    fn control_caller(&self, index: usize, unauthorized: bool) -> Address {
        let employer = self.model.streams[index].pool.0;
        let caller = if unauthorized { (employer + 1) % EMPLOYERS } else { employer };
        self.world.employers[caller]
    }

    /// `payout` (one stream) or `payoutMany`, sent by the outsider; checks each worker got exactly
    /// what the model says was withdrawable, in order.
    fn payout_many(&mut self, indices: &[usize], batched: bool) {
        let now = self.now();
        let payroll = self.world.payroll;
        let ids: Vec<U256> = indices.iter().map(|&i| Self::stream_id(i)).collect();
        let mut expected_payments = Vec::new();
        // (token, worker) -> (balance before, expected increase)
        let mut receipts = std::collections::BTreeMap::<(usize, usize), (U256, U256)>::new();
        for &index in indices {
            let (token, worker) =
                (self.model.streams[index].pool.1, self.model.streams[index].worker);
            let before = self.balance_of(token, self.world.workers[worker]);
            let received = &mut receipts.entry((token, worker)).or_insert((before, U256::ZERO)).1;
            let amount = self.model.payout(index, now);
            if !amount.is_zero() {
                expected_payments.push((Self::stream_id(index), amount));
                *received += amount;
            }
        }
        let logs = if batched {
            self.world
                .evm
                .send(self.world.outsider, payroll, Payroll::payoutManyCall { streamIds: ids })
                .map(|r| r.logs)
        } else {
            self.world
                .evm
                .send(self.world.outsider, payroll, Payroll::payoutCall { streamId: ids[0] })
                .map(|r| {
                    let paid = expected_payments.first().map_or(U256::ZERO, |&(_, amount)| amount);
                    assert_eq!(r.ret, paid, "payout returned another amount");
                    r.logs
                })
        }
        .unwrap_or_else(|error| panic!("payout of {indices:?} failed: {error}"));
        let paid: Vec<(U256, U256)> = shiftpay_tests::decode_events::<Payroll::Withdrawn>(&logs)
            .into_iter()
            .map(|event| {
                assert_eq!(event.to, event.worker, "payouts go to the worker");
                (event.streamId, event.amount)
            })
            .collect();
        assert_eq!(paid, expected_payments, "payout amounts differ from the model");
        assert!(
            shiftpay_tests::decode_events::<Payroll::PayoutFailed>(&logs).is_empty(),
            "EOA payouts cannot fail"
        );
        for ((token, worker), (before, increase)) in receipts {
            let after = self.balance_of(token, self.world.workers[worker]);
            assert_eq!(
                after,
                before + increase,
                "worker {worker} received another amount of token {token}"
            );
        }
    }

    /// Checks every invariant and every view against the model.
    fn check(&mut self) {
        let now = self.now();
        let payroll = self.world.payroll;
        for (token, &decimals) in TOKEN_DECIMALS.iter().enumerate() {
            let held = self.balance_of(token, payroll);
            let mut pools_total = U256::ZERO;
            for employer in 0..EMPLOYERS {
                let key = (employer, token);
                let token_address = self.world.tokens[token];
                let employer_address = self.world.employers[employer];
                let pool = self
                    .world
                    .evm
                    .view(
                        payroll,
                        Payroll::getPoolCall { employer: employer_address, token: token_address },
                    )
                    .expect("getPool");
                let Some(model_pool) = self.model.pools.get(&key) else {
                    assert!(
                        !pool.exists && pool.balance.is_zero(),
                        "pool {key:?} exists but was never used"
                    );
                    continue;
                };
                self.model.assert_pool_identity(key, now);
                let (surplus, debt) = self.model.surplus_and_debt(key, now);
                assert!(pool.exists, "pool {key:?} should exist");
                assert_eq!(pool.decimals, decimals, "pool {key:?} decimals");
                assert_eq!(pool.balance, model_pool.balance, "pool {key:?} balance");
                assert_eq!(pool.surplus, surplus, "pool {key:?} surplus");
                assert_eq!(pool.debt, debt, "pool {key:?} debt");
                let single = self
                    .world
                    .evm
                    .view(
                        payroll,
                        Payroll::poolBalanceCall {
                            employer: employer_address,
                            token: token_address,
                        },
                    )
                    .expect("poolBalance");
                assert_eq!(single, pool.balance, "poolBalance and getPool disagree");
                pools_total += pool.balance;
                // What the pool holds covers its free part and what its streams are owed, exactly:
                // balance * scale == surplusScaled + sum(owedScaled). In rounded token units the
                // views can differ from that by less than one unit per stream plus one.
                let earned_total: U256 =
                    model_pool.streams.iter().map(|&i| self.model.earned(i, now)).sum();
                let covered = surplus + earned_total;
                assert!(
                    pool.balance + debt >= covered
                        && pool.balance + debt
                            <= covered + U256::from(model_pool.streams.len() + 1),
                    "pool {key:?}: balance {} + debt {debt} vs surplus {surplus} + earned {earned_total}",
                    pool.balance
                );
            }
            assert_eq!(
                held,
                pools_total + self.donated[token],
                "token {token}: contract balance != sum of pool balances + donations"
            );
        }
        for index in 0..self.model.streams.len() {
            let id = Self::stream_id(index);
            let earned =
                self.world.evm.view(payroll, Payroll::earnedCall { streamId: id }).expect("earned");
            let withdrawable = self
                .world
                .evm
                .view(payroll, Payroll::withdrawableCall { streamId: id })
                .expect("withdrawable");
            let stream = &self.model.streams[index];
            let scale = self.model.pools[&stream.pool].scale;
            assert_eq!(earned, self.model.earned(index, now), "stream {id}: earned");
            assert_eq!(
                withdrawable,
                self.model.withdrawable(index, now),
                "stream {id}: withdrawable"
            );
            // Nothing earned is lost: withdrawn + withdrawable + uncovered == accrued (rounded down).
            let uncovered = earned - withdrawable;
            let accrued = stream.accrued_scaled_at(now);
            let earned_to_date = stream.withdrawn + withdrawable + uncovered;
            assert_eq!(
                earned_to_date,
                accrued / scale,
                "stream {id}: withdrawn + withdrawable + uncovered"
            );
            assert!(stream.withdrawn * scale <= accrued, "stream {id}: withdrawn more than earned");
            assert!(
                earned_to_date >= self.earned_to_date[index],
                "stream {id}: earned-to-date decreased"
            );
            self.earned_to_date[index] = earned_to_date;
        }
    }

    /// Compares the stored parameters of every stream with the model (after the whole case, as
    /// they only change on the controls whose outcome is already checked step by step).
    fn check_streams(&mut self) {
        for index in 0..self.model.streams.len() {
            let stream = self
                .world
                .evm
                .view(
                    self.world.payroll,
                    Payroll::getStreamCall { streamId: Self::stream_id(index) },
                )
                .expect("getStream");
            let model = &self.model.streams[index];
            assert_eq!(stream.employer, self.world.employers[model.pool.0]);
            assert_eq!(stream.worker, self.world.workers[model.worker]);
            assert_eq!(stream.token, self.world.tokens[model.pool.1]);
            assert_eq!(U256::from(stream.rate), model.rate, "stream {index} rate");
            assert_eq!(stream.start.to::<u64>(), model.start, "stream {index} start");
            assert_eq!(stream.end.to::<u64>(), model.end, "stream {index} end");
            assert!(
                stream.end.is_zero() || stream.end >= stream.start,
                "stream {index}: end {} before start {}",
                stream.end,
                stream.start
            );
            let status = match model.status {
                Status::Active => 0u8,
                Status::Paused => 1,
                Status::Canceled => 2,
            };
            assert_eq!(stream.status, status, "stream {index} status");
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000)
}

proptest! {
    #![proptest_config(Config { failure_persistence: None, ..Config::with_cases(cases()) })]

    /// See the module docs.
    #[test]
    fn payroll_invariants_hold_for_random_operation_sequences(actions in prop::collection::vec(action(), STEPS)) {
        let mut run = Run::new();
        for action in &actions {
            run.step(action);
            run.check();
        }
        run.check_streams();
    }
}
