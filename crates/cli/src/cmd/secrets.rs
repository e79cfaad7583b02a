//! `orbflow secrets set NAME [--file F] | list | delete NAME`: the
//! workspace's secrets through the API (the value from stdin or a file,
//! never an argument, so it stays out of shell history and `ps`); and
//! `orbflow secrets rotate`: every value re-sealed under the current
//! `ORBFLOW_SECRETS_KEY`, straight in the database.

use std::io::Read as _;

use anyhow::Context as _;
use serde_json::json;

use crate::cmd::client::{Client, ClientArgs, is_ok, print, report};

/// Arguments of `secrets`.
#[derive(Debug, clap::Args)]
pub(crate) struct SecretsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SecretsCommand {
    /// Set a secret: its value from stdin (one trailing newline dropped) or `--file`.
    Set {
        /// Name (`{{ secrets.NAME }}`).
        name: String,
        /// Read the value from this file (as is) instead of stdin.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// List the workspace's secrets (names and times, never values).
    List,
    /// Delete a secret.
    Delete {
        /// Name.
        name: String,
    },
    /// Re-seal every secret under the current ORBFLOW_SECRETS_KEY (after a
    /// key change, with the old key in ORBFLOW_SECRETS_OLD_KEYS), in the database.
    Rotate {
        /// Database URL (`postgres://…` or `sqlite://…`).
        #[arg(long, env = "ORBFLOW_DATABASE_URL")]
        database_url: Option<String>,
        /// SQLite file of `orbflow dev` (when no --database-url).
        #[arg(long, env = "ORBFLOW_DB", default_value = "./orbflow.db")]
        db: std::path::PathBuf,
    },
}

/// The value to set: the file as is, or stdin without one trailing newline.
fn read_value(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    if let Some(f) = file {
        return std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()));
    }
    let mut v = String::new();
    std::io::stdin()
        .read_to_string(&mut v)
        .context("reading the value from stdin")?;
    if v.ends_with('\n') {
        v.pop();
        if v.ends_with('\r') {
            v.pop();
        }
    }
    Ok(v)
}

pub(crate) fn run(args: &SecretsArgs) -> anyhow::Result<i32> {
    if let SecretsCommand::Rotate { database_url, db } = &args.command {
        return rotate(database_url.as_deref(), db);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let Some(c) = Client::new(&args.client)? else {
            return Ok(2);
        };
        let (answer, what) = match &args.command {
            SecretsCommand::Set { name, file } => {
                let value = read_value(file.as_deref())?;
                let a = c
                    .put_json(&format!("/v1/secrets/{name}"), &json!({ "value": value }))
                    .await?;
                if is_ok(&a) {
                    eprintln!("{name}: {}", if a.status == 201 { "created" } else { "replaced" });
                }
                (a, name.clone())
            }
            SecretsCommand::List => (c.get("/v1/secrets").await?, "secrets".to_owned()),
            SecretsCommand::Delete { name } => {
                let a = c.delete(&format!("/v1/secrets/{name}")).await?;
                if is_ok(&a) {
                    eprintln!("{name}: deleted");
                }
                (a, name.clone())
            }
            SecretsCommand::Rotate { .. } => unreachable!("handled above"),
        };
        if !is_ok(&answer) {
            return Ok(report(&answer, &what));
        }
        if answer.status != 204 {
            print(&answer.body)?;
        }
        Ok(0)
    })
}

fn rotate(database_url: Option<&str>, db: &std::path::Path) -> anyhow::Result<i32> {
    let Some(keys) = orbflow_store::sealing::SecretKeys::from_env()? else {
        eprintln!(
            "orbflow secrets rotate: set ORBFLOW_SECRETS_KEY to the new key and ORBFLOW_SECRETS_OLD_KEYS to the old one(s)"
        );
        return Ok(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let url = database_url.map_or_else(|| format!("sqlite://{}?mode=rwc", db.display()), str::to_owned);
        let conn = orbflow_store::connect(&url)
            .await
            .with_context(|| format!("opening {}", crate::cmd::fleet::redact(&url)))?;
        let id = keys.current_id().to_owned();
        let store = orbflow_store::SeaStore::with_secret_keys(conn, Some(keys));
        let n = store.reseal_secrets().await?;
        eprintln!("orbflow secrets rotate: {n} secret(s) re-sealed under key {id}");
        Ok(0)
    })
}
