//! Sablier Flow 3.0.1 side of the gas benchmark: the production bytecode vendored in
//! `tests/vendor/sablier/` (see its README), deployed in the same harness [`Evm`] as ShiftPay.
//!
//! Flow is set up like on mainnet: its comptroller is `SablierComptroller` behind an
//! `ERC1967Proxy`, initialized with every minimum fee at 0 and no oracle, so the fee lookup each
//! withdrawal makes returns 0 (the cheapest path Flow has). The NFT descriptor is only read by
//! `tokenURI`, which the scenario never calls, so any address will do.

use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::{SolCall, SolConstructor},
};
use eyre::{Result, WrapErr};

use super::{Actors, BatchGas, OperationGas, Scenario};
use crate::Evm;

#[allow(missing_docs, unreachable_pub, clippy::too_many_arguments)]
mod abi {
    alloy::sol!(
        #[sol(all_derives)]
        SablierFlow,
        "vendor/sablier/SablierFlow.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        SablierComptroller,
        "vendor/sablier/SablierComptroller.json"
    );
    alloy::sol!(
        #[sol(all_derives)]
        ERC1967Proxy,
        "vendor/sablier/ERC1967Proxy.json"
    );
}

pub use abi::{ERC1967Proxy, SablierComptroller, SablierFlow};

/// A deployed Sablier Flow with its comptroller.
#[derive(Debug, Clone, Copy)]
pub struct FlowDeployment {
    /// The `SablierFlow` contract.
    pub flow: Address,
    /// The comptroller proxy Flow asks for fees.
    pub comptroller: Address,
}

/// Deploys the comptroller (implementation + initialized proxy) and Flow from `deployer`.
pub fn deploy(evm: &mut Evm, deployer: Address) -> Result<FlowDeployment> {
    let admin = deployer;
    let implementation_init = [
        SablierComptroller::BYTECODE.as_ref(),
        &SablierComptroller::constructorCall { initialAdmin: admin }.abi_encode(),
    ]
    .concat();
    let implementation =
        evm.deploy(deployer, implementation_init).wrap_err("deploy SablierComptroller")?;
    let initialize = SablierComptroller::initializeCall {
        initialAdmin: admin,
        initialAirdropMinFeeUSD: U256::ZERO,
        initialBobMinFeeUSD: U256::ZERO,
        initialFlowMinFeeUSD: U256::ZERO,
        initialLockupMinFeeUSD: U256::ZERO,
        initialOracle: Address::ZERO,
    };
    let proxy_init = [
        ERC1967Proxy::BYTECODE.as_ref(),
        &ERC1967Proxy::constructorCall { implementation, _data: initialize.abi_encode().into() }
            .abi_encode(),
    ]
    .concat();
    let comptroller = evm.deploy(deployer, proxy_init).wrap_err("deploy comptroller proxy")?;
    // Only `tokenURI` reads the descriptor; the scenario never calls it.
    let descriptor = Address::repeat_byte(0xde);
    let flow_init = [
        SablierFlow::BYTECODE.as_ref(),
        &SablierFlow::constructorCall {
            initialComptroller: comptroller,
            initialNFTDescriptor: descriptor,
        }
        .abi_encode(),
    ]
    .concat();
    let flow = evm.deploy(deployer, flow_init).wrap_err("deploy SablierFlow")?;
    Ok(FlowDeployment { flow, comptroller })
}

/// Creates a stream from `actors.employer` to `worker` at the scenario rate, starting now.
fn create(
    evm: &mut Evm,
    flow: Address,
    actors: &Actors,
    scenario: &Scenario,
    worker: Address,
) -> Result<(U256, u64)> {
    let receipt = evm
        .send(
            actors.employer,
            flow,
            SablierFlow::createCall {
                sender: actors.employer,
                recipient: worker,
                ratePerSecond: scenario.rate_scaled,
                startTime: alloy::primitives::aliases::U40::ZERO,
                token: actors.token,
                transferable: true,
            },
        )
        .wrap_err("Flow create")?;
    Ok((receipt.ret, receipt.gas_used))
}

/// Deposits `amount` token units on stream `id` of `worker`.
fn deposit(
    evm: &mut Evm,
    flow: Address,
    actors: &Actors,
    id: U256,
    worker: Address,
    amount: u128,
) -> Result<u64> {
    let receipt = evm
        .send(
            actors.employer,
            flow,
            SablierFlow::depositCall {
                streamId: id,
                amount,
                sender: actors.employer,
                recipient: worker,
            },
        )
        .wrap_err("Flow deposit")?;
    Ok(receipt.gas_used)
}

