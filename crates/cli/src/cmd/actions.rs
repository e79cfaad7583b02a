//! `orbflow actions [NAME] [--json]`: the catalog, or one action.

use orbflow_actions::ActionSpec;

use crate::output;

/// Arguments of `actions`.
#[derive(Debug, clap::Args)]
pub(crate) struct ActionsArgs {
    /// Show this action only (its config schema, example, output, connection).
    name: Option<String>,
    /// Print the full catalog (schemas, examples) as JSON.
    #[arg(long)]
    json: bool,
}

/// One action, for a person.
fn show(s: &ActionSpec) -> anyhow::Result<()> {
    println!(
        "{}

{}
",
        s.name, s.description
    );
    println!("category:     {}", s.category.as_str());
    let status = match (s.block, s.implemented) {
        (true, _) => "control-flow block",
        (false, true) => "ready",
        (false, false) => "not configured in this build",
    };
    println!("status:       {status}");
    let perms = if s.required_permissions.is_empty() {
        "-".to_owned()
    } else {
        s.required_permissions.join(", ")
    };
    println!("permissions:  {perms}");
    if let Some(c) = s.connection {
        let how = if c.optional { " (optional)" } else { "" };
        println!("connection:   {}{how}", c.kind);
    }
    println!(
        "output:       {}
",
        s.output
    );
    println!(
        "example config:
{}
",
        serde_json::to_string_pretty(&s.example)?
    );
    println!(
        "config schema:
{}
",
        serde_json::to_string_pretty(&s.config_schema)?
    );
    println!("security: {}", s.security);
    Ok(())
}

pub(crate) fn run(args: &ActionsArgs) -> anyhow::Result<i32> {
    let registry = output::catalog();
    if let Some(name) = &args.name {
        let wanted = name.to_ascii_uppercase();
        let Some(spec) = registry.spec(&wanted) else {
            let names: Vec<&str> = registry.specs().map(|s| s.name).collect();
            let hint = orbflow_model::validate::diagnostic::suggestion(&wanted, names);
            eprintln!("orbflow actions: no action `{name}`{hint}");
            return Ok(2);
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(spec)?);
        } else {
            show(spec)?;
        }
        return Ok(0);
    }
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
