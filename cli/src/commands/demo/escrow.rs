//! The escrow scene: a client hires a freelancer for three milestones, settled three ways.

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::Provider,
    rpc::types::Filter,
    sol_types::SolEvent,
};
use eyre::{WrapErr, eyre};
use serde_json::json;
use shiftpay_bindings::{
    escrow::{Approval, JobParams, MilestoneEscrow, MilestoneState, Settlement},
    tokens::IERC20,
};

use super::{Demo, Role};

/// The client's review window: three days.
const REVIEW_PERIOD: u32 = 3 * 86_400;
/// The arbiter's ruling period: a week.
const RULING_PERIOD: u32 = 7 * 86_400;
/// The arbiter's fee if it had to rule: 2%.
const ARBITER_FEE_BPS: u16 = 200;
/// The freelancer's share in the settlement of the disputed milestone: 60%.
const SETTLED_WORKER_BPS: u64 = 6_000;
/// The three milestones, in tUSD.
const MILESTONES: [&str; 3] = ["600", "900", "500"];

impl Demo {
    /// Hires, approves by signature, releases after silence, settles a dispute by signatures.
    pub(super) async fn escrow(&mut self) -> eyre::Result<()> {
        let escrow = self.deployment.escrow.address;
        let tusd = self.tusd.clone();
        let amounts =
            MILESTONES.iter().map(|a| tusd.parse_amount(a)).collect::<Result<Vec<U256>, _>>()?;
        let total = amounts.iter().fold(U256::ZERO, |sum, a| sum + a);
        let approve = IERC20::approveCall { spender: escrow, value: total };
        self.send(Role::Client, tusd.address, &approve, U256::ZERO, "approve tUSD").await?;
        let params = JobParams {
            worker: self.address(Role::Freelancer),
            token: tusd.address,
            arbiter: self.address(Role::Arbiter),
            arbiterFeeBps: ARBITER_FEE_BPS,
            maxChangeRequests: 2,
            reviewPeriod: REVIEW_PERIOD,
            rulingPeriod: RULING_PERIOD,
            deadline: 0,
            metadataHash: keccak256(format!(
                "shiftpay demo run {}: a website in three milestones",
                self.run
            )),
            amounts: amounts.clone(),
        };
        let create =
            MilestoneEscrow::createJobCall { params, fundCount: U256::from(amounts.len()) };
        let receipt =
            self.send(Role::Client, escrow, &create, U256::ZERO, "create the job").await?;
        self.job = self.view(escrow, &MilestoneEscrow::jobCountCall {}).await?;
        self.say(format!(
            "client hires the freelancer: job #{}, milestones {} tUSD, {} in escrow, arbiter fee {}%, review {} days  tx {}",
            self.job,
            MILESTONES.join(" + "),
            tusd.format_amount(total),
            ARBITER_FEE_BPS / 100,
            REVIEW_PERIOD / 86_400,
            Self::short(receipt.transaction_hash)
        ));
        let accept = MilestoneEscrow::acceptJobCall { jobId: self.job };
        let receipt =
            self.send(Role::Freelancer, escrow, &accept, U256::ZERO, "accept the job").await?;
        self.say(format!(
            "freelancer accepts job #{}  tx {}",
            self.job,
            Self::short(receipt.transaction_hash)
        ));

        // Milestone 1: approved by the client's signature, submitted by the relayer.
        self.submit(0).await?;
        let nonce = self
            .view(escrow, &MilestoneEscrow::noncesCall { signer: self.address(Role::Client) })
            .await?;
        let deadline = U256::from(self.chain_now().await? + 3_600);
        let approval = Approval { jobId: self.job, milestoneIndex: U256::ZERO, nonce, deadline };
        let chain_id = self.ctx.chain.chain_id;
        let signature = self.sign(Role::Client, approval.signing_hash(chain_id, escrow))?;
        let body = json!({
            "kind": "approve", "chainId": chain_id, "contract": escrow.to_string(),
            "jobId": approval.jobId.to_string(), "milestoneIndex": "0",
            "nonce": nonce.to_string(), "deadline": deadline.to_string(),
            "signature": signature.to_string(),
        });
        let id = self.post_request(&body).await?;
        let hash = self.wait_request(&id, "the client's signed approval").await?;
        self.say(format!(
            "milestone 1: the client signs an approval (EIP-712, no gas); the relayer submits it: {} to the freelancer  tx {}",
            tusd.format_amount(amounts[0]),
            Self::short(hash)
        ));

        // Milestone 2: the client stays silent; the relayer releases it after the review window.
        let from_block = self.ctx.provider.get_block_number().await?;
        self.submit(1).await?;
        self.say(format!(
            "milestone 2: the client stays silent; {} days pass on the chain",
            REVIEW_PERIOD / 86_400
        ));
        self.advance(u64::from(REVIEW_PERIOD) + 60).await?;
        let (job, this) = (self.job, &*self);
        this.wait_for("the relayer to release milestone 2 (review window over)", || async move {
            Ok(this.milestone_state(job, 1).await? == MilestoneState::Released)
        })
        .await?;
        let hash = self
            .event_tx(
                escrow,
                MilestoneEscrow::MilestoneReleasedAfterReview::SIGNATURE_HASH,
                from_block,
            )
            .await?;
        self.say(format!(
            "milestone 2: released by the relayer after the client's silence: {} to the freelancer  tx {}",
            tusd.format_amount(amounts[1]),
            Self::short(hash)
        ));

        // Milestone 3: disputed, then settled by both parties' signatures.
        self.submit(2).await?;
        let dispute =
            MilestoneEscrow::disputeCall { jobId: self.job, milestoneIndex: U256::from(2) };
        let receipt =
            self.send(Role::Client, escrow, &dispute, U256::ZERO, "dispute milestone 3").await?;
        self.say(format!(
            "milestone 3: the client disputes it  tx {}",
            Self::short(receipt.transaction_hash)
        ));
        let deadline = U256::from(self.chain_now().await? + 3_600);
        let mut signed = Vec::new();
        for role in [Role::Client, Role::Freelancer] {
            let signer = self.address(role);
            let nonce = self.view(escrow, &MilestoneEscrow::noncesCall { signer }).await?;
            let settlement = Settlement {
                jobId: self.job,
                milestoneIndex: U256::from(2),
                workerBps: U256::from(SETTLED_WORKER_BPS),
                nonce,
                deadline,
            };
            let signature = self.sign(role, settlement.signing_hash(chain_id, escrow))?;
            signed.push((nonce, signature));
        }
        let body = json!({
            "kind": "settle", "chainId": chain_id, "contract": escrow.to_string(),
            "jobId": self.job.to_string(), "milestoneIndex": "2",
            "workerBps": SETTLED_WORKER_BPS.to_string(), "deadline": deadline.to_string(),
            "clientNonce": signed[0].0.to_string(), "clientSignature": signed[0].1.to_string(),
            "workerNonce": signed[1].0.to_string(), "workerSignature": signed[1].1.to_string(),
        });
        let id = self.post_request(&body).await?;
        let hash = self.wait_request(&id, "the settlement signed by both parties").await?;
        let to_worker = amounts[2] * U256::from(SETTLED_WORKER_BPS) / U256::from(10_000);
        self.say(format!(
            "milestone 3: settled {}/{} by both parties' signatures, submitted by the relayer: {} to the freelancer, {} back to the client, no arbiter fee  tx {}",
            SETTLED_WORKER_BPS / 100,
            100 - SETTLED_WORKER_BPS / 100,
            tusd.format_amount(to_worker),
            tusd.format_amount(amounts[2] - to_worker),
            Self::short(hash)
        ));
        Ok(())
    }