/// Runs the benchmark scenario (see [`super`]) on Flow and returns the gas of each operation.
pub fn measure(scenario: &Scenario) -> Result<OperationGas> {
    let mut evm = Evm::new();
    let mut actors = Actors::new(&mut evm, scenario);
    let FlowDeployment { flow, .. } = deploy(&mut evm, actors.deployer)?;
    evm.approve(actors.token, actors.employer, flow, U256::MAX);
    let stream_deposit = scenario.stream_deposit();
    let worker = actors.workers[0];

    // Two streams exist before the measured ones so neither side pays one-off first-use costs
    // (ShiftPay opening the employer's pool, Flow's first stream id) in the "later" rows.
    let (first_id, create_first) = create(&mut evm, flow, &actors, scenario, worker)?;
    let deposit_first = deposit(&mut evm, flow, &actors, first_id, worker, stream_deposit)?;
    let (id, create_next) = create(&mut evm, flow, &actors, scenario, actors.workers[1])?;
    let deposit_next = deposit(&mut evm, flow, &actors, id, actors.workers[1], stream_deposit)?;

    // Withdrawals by the worker of the first stream.
    evm.skip(scenario.withdraw_interval);
    let withdraw_first = evm
        .send(worker, flow, SablierFlow::withdrawMaxCall { streamId: first_id, to: worker })
        .wrap_err("Flow first withdrawMax")?
        .gas_used;
    evm.skip(scenario.withdraw_interval);
    let withdraw_later = evm
        .send(worker, flow, SablierFlow::withdrawMaxCall { streamId: first_id, to: worker })
        .wrap_err("Flow later withdrawMax")?
        .gas_used;
    evm.skip(scenario.withdraw_interval);
    let payout_third_party = evm
        .send(actors.keeper, flow, SablierFlow::withdrawMaxCall { streamId: first_id, to: worker })
        .wrap_err("Flow third-party withdrawMax")?
        .gas_used;

    // Employer controls, on the second stream (it has accrued since its deposit).
    evm.skip(scenario.withdraw_interval);
    let adjust_rate = evm
        .send(
            actors.employer,
            flow,
            SablierFlow::adjustRatePerSecondCall {
                streamId: id,
                newRatePerSecond: scenario.rate_scaled * 2,
            },
        )
        .wrap_err("Flow adjustRatePerSecond")?
        .gas_used;
    evm.skip(scenario.withdraw_interval);
    let pause = evm
        .send(actors.employer, flow, SablierFlow::pauseCall { streamId: id })
        .wrap_err("Flow pause")?
        .gas_used;
    let cancel = evm
        .send(actors.employer, flow, SablierFlow::voidCall { streamId: first_id })
        .wrap_err("Flow void")?
        .gas_used;

    // Batched payouts: `batch` delegate-calls Flow itself, so a keeper can pack `withdrawMax` calls
    // for many recipients into one transaction.
    let mut batch_payout = Vec::new();
    for &count in &scenario.batch_sizes {
        let recipients = actors.batch_workers(&mut evm, count);
        let mut ids = Vec::with_capacity(count);
        for &recipient in &recipients {
            let (id, _) = create(&mut evm, flow, &actors, scenario, recipient)?;
            deposit(&mut evm, flow, &actors, id, recipient, stream_deposit)?;
            ids.push((id, recipient));
        }
        let calls: Vec<Bytes> = ids
            .iter()
            .map(|&(stream_id, to)| {
                SablierFlow::withdrawMaxCall { streamId: stream_id, to }.abi_encode().into()
            })
            .collect();
        let mut run = || -> Result<u64> {
            evm.skip(scenario.withdraw_interval);
            let before: Vec<u128> = ids
                .iter()
                .map(|&(id, _)| evm.view(flow, SablierFlow::getBalanceCall { streamId: id }))
                .collect::<Result<_, _>>()?;
            let receipt = evm
                .send(actors.keeper, flow, SablierFlow::batchCall { calls: calls.clone() })
                .wrap_err_with(|| format!("Flow batch of {count} withdrawMax"))?;
            for (&(id, recipient), before) in ids.iter().zip(before) {
                let after = evm.view(flow, SablierFlow::getBalanceCall { streamId: id })?;
                eyre::ensure!(after < before, "Flow batch did not pay stream {id} of {recipient}");
            }
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
