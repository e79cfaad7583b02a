//! `orbflow dev [--db PATH] [--listen ADDR]`: the HTTP API, the scheduler
//! (cron triggers), the engine and a worker in one process on SQLite. Prints a development
//! token at start, kept beside the database (`<db>.token`) and reused by the next start.
//! Resumes every unfinished run at start; stops on SIGINT/SIGTERM after
//! in-flight requests and attempts finish and record (nothing is lost: what
//! did not start stays QUEUED in the database for the next start).

use std::path::PathBuf;

use anyhow::Context as _;
use orbflow_engine::EngineConfig;
use orbflow_engine::store::Store;
use orbflow_worker::Embedded;

use crate::output;

/// Arguments of `dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// SQLite database file.
    #[arg(long, env = "ORBFLOW_DB", default_value = "./orbflow.db")]
    db: PathBuf,
    /// Address of the HTTP API.
    #[arg(long, env = "ORBFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    limits: crate::cmd::api::ApiLimitArgs,
    /// Attempts executed at once.
    #[arg(long, env = "ORBFLOW_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Register every workflow file of this folder (e.g. `examples`) at start.
    #[arg(long)]
    import: Option<PathBuf>,
}

pub(crate) fn run(args: &DevArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(dev(args))
}

async fn dev(args: &DevArgs) -> anyhow::Result<i32> {
    let secrets = EngineConfig::secrets_from_env();
    let embedded = Embedded::builder()
        .sqlite(&args.db)
        .secret_keys(Some(dev_secrets_key(&args.db)?))
        .engine(EngineConfig {
            secrets: secrets.clone(),
            connections: EngineConfig::connections_from_env().map_err(anyhow::Error::msg)?,
            ..EngineConfig::default()
        })
        .catalog(orbflow_actions::CatalogConfig::from_env())
        .concurrency(args.concurrency)
        .build()
        .await?;
    let (store, engine) = (embedded.store(), embedded.engine());
    if let Some(dir) = &args.import {
        import(store, dir).await?;
    }
    let api_config = args.limits.config()?;
    let mut finished = embedded.worker().subscribe();
    // the API and the scheduler stop with the worker
    let shutdown = embedded.shutdown_token();
    let scheduler = orbflow_scheduler::Scheduler::exclusive(
        engine.clone(),
        embedded.queue(),
        orbflow_scheduler::SchedulerConfig::default(),
    );
    let scheduler = tokio::spawn(scheduler.run(shutdown.clone()));
    let unfinished = store.unfinished_runs().await?;
    let effects = engine.recover_exclusive().await?;
    eprintln!(
        "orbflow dev: database {}, {} unfinished run(s) resumed ({} step(s) re-queued)",
        args.db.display(),
        unfinished.len(),
        effects.jobs.len(),
    );
    embedded.worker().apply(effects).await;
    let (token, kept) = dev_token(store, &args.db).await?;
    let state = orbflow_api::AppState::new(
        orbflow_api::Services {
            admin: store.clone(),
            engine: engine.clone(),
            dispatch: embedded.dispatch(),
            registry: embedded.registry().clone(),
            secrets,
            ready: None,
        },
        api_config,
    );
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(orbflow_api::serve(listener, state, shutdown.clone()));
    // listening for signals before saying we are up
    let stop = crate::cmd::fleet::shutdown_listener()?;
    eprintln!("orbflow dev: API on http://{addr} (workspace `default`)");
    eprintln!("orbflow dev: run view on http://{addr}/ui/, API reference on http://{addr}/docs");
    eprintln!("orbflow dev: development token (all permissions, {kept}): {token}");
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            Ok((id, status)) = finished.recv() => eprintln!("run {id} {}", status.as_str()),
        }
    }
    eprintln!("orbflow dev: shutting down, letting in-flight steps finish");
    shutdown.cancel();
    let _ = server.await;
    let _ = scheduler.await;
    embedded.shutdown().await;
    eprintln!("orbflow dev: stopped");
    Ok(0)
}

/// The development token, with every permission in the `default`
/// workspace: the one kept beside the database (`<db>.token`, readable by
/// its owner only) while it is still valid, so that a restart does not
/// mint another; a new one otherwise, kept there. Also says which.
async fn dev_token(store: &orbflow_store::SeaStore, db: &std::path::Path) -> anyhow::Result<(String, String)> {
    use orbflow_engine::admin::Admin as _;
    let file = PathBuf::from(format!("{}.token", db.display()));
    if let Ok(kept) = std::fs::read_to_string(&file) {
        let kept = kept.trim().to_owned();
        let valid = store
            .token_by_hash(&orbflow_api::auth::hash_token(&kept))
            .await?
            .is_some_and(|t| t.revoked_at.is_none());
        if valid {
            return Ok((kept, format!("reused from {}", file.display())));
        }
    }
    let ws = store.ensure_workspace("default").await?;
    let (_, secret) = orbflow_api::auth::issue_token(store, ws.id, "orbflow dev", &["*".to_owned()])
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    write_private(&file, &secret).with_context(|| format!("keeping the token in {}", file.display()))?;
    Ok((secret, format!("kept in {}", file.display())))
}

/// The key that seals the workspace secrets: `ORBFLOW_SECRETS_KEY` (or
/// its file) when set, else `<db>.key` beside the database, created with a
/// new random key on first start (owner-only).
fn dev_secrets_key(db: &std::path::Path) -> anyhow::Result<orbflow_store::sealing::SecretKeys> {
    use orbflow_store::sealing::SecretKeys;
    if let Some(k) = SecretKeys::from_env()? {
        return Ok(k);
    }
    let file = PathBuf::from(format!("{}.key", db.display()));
    let key = match std::fs::read_to_string(&file) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let k = SecretKeys::generate();
            write_private(&file, &k).with_context(|| format!("writing the secrets key {}", file.display()))?;
            eprintln!("orbflow dev: created the secrets key {}", file.display());
            k
        }
        Err(e) => return Err(e).with_context(|| format!("reading the secrets key {}", file.display())),
    };
    SecretKeys::new(&key, &[]).with_context(|| format!("the secrets key {}", file.display()))
}

/// Writes `text` to `path`, readable and writable by the owner only.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}

async fn import(store: &orbflow_store::SeaStore, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !matches!(ext, "yaml" | "yml" | "json") {
            continue;
        }
        let file = path.display().to_string();
        match output::load(&file) {
            Ok(p) => {
                let doc = orbflow_model::dsl::canonical_json(&p.workflow)?;
                let slug = path.file_stem().and_then(|s| s.to_str()).unwrap_or("workflow");
                let v = store.ensure_version("default", slug, &p.workflow.name, &doc).await?;
                eprintln!("imported {file} as {slug} v{}", v.number);
                n += 1;
            }
            Err(d) => output::print_human(&file, &d),
        }
    }
    eprintln!("imported {n} workflow(s) from {}", dir.display());
    Ok(())
}
