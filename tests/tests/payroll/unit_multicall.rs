//! `multicall`: a DAO proposal creating 20 streams in one call, atomicity, and no `msg.value`
//! reuse (the function is not payable, so native deposits inside a batch always fail).

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::SolCall,
};
use shiftpay_bindings::payroll::Payroll;

use crate::unit_fixture::{ExpectRevert, Fixture, NATIVE, e, t40, units};

fn create_call(worker: Address, token: Address, rate: u128) -> Bytes {
    Payroll::createStreamCall { worker, token, rate, start: t40(0), end: t40(0) }
        .abi_encode()
        .into()
}

#[test]
fn multicall_creates_twenty_streams_in_one_transaction() {
    let mut f = Fixture::new();
    let token = f.token(6);
    let workers: Vec<Address> =
        (0..20).map(|i| f.evm.account(&format!("contributor {i}"))).collect();
    let mut data =
        vec![Bytes::from(Payroll::depositCall { token, amount: units(6, 10_000) }.abi_encode())];
    data.extend(workers.iter().enumerate().map(|(i, w)| create_call(*w, token, e(16) + i as u128)));

    let receipt = f.as_employer(Payroll::multicallCall { data }).expect("multicall");
    assert_eq!(receipt.ret.len(), 21);
    for (i, ret) in receipt.ret.iter().skip(1).enumerate() {
        let id = Payroll::createStreamCall::abi_decode_returns(ret).expect("id");
        assert_eq!(id, U256::from(i + 1));
    }
    let created = receipt.events::<Payroll::StreamCreated>();
    assert_eq!(created.len(), 20);
    for (event, worker) in created.iter().zip(&workers) {
        assert_eq!((event.employer, event.worker), (f.employer, *worker));
    }
    assert_eq!(f.pool_balance(token), units(6, 10_000));
    let pool =
        f.evm.view(f.payroll, Payroll::getPoolCall { employer: f.employer, token }).expect("pool");
    let total: u128 = (0..20).map(|i| e(16) + i).sum();
    assert_eq!(pool.totalRate, U256::from(total));
    assert!(receipt.gas_used < 6_800_000);
}

#[test]
fn multicall_is_atomic_and_bubbles_the_first_error() {
    let mut f = Fixture::new();
    let worker = f.worker;
    let data = vec![
        create_call(worker, NATIVE, 1),
        create_call(worker, NATIVE, 0),
        create_call(worker, NATIVE, 2),
    ];
    f.as_employer(Payroll::multicallCall { data })
        .reverted()
        .expect_error(Payroll::Payroll_ZeroRate {});
    assert_eq!(f.evm.view(f.payroll, Payroll::nextStreamIdCall {}).expect("view"), U256::from(1));
}

#[test]
fn multicall_never_reuses_msg_value() {
    let mut f = Fixture::new();
    let amount = units(18, 1);
    let deposit = Bytes::from(Payroll::depositCall { token: NATIVE, amount }.abi_encode());

    // Sending value to the non-payable multicall reverts before anything runs.
    let err = f
        .evm
        .send_value(
            f.employer,
            f.payroll,
            amount,
            Payroll::multicallCall { data: vec![deposit.clone(), deposit.clone()] },
        )
        .reverted();
    assert_eq!(err.revert_data().map(|d| d.len()), Some(0), "plain non-payable revert, got {err}");

    // Without value, a native deposit inside sees msg.value = 0.
    let err = f.as_employer(Payroll::multicallCall { data: vec![deposit] }).reverted();
    err.expect_error(Payroll::Transfers_WrongMsgValue { expected: amount, sent: U256::ZERO });
    assert_eq!(f.contract_balance(NATIVE), U256::ZERO);
}
