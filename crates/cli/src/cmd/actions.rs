//! `orbflow actions [--json]`: the catalog.

use crate::output;

/// Arguments of `actions`.
#[derive(Debug, clap::Args)]
pub(crate) struct ActionsArgs {
    /// Print the full catalog (schemas, examples) as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &ActionsArgs) -> anyhow::Result<i32> {
    let registry = output::catalog();
    if args.json {
        let specs: Vec<_> = registry.specs().collect();
        println!("{}", serde_json::to_string_pretty(&specs)?);
        return Ok(0);
    }
    println!(
        "{:<22} {:<13} {:<16} {:<15} DESCRIPTION",
        "NAME", "CATEGORY", "STATUS", "PERMISSIONS"
    );
    for s in registry.specs() {
        let status = if s.block {
            "block"
        } else if s.implemented {
            "ready"
        } else {
            "not configured"
        };
        let perms = if s.required_permissions.is_empty() {
            "-".to_owned()
        } else {
            s.required_permissions.join(",")
        };
        println!(
            "{:<22} {:<13} {:<16} {:<15} {}",
            s.name,
            s.category.as_str(),
            status,
            perms,
            s.description
        );
    }
    Ok(0)
}
