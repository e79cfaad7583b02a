//! `orbflow connections set NAME --kind KIND --settings JSON|@FILE
//! [--default] | list | get NAME | delete NAME`: the workspace's providers
//! through the API. Credentials in the settings are `{{ secrets.NAME }}`
//! templates; set their values with `orbflow secrets set`.

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::cmd::client::{Client, ClientArgs, is_ok, print, report};

/// Arguments of `connections`.
#[derive(Debug, clap::Args)]
pub(crate) struct ConnectionsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: ConnectionsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ConnectionsCommand {
    /// Create or replace a connection.
    Set {
        /// Name (`config.connection` in steps): lower-case letters, digits, `-`.
        name: String,
        /// Kind: `smtp`, `slack` or `inbox_webhook` (docs/WORKFLOW_ACTIONS.md, "Connections").
        #[arg(long)]
        kind: String,
        /// Settings as JSON, or `@FILE` to read them from a file.
        #[arg(long)]
        settings: String,
        /// Make it the default of its kind (steps that name none use it).
        #[arg(long)]
        default: bool,
    },
    /// List the workspace's connections.
    List,
    /// Show one connection.
    Get {
        /// Name.
        name: String,
    },
    /// Delete a connection.
    Delete {
        /// Name.
        name: String,
    },
}

/// `--settings`: inline JSON or `@FILE`.
fn read_settings(arg: &str) -> anyhow::Result<Value> {
    let text = match arg.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => arg.to_owned(),
    };
    serde_json::from_str(&text).context("--settings is not JSON")
}

pub(crate) fn run(args: &ConnectionsArgs) -> anyhow::Result<i32> {
    let settings = match &args.command {
        ConnectionsCommand::Set { settings, .. } => match read_settings(settings) {
            Ok(v) => Some(v),
            Err(e) => {
                eprintln!("orbflow connections: {e:#}");
                return Ok(2);
            }
        },
        _ => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let Some(c) = Client::new(&args.client)? else {
            return Ok(2);
        };
        let (answer, what) = match &args.command {
            ConnectionsCommand::Set {
                name, kind, default, ..
            } => {
                let body = json!({ "kind": kind, "settings": settings, "default": default });
                let a = c.put_json(&format!("/v1/connections/{name}"), &body).await?;
                if is_ok(&a) {
                    eprintln!("{name}: {}", if a.status == 201 { "created" } else { "replaced" });
                }
                (a, name.clone())
            }
            ConnectionsCommand::List => (c.get("/v1/connections").await?, "connections".to_owned()),
            ConnectionsCommand::Get { name } => (c.get(&format!("/v1/connections/{name}")).await?, name.clone()),
            ConnectionsCommand::Delete { name } => {
                let a = c.delete(&format!("/v1/connections/{name}")).await?;
                if is_ok(&a) {
                    eprintln!("{name}: deleted");
                }
                (a, name.clone())
            }
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
