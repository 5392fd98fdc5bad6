//! A DAO on a test node: OpenZeppelin's `Governor` (settings, simple counting, token votes with a
//! 4% quorum, `GovernorTimelockControl`), its `TimelockController` and an `ERC20Votes` token, from
//! `tests/dao/DaoGovernor.sol`. OpenZeppelin 5.4's Governor uses `mcopy`, so it is compiled here
//! at test time for `cancun` with the workspace's solc-js (`tools/solc`), apart from the
//! project's `shanghai` artifact sets; anvil runs it as it is.
//!
//! ```no_run
//! use shiftpay_tests::{anvil::{AnvilOptions, AnvilProcess}, dao::Dao};
//!
//! let anvil = AnvilProcess::spawn(AnvilOptions::default()).unwrap();
//! let dao = Dao::deploy(&anvil.url()).unwrap(); // dev account 0 holds every vote
//! // dao.pass(&anvil.url(), &targets, &values, &calldatas, "description") proposes, votes,
//! // queues, waits out the Timelock's delay and executes.
//! # let _ = dao;
//! ```

use std::process::{Command, Stdio};

use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, U256, keccak256},
    providers::{Provider, ProviderBuilder},
    rpc::types::TransactionRequest,
    sol,
    sol_types::{SolCall, SolValue},
};
use eyre::{WrapErr, bail, eyre};

use crate::{
    anvil::{dev_address, workspace_root},
    safe::{block_on, send},
};

