//! `orbflow token create --workspace W --permissions …`: issues the first
//! token of a workspace (created if missing), straight in the database. The
//! secret goes to stdout, once; only its hash is stored.

use anyhow::Context as _;
use orbflow_engine::admin::Admin;

/// Arguments of `token`.
#[derive(Debug, clap::Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TokenCommand {
    /// Issue a token (prints the secret on stdout).
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// Workspace slug (created if it does not exist).
    #[arg(long)]
    workspace: String,
    /// Comma-separated permissions, e.g. `workflows:*,runs:*` or `*`.
    #[arg(long, value_delimiter = ',', required = true)]
    permissions: Vec<String>,
    /// Label of the token.
    #[arg(long, default_value = "cli")]
    name: String,
    /// Database URL (`postgres://…` or `sqlite://…`).
    #[arg(long, env = "ORBFLOW_DATABASE_URL")]
    database_url: Option<String>,
    /// SQLite file of `orbflow dev` (when no --database-url).
    #[arg(long, env = "ORBFLOW_DB", default_value = "./orbflow.db")]
    db: std::path::PathBuf,
}

pub(crate) fn run(args: &TokenArgs) -> anyhow::Result<i32> {
    let TokenCommand::Create(a) = &args.command;
    let ok_slug = !a.workspace.is_empty()
        && a.workspace.len() <= 63
        && a.workspace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok_slug {
        eprintln!("orbflow token: --workspace must match [a-z0-9_-]+ (at most 63 characters)");
        return Ok(2);
    }
    let registry = orbflow_actions::Registry::specs_only()?;
    let known = orbflow_api::auth::known_permissions(&registry);
    let bad: Vec<String> = a
        .permissions
        .iter()
        .filter_map(|p| orbflow_api::auth::check_permission(p, &known).err())
        .collect();
    if a.permissions.is_empty() || !bad.is_empty() {
        for b in &bad {
            eprintln!("orbflow token: {b}");
        }
        if a.permissions.is_empty() {
            eprintln!("orbflow token: --permissions needs at least one permission");
        }
        return Ok(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let url = a
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", a.db.display()));
        let conn = orbflow_store::connect(&url)
            .await
            .with_context(|| format!("opening {}", crate::cmd::fleet::redact(&url)))?;
        let store = orbflow_store::SeaStore::new(conn);
        let ws = store.ensure_workspace(&a.workspace).await?;
        let (record, secret) = orbflow_api::auth::issue_token(store.as_ref(), ws.id, &a.name, &a.permissions)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        eprintln!(
            "token {} ({}) for workspace {}: {}",
            record.id,
            record.prefix,
            ws.slug,
            record.permissions.join(",")
        );
        println!("{secret}");
        Ok(0)
    })
}