    /// The freelancer submits milestone `index` of this run's job.
    async fn submit(&mut self, index: u64) -> eyre::Result<()> {
        let escrow = self.deployment.escrow.address;
        let call = MilestoneEscrow::submitCall {
            jobId: self.job,
            milestoneIndex: U256::from(index),
            deliverableHash: keccak256(format!("deliverable {index} of job {}", self.job)),
        };
        let receipt = self
            .send(
                Role::Freelancer,
                escrow,
                &call,
                U256::ZERO,
                &format!("submit milestone {}", index + 1),
            )
            .await?;
        self.say(format!(
            "milestone {}: the freelancer submits the work  tx {}",
            index + 1,
            Self::short(receipt.transaction_hash)
        ));
        Ok(())
    }

    /// The status of milestone `index` of `job`.
    pub(super) async fn milestone_state(
        &self,
        job: U256,
        index: u64,
    ) -> eyre::Result<MilestoneState> {
        let call =
            MilestoneEscrow::getMilestoneCall { jobId: job, milestoneIndex: U256::from(index) };
        let milestone = self.view(self.deployment.escrow.address, &call).await?;
        MilestoneState::try_from(milestone.status)
            .map_err(|status| eyre!("unknown milestone status {status}"))
    }

    /// The transaction of the latest `topic0` event of `contract` since `from_block`.
    pub(super) async fn event_tx(
        &self,
        contract: Address,
        topic0: B256,
        from_block: u64,
    ) -> eyre::Result<B256> {
        let filter = Filter::new().address(contract).event_signature(topic0).from_block(from_block);
        let logs = self.ctx.provider.get_logs(&filter).await.wrap_err("eth_getLogs")?;
        logs.last()
            .and_then(|log| log.transaction_hash)
            .ok_or_else(|| eyre!("no such event since block {from_block}"))
    }
}
