//! Reading workflow files and printing diagnostics in the CLI contract's
//! format: `FILE:LINE:COL: PATH: message`, or JSON.

use std::io::Write;

use orbflow_model::dsl::{self, Format, Parsed};
use orbflow_model::{Diagnostic, Diagnostics};

/// How diagnostics are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DiagFormat {
    /// `FILE:LINE:COL: PATH: message`, one per line.
    Human,
    /// `[{path, line, column, code, message}]` on stdout.
    Json,
}

/// Reads `path` (`-` is stdin).
pub(crate) fn read(path: &str) -> Result<String, Diagnostics> {
    let res = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    res.map_err(|e| {
        let mut d = Diagnostics::default();
        d.push("", "io", format!("cannot read file: {e}"));
        d
    })
}

/// Reads, parses and validates a workflow file with the real catalog.
pub(crate) fn load(path: &str) -> Result<Parsed, Diagnostics> {
    let text = read(path)?;
    let catalog = catalog();
    dsl::load(&text, Format::from_path(path), &catalog)
}

/// Reads and parses (no semantic validation).
pub(crate) fn parse(path: &str) -> Result<Parsed, Diagnostics> {
    let text = read(path)?;
    dsl::parse(&text, Format::from_path(path))
}

/// The catalog (specs only: no HTTP client is needed to validate).
pub(crate) fn catalog() -> orbflow_actions::Registry {
    match orbflow_actions::Registry::specs_only() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("orbflow: cannot load the action catalog: {e}");
            std::process::exit(1)
        }
    }
}

/// One human line.
pub(crate) fn human_line(file: &str, d: &Diagnostic) -> String {
    let path = if d.path.is_empty() { "(root)" } else { d.path.as_str() };
    format!(
        "{file}:{}:{}: {path}: {}",
        d.line.unwrap_or(1),
        d.column.unwrap_or(1),
        d.message
    )
}

/// Prints `diags` of `file` to stderr, one per line.
pub(crate) fn print_human(file: &str, diags: &Diagnostics) {
    let mut err = std::io::stderr().lock();
    for d in diags.iter() {
        let _ = writeln!(err, "{}", human_line(file, d));
    }
}

/// A diagnostic as JSON with its file.
pub(crate) fn json_entry(file: &str, d: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "file": file,
        "path": d.path,
        "line": d.line,
        "column": d.column,
        "code": d.code,
        "message": d.message,
    })
}
