//! `orbflow validate FILE|DIR...`: exit 0 when every file is valid, 2
//! otherwise. A directory stands for the workflow files directly in it
//! (`*.yaml`, `*.yml`, `*.json`, in name order).

use crate::output::{self, DiagFormat};

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub(crate) struct ValidateArgs {
    /// Workflow files (YAML, or JSON by extension; `-` reads stdin as YAML),
    /// or directories of them.
    #[arg(required = true)]
    files: Vec<String>,
    /// Output format of the errors.
    #[arg(long, value_enum, default_value_t = DiagFormat::Human)]
    format: DiagFormat,
}

/// The workflow files of `dir` (directly in it), in name order.
fn workflows_in(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| ["yaml", "yml", "json"].contains(&x.to_ascii_lowercase().as_str()))
        })
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    Ok(files)
}

pub(crate) fn run(args: &ValidateArgs) -> anyhow::Result<i32> {
    let mut all = Vec::new();
    let mut invalid = 0;
    let mut files = Vec::new();
    for arg in &args.files {
        let path = std::path::Path::new(arg);
        if arg != "-" && path.is_dir() {
            match workflows_in(path) {
                Ok(found) if !found.is_empty() => files.extend(found),
                Ok(_) => {
                    invalid += 1;
                    eprintln!("{arg}: no workflow files (*.yaml, *.yml, *.json) in this directory");
                }
                Err(e) => {
                    invalid += 1;
                    eprintln!("{arg}: cannot read the directory: {e}");
                }
            }
        } else {
            files.push(arg.clone());
        }
    }
    for file in &files {
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
