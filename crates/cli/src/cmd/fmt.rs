//! `orbflow fmt FILE --to yaml|json`: the canonical form on stdout.

use orbflow_model::dsl;

use crate::output;

/// Output format of `fmt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum To {
    /// Canonical YAML.
    Yaml,
    /// Canonical JSON.
    Json,
}

/// Arguments of `fmt`.
#[derive(Debug, clap::Args)]
pub(crate) struct FmtArgs {
    /// Workflow file (`-` reads stdin as YAML).
    file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = To::Yaml)]
    to: To,
}

pub(crate) fn run(args: &FmtArgs) -> anyhow::Result<i32> {
    let parsed = match output::parse(&args.file) {
        Ok(p) => p,
        Err(d) => {
            output::print_human(&args.file, &d);
            return Ok(2);
        }
    };
    let text = match args.to {
        To::Yaml => dsl::to_yaml(&parsed.workflow)?,
        To::Json => dsl::to_json(&parsed.workflow)?,
    };
    print!("{text}");
    Ok(0)
}
