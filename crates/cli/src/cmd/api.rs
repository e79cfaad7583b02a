//! `orbflow api`: the HTTP API of the fleet (Postgres + Redis). Runs started
//! here are enqueued to Redis for the workers; SIGTERM/SIGINT finish the
//! requests in flight and stop.

use std::sync::Arc;

use anyhow::Context as _;
use orbflow_api::{AppState, Config, QueueDispatch, RateLimit, Services};
use orbflow_engine::{Engine, EngineConfig};
use tokio_util::sync::CancellationToken;

use crate::cmd::fleet::{FleetArgs, shutdown_listener};

/// Limits of the API (shared by `api` and `dev`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ApiLimitArgs {
    /// Requests per minute per token (sustained).
    #[arg(long, env = "ORBFLOW_API_RATE_PER_MINUTE", default_value_t = 1200)]
    rate_per_minute: u32,
    /// Requests per token that may arrive at once.
    #[arg(long, env = "ORBFLOW_API_RATE_BURST", default_value_t = 200)]
    rate_burst: u32,
    /// Webhook deliveries per minute per workflow (sustained).
    #[arg(long, env = "ORBFLOW_API_WEBHOOK_RATE_PER_MINUTE", default_value_t = 6000)]
    webhook_rate_per_minute: u32,
    /// Webhook deliveries per workflow that may arrive at once.
    #[arg(long, env = "ORBFLOW_API_WEBHOOK_RATE_BURST", default_value_t = 600)]
    webhook_rate_burst: u32,
    /// Failed authentications per minute per client address (sustained).
    #[arg(long, env = "ORBFLOW_API_AUTH_FAILURE_RATE_PER_MINUTE", default_value_t = 600)]
    auth_failure_rate_per_minute: u32,
    /// Failed authentications per client address that may arrive at once.
    #[arg(long, env = "ORBFLOW_API_AUTH_FAILURE_RATE_BURST", default_value_t = 120)]
    auth_failure_rate_burst: u32,
    /// Largest workflow document, bytes.
    #[arg(long, env = "ORBFLOW_API_MAX_DOCUMENT_BYTES", default_value_t = 1024 * 1024)]
    max_document_bytes: usize,
    /// Largest run input or event body, bytes.
    #[arg(long, env = "ORBFLOW_API_MAX_INPUT_BYTES", default_value_t = 256 * 1024)]
    max_input_bytes: usize,
    /// Largest webhook delivery, bytes.
    #[arg(long, env = "ORBFLOW_API_MAX_WEBHOOK_BYTES", default_value_t = 1024 * 1024)]
    max_webhook_bytes: usize,
}

impl ApiLimitArgs {
    /// The API's configuration, validated.
    pub(crate) fn config(&self) -> anyhow::Result<Config> {
        let c = Config {
            max_document_bytes: self.max_document_bytes,
            max_input_bytes: self.max_input_bytes,
            max_webhook_bytes: self.max_webhook_bytes,
            rate_limit: RateLimit {
                per_minute: self.rate_per_minute,
                burst: self.rate_burst,
            },
            webhook_rate_limit: RateLimit {
                per_minute: self.webhook_rate_per_minute,
                burst: self.webhook_rate_burst,
            },
            auth_failure_rate_limit: RateLimit {
                per_minute: self.auth_failure_rate_per_minute,
                burst: self.auth_failure_rate_burst,
            },
        };
        c.validate()?;
        Ok(c)
    }
}

/// Arguments of `api`.
#[derive(Debug, clap::Args)]
pub(crate) struct ApiArgs {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Address to serve on.
    #[arg(long, env = "ORBFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Also serve /healthz and /readyz on this address (e.g. 0.0.0.0:9090),
    /// as every fleet daemon does; the API's own port answers them too.
    #[arg(long, env = "ORBFLOW_HEALTH_LISTEN")]
    health_listen: Option<String>,
    #[command(flatten)]
    limits: ApiLimitArgs,
}

pub(crate) fn run(args: &ApiArgs) -> anyhow::Result<i32> {
    let Some(urls) = args.fleet.urls("api") else {
        return Ok(2);
    };
    let config = match args.limits.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("orbflow api: {e}");
            return Ok(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        // health after the engine exists, so that it can serve its metrics
        let fleet = args.fleet.connect(urls, None).await?;
        let secrets = EngineConfig::secrets_from_env();
        let engine = Arc::new(Engine::new(
            fleet.store.clone(),
            EngineConfig {
                secrets: secrets.clone(),
                connections: EngineConfig::connections_from_env().map_err(anyhow::Error::msg)?,
                ..EngineConfig::default()
            },
        ));
        let registry = Arc::new(orbflow_actions::Registry::builtin(
            &orbflow_actions::CatalogConfig::from_env(),
        )?);
        let ready = crate::health::check(fleet.store.connection().clone(), fleet.queue.clone());
        let shutdown = CancellationToken::new();
        // the backlog gauges (at /metrics here and on the health listener)
        let store: Arc<dyn orbflow_engine::store::Store> = fleet.store.clone();
        tokio::spawn(orbflow_telemetry::metrics::refresh(
            store,
            crate::cmd::scheduler::BACKLOG_EVERY,
            shutdown.clone(),
        ));
        if let Some(addr) = args.health_listen.as_deref() {
            let e = engine.clone();
            let render = move || orbflow_telemetry::metrics::render(Some(e.stats()));
            crate::health::serve(addr, ready.clone(), Some(Arc::new(render))).await?;
        }
        let state = AppState::new(
            Services {
                admin: fleet.store.clone(),
                engine,
                dispatch: Arc::new(orbflow_telemetry::Traced(Arc::new(QueueDispatch(fleet.queue.clone())))),
                registry,
                secrets,
                ready: Some(ready),
            },
            config,
        );
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let stop = shutdown_listener()?;
        eprintln!("orbflow api: serving on http://{}", listener.local_addr()?);
        let server = tokio::spawn(orbflow_api::serve(listener, state, shutdown.clone()));
        stop.await;
        eprintln!("orbflow api: stopping");
        shutdown.cancel();
        server.await??;
        eprintln!("orbflow api: stopped");
        Ok(0)
    })
}
