//! The demo's cast and the relayer: fresh development accounts for this run, their gas money
//! and stablecoins, and the relayer library started in this process.

use std::{
    collections::HashMap,
    path::Path,
    time::{Duration, Instant},
};

use alloy::{
    network::{EthereumWallet, TransactionBuilder},
    primitives::U256,
    rpc::types::TransactionRequest,
};
use eyre::{WrapErr, eyre};
use shiftpay_bindings::{
    devnet::{DevnetStablecoin, STABLECOIN_SYMBOL, dev_signer},
    escrow::MilestoneEscrow,
    tokens::Token,
    tx,
};
use shiftpay_relayer::{Config, Relayer, config::Env};

use super::{DEMO_DIR, Demo, Party, Role};
use crate::{
    commands::devnet::{DEPLOYER_INDEX, Paths},
    context::Context,
};

/// The relayer's signer: development account 1 (funded at genesis).
pub(super) const RELAYER_INDEX: u32 = 1;
/// Run `n`'s parties are accounts `FIRST_PARTY_INDEX + 10 n ..` of the mnemonic.
const FIRST_PARTY_INDEX: u32 = 100;
/// The relayer's payday in the demo: the first of every month (chain time, UTC).
pub(super) const PAYDAY: &str = "monthly 1 00:00";

impl Demo {
    /// Reads the deployment, picks this run's accounts, funds them and starts the relayer.
    pub(super) async fn setup(
        ctx: Context,
        paths: &Paths,
        step_timeout: Duration,
        started: Instant,
    ) -> eyre::Result<Self> {
        let deployment = ctx.deployment()?.clone();
        let listed = deployment.tokens.iter().find(|t| t.symbol == STABLECOIN_SYMBOL);
        let tusd = Token::from_deployed(listed.ok_or_else(|| {
            eyre!(
                "{} lists no {STABLECOIN_SYMBOL}: run `shiftpay devnet reset`",
                ctx.show_path(ctx.deployment_path())
            )
        })?);
        let rbtc = Token::native(&ctx.chain);
        let jobs = crate::commands::payroll_common::read(
            &ctx,
            deployment.escrow.address,
            &MilestoneEscrow::jobCountCall {},
        )
        .await?;
        // One job per run: the job count numbers the runs.
        let run = u64::try_from(jobs).unwrap_or(u64::MAX);
        let base = FIRST_PARTY_INDEX + 10 * u32::try_from(run).unwrap_or(u32::MAX / 20);
        let parties = Role::ALL
            .iter()
            .zip(base..)
            .map(|(&role, index)| Party { role, signer: dev_signer(index) })
            .collect();
        let dir = paths.dir.join(DEMO_DIR).join(format!("run-{run}"));
        std::fs::create_dir_all(&dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        let mut policy = ctx.policy(&Self::tx_opts());
        policy.poll_interval = Duration::from_millis(50);
        let mut demo = Self {
            ctx,
            deployment,
            tusd,
            rbtc,
            run,
            dir,
            parties,
            gas: HashMap::new(),
            policy,
            relayer: None,
            api: String::new(),
            http: reqwest::Client::new(),
            step_timeout,
            started,
            job: U256::ZERO,
        };
        demo.say(format!(
            "demo run {run} on the devnet ({}, chain {}); contracts from {}",
            demo.ctx.rpc_display(),
            demo.ctx.chain.chain_id,
            demo.ctx.show_path(demo.ctx.deployment_path())
        ));
        demo.fund().await?;
        demo.start_relayer(paths).await?;
        Ok(demo)
    }

    /// Gas money from the devnet's faucet (development account 0) and tUSD minted by the payers.
    async fn fund(&mut self) -> eyre::Result<()> {
        let faucet = EthereumWallet::from(dev_signer(DEPLOYER_INDEX));
        let gas_money = [(Role::Treasury, "1"), (Role::Client, "0.05"), (Role::Freelancer, "0.05")];
        for (role, amount) in gas_money {
            let value = self.rbtc.parse_amount(amount)?;
            let request =
                TransactionRequest::default().with_to(self.address(role)).with_value(value);
            tx::send_and_confirm(&self.ctx.provider, &faucet, &self.policy, request, |_| {})
                .await
                .map_err(|error| self.ctx.tx_error(error))?;
        }
        self.say(format!(
            "cast: accounts {}.. of the dev mnemonic; faucet sent 1 {rbtc} to the DAO treasury, 0.05 {rbtc} to the client and the freelancer (the workers get none: the relayer pays their gas)",
            FIRST_PARTY_INDEX + 10 * u32::try_from(self.run).unwrap_or(0),
            rbtc = self.rbtc.symbol
        ));
        let tusd = self.tusd.address;
        for (role, amount) in [(Role::Treasury, "7000"), (Role::Client, "2000")] {
            let units = self.tusd.parse_amount(amount)?;
            let to = self.address(role);
            let call = DevnetStablecoin::mintCall { to, amount: units };
            self.send(role, tusd, &call, U256::ZERO, "mint tUSD").await?;
        }
        self.say("the DAO treasury minted 7000 tUSD and the client 2000 tUSD (the devnet stablecoin's open mint)");
        // The flows start now: gas spent getting here is not part of them.
        self.gas.clear();
        Ok(())
    }

    /// Starts the relayer library in this process: memory store, API on a free local port,
    /// a monthly payday, one confirmation, fast polling.
    async fn start_relayer(&mut self, paths: &Paths) -> eyre::Result<()> {
        let config = relayer_config(&self.ctx, paths.dir.as_path())?;
        let signer = config.signer.description.clone();
        let handle = Relayer::start(config).await.wrap_err("starting the relayer")?;
        let addr = handle.api_addr().ok_or_else(|| eyre!("the relayer serves no API"))?;
        self.api = format!("http://{addr}");
        self.relayer = Some(handle);
        self.say(format!(
            "relayer started in this process: API {}, signer {} ({signer}), payday \"{PAYDAY}\"",
            self.api,
            dev_signer(RELAYER_INDEX).address()
        ));
        let ready = format!("{}/ready", self.api);
        let http = self.http.clone();
        self.wait_for("the relayer to catch up with the chain", || {
            let (http, ready) = (http.clone(), ready.clone());
            async move { Ok(http.get(&ready).send().await.is_ok_and(|r| r.status().is_success())) }
        })
        .await
    }
}

/// The relayer's configuration for the demo, from the same TOML keys an operator writes.
fn relayer_config(ctx: &Context, dir: &Path) -> eyre::Result<Config> {
    let text = format!(
        "chain = \"devnet\"\n\
         rpc_url = {url:?}\n\
         deployment = {deployment:?}\n\
         storage = \"memory://\"\n\
         confirmations = 1\n\
         poll_interval = \"250ms\"\n\
         rpc_timeout = \"5s\"\n\
         shutdown_timeout = \"5s\"\n\
         paydays = [{PAYDAY:?}]\n\
         [api]\n\
         listen = \"127.0.0.1:0\"\n\
         rate_limit_per_minute = 1000\n",
        url = ctx.rpc_url,
        deployment = ctx.deployment_path().display().to_string(),
    );
    let key = alloy::hex::encode_prefixed(dev_signer(RELAYER_INDEX).to_bytes());
    let env: Env = [(shiftpay_relayer::config::PRIVATE_KEY_ENV.to_owned(), key)].into();
    Config::from_toml_str(&text, dir, &env).map_err(|errors| eyre!("the demo's relayer: {errors}"))
}
