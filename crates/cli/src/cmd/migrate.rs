//! `orbflow migrate`: applies the database migrations (idempotent; safe to
//! run from several processes at once).

use anyhow::Context as _;

use crate::cmd::fleet::{FleetArgs, redact};

/// Arguments of `migrate`.
#[derive(Debug, clap::Args)]
pub(crate) struct MigrateArgs {
    #[command(flatten)]
    fleet: FleetArgs,
}

pub(crate) fn run(args: &MigrateArgs) -> anyhow::Result<i32> {
    let Some(url) = &args.fleet.database_url else {
        eprintln!("orbflow: migrate needs --database-url (ORBFLOW_DATABASE_URL)");
        return Ok(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let db = orbflow_store::connect(url)
            .await
            .with_context(|| format!("migrating {}", redact(url)))?;
        let _ = db.close().await;
        eprintln!("migrations applied to {}", redact(url));
        Ok(0)
    })
}
