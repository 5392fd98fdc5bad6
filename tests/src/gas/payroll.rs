//! ShiftPay side of the gas benchmark: the committed `Payroll` artifact (`bindings/artifacts/`)
//! running the scenario described in [`super`].

use alloy::primitives::{Address, U256, aliases::U40};
use eyre::{Result, WrapErr};
use shiftpay_bindings::payroll::Payroll;

use super::{Actors, BatchGas, OperationGas, Scenario};
use crate::Evm;

/// Deploys `Payroll` (no constructor arguments: no owner, no admin) from `deployer`.
pub fn deploy(evm: &mut Evm, deployer: Address) -> Result<Address> {
    evm.deploy(deployer, Payroll::BYTECODE.clone()).wrap_err("deploy Payroll")
}

/// Creates an open-ended stream from the employer's pool to `worker`, starting now.
fn create(
    evm: &mut Evm,
    payroll: Address,
    actors: &Actors,
    scenario: &Scenario,
    worker: Address,
) -> Result<(U256, u64)> {
    let receipt = evm
        .send(
            actors.employer,
            payroll,
            Payroll::createStreamCall {
                worker,
                token: actors.token,
                rate: scenario.rate_scaled,
                start: U40::ZERO,
                end: U40::ZERO,
            },
        )
        .wrap_err("Payroll createStream")?;
    Ok((receipt.ret, receipt.gas_used))
}

/// Deposits `amount` token units into the employer's pool.
fn deposit(evm: &mut Evm, payroll: Address, actors: &Actors, amount: u128) -> Result<u64> {
    let receipt = evm
        .send(
            actors.employer,
            payroll,
            Payroll::depositCall { token: actors.token, amount: U256::from(amount) },
        )
        .wrap_err("Payroll deposit")?;
    Ok(receipt.gas_used)
}

/// The worker withdraws everything withdrawable from `id` to themself (ShiftPay's `withdraw`
/// takes an amount: a wallet reads `withdrawable` first, as done here).
fn withdraw_all(evm: &mut Evm, payroll: Address, id: U256, worker: Address) -> Result<u64> {
    let amount = evm.view(payroll, Payroll::withdrawableCall { streamId: id })?;
    eyre::ensure!(!amount.is_zero(), "stream {id} has nothing to withdraw");
    let receipt = evm
        .send(worker, payroll, Payroll::withdrawCall { streamId: id, to: worker, amount })
        .wrap_err("Payroll withdraw")?;
    Ok(receipt.gas_used)
}

/// Runs the benchmark scenario on ShiftPay and returns the gas of each operation.
pub fn measure(scenario: &Scenario) -> Result<OperationGas> {
    let mut evm = Evm::new();
    let mut actors = Actors::new(&mut evm, scenario);
    let payroll = deploy(&mut evm, actors.deployer)?;
    evm.approve(actors.token, actors.employer, payroll, U256::MAX);
    let stream_deposit = scenario.stream_deposit();
    let worker = actors.workers[0];

    // Same order as on Flow: create, then fund; the first create opens the employer's pool.
    let (first_id, create_first) = create(&mut evm, payroll, &actors, scenario, worker)?;
    let deposit_first = deposit(&mut evm, payroll, &actors, stream_deposit)?;
    let (id, create_next) = create(&mut evm, payroll, &actors, scenario, actors.workers[1])?;
    let deposit_next = deposit(&mut evm, payroll, &actors, stream_deposit)?;

    evm.skip(scenario.withdraw_interval);
    let withdraw_first = withdraw_all(&mut evm, payroll, first_id, worker)?;
    evm.skip(scenario.withdraw_interval);
    let withdraw_later = withdraw_all(&mut evm, payroll, first_id, worker)?;
    evm.skip(scenario.withdraw_interval);
    let payout = evm
        .send(actors.keeper, payroll, Payroll::payoutCall { streamId: first_id })
        .wrap_err("Payroll third-party payout")?;
    eyre::ensure!(!payout.ret.is_zero(), "third-party payout paid nothing");
    let payout_third_party = payout.gas_used;

    evm.skip(scenario.withdraw_interval);
    let adjust_rate = evm
        .send(
            actors.employer,
            payroll,
            Payroll::adjustRateCall { streamId: id, newRate: scenario.rate_scaled * 2 },
        )
        .wrap_err("Payroll adjustRate")?
        .gas_used;
    evm.skip(scenario.withdraw_interval);
    let pause = evm
        .send(actors.employer, payroll, Payroll::pauseCall { streamId: id })
        .wrap_err("Payroll pause")?
        .gas_used;
    let cancel = evm
        .send(actors.employer, payroll, Payroll::cancelCall { streamId: first_id })
        .wrap_err("Payroll cancel")?
        .gas_used;

    let mut batch_payout = Vec::new();
    for &count in &scenario.batch_sizes {
        let recipients = actors.batch_workers(&mut evm, count);
        let mut ids = Vec::with_capacity(count);
        for &recipient in &recipients {
            let (id, _) = create(&mut evm, payroll, &actors, scenario, recipient)?;
            ids.push(id);
        }
        deposit(&mut evm, payroll, &actors, stream_deposit * count as u128)?;
        let mut run = || -> Result<u64> {
            evm.skip(scenario.withdraw_interval);
            let receipt = evm
                .send(actors.keeper, payroll, Payroll::payoutManyCall { streamIds: ids.clone() })
                .wrap_err_with(|| format!("Payroll payoutMany of {count}"))?;
            let paid = receipt.events::<Payroll::Withdrawn>();
            eyre::ensure!(paid.len() == count, "payoutMany paid {} of {count} streams", paid.len());
            Ok(receipt.gas_used)
        };
        let first_total = run()?;
        let recurring_total = run()?;
        batch_payout.push(BatchGas { streams: count, first_total, recurring_total });
    }

    Ok(OperationGas {
        create_first,
        create_next,
        deposit_first,
        deposit_next,
        withdraw_first,
        withdraw_later,
        payout_third_party,
        pause,
        adjust_rate,
        cancel,
        batch_payout,
    })
}
