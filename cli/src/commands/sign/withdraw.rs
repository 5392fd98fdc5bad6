//! `shiftpay sign withdraw STREAM --amount AMOUNT`: the worker signs a withdraw request from a
//! payroll stream; anyone submits it (`shiftpay submit`, a relayer, `cast send`) and the worker
//! needs no rBTC for gas.

use alloy::primitives::U256;
use clap::Args;
use eyre::{bail, eyre};
use shiftpay_bindings::{
    chains::parse_address,
    deployment::Deployment,
    payroll::{Payroll, WithdrawRequest},
    tokens::{TokenRef, resolve_known},
};

use super::{
    SignOpts, Signing, Target,
    document::{Document, Message, Role},
    emit,
};
use crate::{commands::job::common::job_token, context::Context, output::OutputArgs};

/// Arguments of `shiftpay sign withdraw`.
#[derive(Debug, Args)]
pub(crate) struct WithdrawArgs {
    /// The stream's id.
    #[arg(value_name = "STREAM")]
    stream: u64,

    /// How much to withdraw, in the stream's token (`150.5`), or `all`: what is withdrawable
    /// now (online only).
    #[arg(long, value_name = "AMOUNT|all")]
    amount: String,

    /// Where the tokens go (default: the worker).
    #[arg(long, value_name = "ADDRESS")]
    to: Option<String>,

    /// The stream's token, to read `--amount` offline (a symbol of the chain preset or the
    /// deployment file, or `rbtc`); online it is read from the stream.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,

    #[command(flatten)]
    opts: SignOpts,
}

pub(super) async fn run(args: &WithdrawArgs, out: &OutputArgs) -> eyre::Result<()> {
    let to = args.to.as_deref().map(parse_address).transpose().map_err(|e| eyre!("--to: {e}"))?;
    let token_ref = args.token.as_deref().map(str::parse::<TokenRef>).transpose()?;
    let target = Target::open(&args.opts, |d| d.payroll.address).await?;
    Signing::refuse_via(&args.opts, "withdraw")?;
    let signing = Signing::open(&args.opts, &target, None).await?;
    let to = to.unwrap_or(signing.signer);
    let given_nonce = Signing::given_nonce(&args.opts)?;
    let (amount, token, nonce) = match &target.ctx {
        Some(ctx) => online(ctx, args, &target, &signing, token_ref.as_ref(), given_nonce).await?,
        None => {
            let Some(token_ref) = token_ref else {
                bail!(
                    "signing a withdraw offline needs --token (the stream's token) to read --amount"
                );
            };
            // The deployment file, when it is here, lists the devnet's extra tokens.
            let path = Deployment::default_path(&std::env::current_dir()?, target.chain_id());
            let extra = Deployment::load_for_chain(&path, target.chain_id())
                .map(|d| d.tokens)
                .unwrap_or_default();
            let token = resolve_known(&target.chain, &token_ref, &extra)?;
            if args.amount.trim().eq_ignore_ascii_case("all") {
                bail!(
                    "--amount all needs the node (what is withdrawable now): give an amount to sign offline"
                );
            }
            let amount = token.parse_amount(&args.amount)?;
            (amount, token, given_nonce.expect("offline signing has --nonce"))
        }
    };
    if amount.is_zero() {
        bail!("--amount must be more than 0");
    }
    let message = Message::Withdraw(WithdrawRequest {
        streamId: U256::from(args.stream),
        to,
        amount,
        nonce,
        deadline: U256::from(signing.deadline),
    });
    let description = format!(
        "withdraw {} from stream {} to {}",
        token.format_amount(amount),
        args.stream,
        target.chain.format_address(to)
    );
    let entry = signing.sign(Role::Worker, message, &target).await?;
    let document = Document::single(target.chain_id(), target.contract, description, entry);
    emit(&document, &target, args.opts.out.as_deref(), out)
}

/// Reads the stream: the signer must be its worker; the amount in its token (`all`: what is
/// withdrawable now); the worker's nonce unless given.
async fn online(
    ctx: &Context,
    args: &WithdrawArgs,
    target: &Target,
    signing: &Signing,
    token_ref: Option<&TokenRef>,
    given_nonce: Option<U256>,
) -> eyre::Result<(U256, shiftpay_bindings::tokens::Token, U256)> {
    let payroll = Payroll::new(target.contract, &ctx.provider);
    let id = U256::from(args.stream);
    let stream = payroll.getStream(id).call().await.map_err(|e| {
        match shiftpay_bindings::revert::contract_revert_data(&e)
            .map(|d| shiftpay_bindings::revert::decode_revert(&d))
        {
            Some(revert) if revert.name() == Some("Payroll_StreamNotFound") => {
                eyre!("there is no stream {}", args.stream)
            }
            _ => eyre!("cannot read stream {}: {e}", args.stream),
        }
    })?;
    if signing.signer != stream.worker {
        bail!(
            "{} is not the worker of stream {} (the worker is {}): the payroll takes withdraw requests signed by the worker only",
            ctx.format_address(signing.signer),
            args.stream,
            ctx.format_address(stream.worker)
        );
    }
    let token = job_token(ctx, stream.token).await?;
    if let Some(given) = token_ref {
        let extra = ctx.deployment()?.tokens.clone();
        let named = resolve_known(&ctx.chain, given, &extra).ok();
        if named.as_ref().map(|t| t.address) != Some(stream.token) {
            bail!("--token {given} is not stream {}'s token ({})", args.stream, token.symbol);
        }
    }
    let withdrawable = payroll
        .withdrawable(id)
        .call()
        .await
        .map_err(|e| eyre!("cannot read what stream {} can withdraw: {e}", args.stream))?;
    let amount = if args.amount.trim().eq_ignore_ascii_case("all") {
        if withdrawable.is_zero() {
            bail!("stream {} has nothing withdrawable now", args.stream);
        }
        withdrawable
    } else {
        let amount = token.parse_amount(&args.amount)?;
        if amount > withdrawable {
            eprintln!(
                "note: {} is more than stream {} can withdraw now ({}): the request fails until the stream has earned it and the pool covers it",
                token.format_amount(amount),
                args.stream,
                token.format_amount(withdrawable)
            );
        }
        amount
    };
    let nonce = match given_nonce {
        Some(nonce) => nonce,
        None => payroll
            .nonces(signing.signer)
            .call()
            .await
            .map_err(|e| eyre!("cannot read the worker's nonce: {e}"))?,
    };
    Ok((amount, token, nonce))
}
