//! `orbflow validate FILE...`: exit 0 when every file is valid, 2 otherwise.

use crate::output::{self, DiagFormat};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Workflow files (YAML, or JSON by extension; `-` reads stdin as YAML).
    #[arg(required = true)]
    files: Vec<String>,
    /// Output format of the errors.
    #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
    format: DiagFormat,
}

pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<i32> {
    let mut all = Vec::new();
    let mut invalid = 0;
    for file in &args.files {
        match output::load(file) {
            Ok(p) => {
                if args.format == DiagFormat::Human {
                    let n = orbflow_model::plan::count(&p.workflow.steps);
                    eprintln!("{file}: valid ({n} steps, {} triggers)", p.workflow.triggers.len());
                }
            }
            Err(d) => {
                invalid += 1;
                match args.format {
                    DiagFormat::Human => output::print_human(file, &d),
                    DiagFormat::Json => all.extend(d.iter().map(|x| output::json_entry(file, x))),
                }
            }
        }
    }
    if args.format == DiagFormat::Json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if invalid == 0 { 0 } else { 2 })
}