sol! {
    /// The Governor functions the tests call.
    interface IDaoGovernor {
        function propose(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, string memory description) external returns (uint256);
        function castVote(uint256 proposalId, uint8 support) external returns (uint256);
        function queue(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external returns (uint256);
        function execute(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external payable returns (uint256);
        function state(uint256 proposalId) external view returns (uint8);
        function votingDelay() external view returns (uint256);
        function votingPeriod() external view returns (uint256);
        function getProposalId(address[] memory targets, uint256[] memory values, bytes[] memory calldatas, bytes32 descriptionHash) external view returns (uint256);
    }

    /// The TimelockController functions the tests call.
    interface IDaoTimelock {
        function grantRole(bytes32 role, address account) external;
        function PROPOSER_ROLE() external view returns (bytes32);
        function CANCELLER_ROLE() external view returns (bytes32);
        function getMinDelay() external view returns (uint256);
    }

    /// The votes token's delegation.
    interface IDaoVotesToken {
        function delegate(address delegatee) external;
    }
}

/// Seconds the Timelock holds a queued proposal.
pub const TIMELOCK_DELAY: u64 = 120;
/// Blocks between a proposal and its vote.
pub const VOTING_DELAY: u64 = 1;
/// Blocks the vote lasts.
pub const VOTING_PERIOD: u64 = 10;

/// The Governor's `ProposalState` values the tests check.
pub mod state {
    /// Voting has not started.
    pub const PENDING: u8 = 0;
    /// Voting.
    pub const ACTIVE: u8 = 1;
    /// Passed, not queued.
    pub const SUCCEEDED: u8 = 4;
    /// In the Timelock.
    pub const QUEUED: u8 = 5;
    /// Done.
    pub const EXECUTED: u8 = 7;
}

/// The creation code of the three contracts, compiled from `tests/dao/DaoGovernor.sol`.
struct Compiled {
    token: Bytes,
    timelock: Bytes,
    governor: Bytes,
}

/// Compiles `tests/dao/DaoGovernor.sol` with `tools/solc` (solc-js), optimizer on, `cancun`.
fn compile() -> eyre::Result<Compiled> {
    let root = workspace_root();
    let source = "tests/dao/DaoGovernor.sol";
    let input = serde_json::json!({
        "language": "Solidity",
        "sources": { source: { "urls": [source] } },
        "settings": {
            "optimizer": { "enabled": true, "runs": 200 },
            "evmVersion": "cancun",
            "remappings": ["@openzeppelin/contracts/=node_modules/@openzeppelin/contracts/"],
            "outputSelection": { source: { "*": ["evm.bytecode.object"] } }
        }
    });
    let mut child = Command::new(root.join("tools/solc"))
        .args(["--standard-json", "--base-path", ".", "--include-path", "node_modules"])
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .wrap_err("tools/solc runs (run `make deps` for solc-js)")?;
    std::io::Write::write_all(
        child.stdin.as_mut().expect("piped stdin"),
        input.to_string().as_bytes(),
    )?;
    drop(child.stdin.take());
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("tools/solc failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&output.stdout).wrap_err("tools/solc printed no JSON")?;
    if let Some(errors) = json["errors"].as_array() {
        let fatal: Vec<&str> = errors
            .iter()
            .filter(|e| e["severity"] == "error")
            .filter_map(|e| e["formattedMessage"].as_str())
            .collect();
        if !fatal.is_empty() {
            bail!("{source} does not compile:\n{}", fatal.join("\n"));
        }
    }
    let code = |name: &str| -> eyre::Result<Bytes> {
        let hex = json["contracts"][source][name]["evm"]["bytecode"]["object"]
            .as_str()
            .ok_or_else(|| eyre!("no bytecode for {name}"))?;
        Ok(alloy::primitives::hex::decode(hex)?.into())
    };
    Ok(Compiled {
        token: code("DaoVotesToken")?,
        timelock: code("DaoTimelock")?,
        governor: code("DaoGovernor")?,
    })
}

/// A deployed DAO: dev account 0 holds (and has delegated to itself) every vote.
#[derive(Debug, Clone, Copy)]
pub struct Dao {
    /// The `ERC20Votes` token.
    pub token: Address,
    /// The `TimelockController`: the DAO's treasury and the account that runs proposals.
    pub timelock: Address,
    /// The Governor (the Timelock's only proposer and canceller; anyone executes).
    pub governor: Address,
}

async fn deploy(url: &str, code: &Bytes, args: Vec<u8>) -> eyre::Result<Address> {
    let mut init = code.to_vec();
    init.extend(args);
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from(init));
    send(url, tx).await?.contract_address.ok_or_else(|| eyre!("no contract created"))
}

async fn call<C: SolCall>(url: &str, to: Address, call: &C) -> eyre::Result<()> {
    let tx = TransactionRequest::default().with_to(to).with_input(Bytes::from(call.abi_encode()));
    send(url, tx).await.map(|_| ())
}

async fn read<C: SolCall>(url: &str, to: Address, call: &C) -> eyre::Result<C::Return> {
    let provider = ProviderBuilder::new().connect_http(url.parse()?);
    let tx = TransactionRequest::default().with_to(to).with_input(Bytes::from(call.abi_encode()));
    Ok(C::abi_decode_returns(&provider.call(tx).await?)?)
}

async fn rpc(url: &str, method: &'static str, params: serde_json::Value) -> eyre::Result<()> {
    let provider = ProviderBuilder::new().connect_http(url.parse()?);
    let _: serde_json::Value = provider.raw_request(method.into(), params).await?;
    Ok(())
}

impl Dao {
    /// Compiles and deploys the token (1,000,000 votes to dev account 0, self-delegated), the
    /// Timelock ([`TIMELOCK_DELAY`]) and the Governor ([`VOTING_DELAY`], [`VOTING_PERIOD`]).
    pub fn deploy(url: &str) -> eyre::Result<Self> {
        let compiled = compile()?;
        block_on(async {
            let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u8));
            let token = deploy(url, &compiled.token, supply.abi_encode()).await?;
            call(url, token, &IDaoVotesToken::delegateCall { delegatee: dev_address(0) }).await?;
            let timelock_args = (
                U256::from(TIMELOCK_DELAY),
                Vec::<Address>::new(),
                vec![Address::ZERO],
                dev_address(0),
            )
                .abi_encode_params();
            let timelock = deploy(url, &compiled.timelock, timelock_args).await?;
            let governor_args =
                (token, timelock, U256::from(VOTING_DELAY), U256::from(VOTING_PERIOD))
                    .abi_encode_params();
            let governor = deploy(url, &compiled.governor, governor_args).await?;
            for role in [
                read(url, timelock, &IDaoTimelock::PROPOSER_ROLECall {}).await?,
                read(url, timelock, &IDaoTimelock::CANCELLER_ROLECall {}).await?,
            ] {
                call(url, timelock, &IDaoTimelock::grantRoleCall { role, account: governor })
                    .await?;
            }
            rpc(url, "anvil_mine", serde_json::json!(["0x1"])).await?;
            Ok(Self { token, timelock, governor })
        })
    }

    /// The Governor's state of a proposal.
    pub fn state(&self, url: &str, proposal_id: U256) -> eyre::Result<u8> {
        block_on(read(url, self.governor, &IDaoGovernor::stateCall { proposalId: proposal_id }))
    }

    /// Proposes, votes for (dev account 0), waits out the vote, queues, waits out the Timelock's
    /// delay and executes the calls; checks each state on the way and returns the proposal id.
    pub fn pass(
        &self,
        url: &str,
        targets: &[Address],
        values: &[U256],
        calldatas: &[Bytes],
        description: &str,
    ) -> eyre::Result<U256> {
        let hash: B256 = keccak256(description.as_bytes());
        let (targets, values, calldatas) = (targets.to_vec(), values.to_vec(), calldatas.to_vec());
        block_on(async {
            let g = self.governor;
            let id = read(
                url,
                g,
                &IDaoGovernor::getProposalIdCall {
                    targets: targets.clone(),
                    values: values.clone(),
                    calldatas: calldatas.clone(),
                    descriptionHash: hash,
                },
            )
            .await?;
            call(
                url,
                g,
                &IDaoGovernor::proposeCall {
                    targets: targets.clone(),
                    values: values.clone(),
                    calldatas: calldatas.clone(),
                    description: description.to_owned(),
                },
            )
            .await?;
            let expect = |what: &str, want: u8, got: u8| {
                if want == got {
                    Ok(())
                } else {
                    Err(eyre!("proposal {id} is in state {got} {what}, not {want}"))
                }
            };
            expect(
                "after propose",
                state::PENDING,
                read(url, g, &IDaoGovernor::stateCall { proposalId: id }).await?,
            )?;
            rpc(url, "anvil_mine", serde_json::json!([format!("{:#x}", VOTING_DELAY + 1)])).await?;
            expect(
                "after the voting delay",
                state::ACTIVE,
                read(url, g, &IDaoGovernor::stateCall { proposalId: id }).await?,
            )?;
            call(url, g, &IDaoGovernor::castVoteCall { proposalId: id, support: 1 }).await?;
            rpc(url, "anvil_mine", serde_json::json!([format!("{:#x}", VOTING_PERIOD + 1)]))
                .await?;
            expect(
                "after the vote",
                state::SUCCEEDED,
                read(url, g, &IDaoGovernor::stateCall { proposalId: id }).await?,
            )?;
            call(
                url,
                g,
                &IDaoGovernor::queueCall {
                    targets: targets.clone(),
                    values: values.clone(),
                    calldatas: calldatas.clone(),
                    descriptionHash: hash,
                },
            )
            .await?;
            expect(
                "after queue",
                state::QUEUED,
                read(url, g, &IDaoGovernor::stateCall { proposalId: id }).await?,
            )?;
            rpc(url, "evm_increaseTime", serde_json::json!([TIMELOCK_DELAY + 1])).await?;
            rpc(url, "evm_mine", serde_json::json!([])).await?;
            call(
                url,
                g,
                &IDaoGovernor::executeCall { targets, values, calldatas, descriptionHash: hash },
            )
            .await?;
            expect(
                "after execute",
                state::EXECUTED,
                read(url, g, &IDaoGovernor::stateCall { proposalId: id }).await?,
            )?;
            Ok(id)
        })
    }
}
