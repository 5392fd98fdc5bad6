//! `shiftpay job …`: milestone escrow jobs from the client's, the worker's and the arbiter's
//! side. One file per subcommand; what they share (loading a job, hashing a deliverable, the
//! receipt's events as sentences, revert explanations) is in [`common`].
//!
//! Milestones are numbered from 0, as the contract and its events number them.

mod accept;
mod approve;
mod cancel;
pub(crate) mod common;
mod create;
mod dispute;
mod fund;
mod list;
mod reclaim;
mod release;
mod request_changes;
mod resign;
mod resolve;
mod settle;
mod show;
mod submit;
mod withdraw;

use clap::{Args, Subcommand};

use crate::output::OutputArgs;

/// Arguments of `shiftpay job`.
#[derive(Debug, Args)]
pub(crate) struct JobArgs {
    #[command(subcommand)]
    command: JobCommand,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Client: offer a job to a worker, with its milestones, review period and optional arbiter,
    /// and fund milestones (all of them unless `--fund`).
    Create(create::CreateArgs),
    /// Client: fund milestones not funded yet (approves the ERC-20 first when needed).
    Fund(fund::FundArgs),
    /// Worker: accept an offered job (it becomes active).
    Accept(accept::AcceptArgs),
    /// Worker: submit a milestone's deliverable (a file or URL, hashed on chain); starts the
    /// client's review window.
    Submit(submit::SubmitArgs),
    /// Client: approve a milestone and pay it to the worker now.
    Approve(approve::ApproveArgs),
    /// Client: ask for changes on a submitted milestone (capped per milestone).
    RequestChanges(request_changes::RequestChangesArgs),
    /// Client or worker: dispute a milestone before the job's arbiter.
    Dispute(dispute::DisputeArgs),
    /// Arbiter: rule a disputed milestone (the worker's share; the arbiter's fee comes first).
    Resolve(resolve::ResolveArgs),
    /// Client or worker: settle a milestone with the other party's signed split (`shiftpay sign
    /// settle`); no arbiter, no fee.
    Settle(settle::SettleArgs),
    /// Client: withdraw an offer not yet accepted, or cancel an active job with notice to the
    /// worker; once the notice is over, anyone runs it again to refund what was not submitted.
    Cancel(cancel::CancelArgs),
    /// Client: take back an abandoned milestone (a change request left unanswered, no arbiter),
    /// or without MILESTONE the unsubmitted ones after the job's deadline.
    Reclaim(reclaim::ReclaimArgs),
    /// Worker: resign from an active job (funded and changes-requested milestones go back).
    Resign(resign::ResignArgs),
    /// Anyone: pay a submitted milestone to the worker once its review window passed in silence
    /// (or split a disputed one 50/50 once the arbiter's ruling period passed: parties only).
    Release(release::ReleaseArgs),
    /// Withdraw payouts credited to you after a failed transfer (deferred payments).
    Withdraw(withdraw::WithdrawArgs),
    /// A job and its milestones: states, amounts, windows.
    Show(show::ShowArgs),
    /// Jobs of a client or a worker, from the escrow's events.
    List(list::ListArgs),
}

pub(crate) async fn run(args: &JobArgs, out: &OutputArgs) -> eyre::Result<()> {
    match &args.command {
        JobCommand::Create(args) => create::run(args, out).await,
        JobCommand::Fund(args) => fund::run(args, out).await,
        JobCommand::Accept(args) => accept::run(args, out).await,
        JobCommand::Submit(args) => submit::run(args, out).await,
        JobCommand::Approve(args) => approve::run(args, out).await,
        JobCommand::RequestChanges(args) => request_changes::run(args, out).await,
        JobCommand::Dispute(args) => dispute::run(args, out).await,
        JobCommand::Resolve(args) => resolve::run(args, out).await,
        JobCommand::Settle(args) => settle::run(args, out).await,
        JobCommand::Cancel(args) => cancel::run(args, out).await,
        JobCommand::Reclaim(args) => reclaim::run(args, out).await,
        JobCommand::Resign(args) => resign::run(args, out).await,
        JobCommand::Release(args) => release::run(args, out).await,
        JobCommand::Withdraw(args) => withdraw::run(args, out).await,
        JobCommand::Show(args) => show::run(args, out).await,
        JobCommand::List(args) => list::run(args, out).await,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_command_definition_is_valid() {
        // clap checks a subcommand's definition only when it runs; check them all at once.
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }
}
