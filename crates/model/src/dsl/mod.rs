//! The DSL: reading YAML/JSON with locations, the shape check, canonical
//! emit, and the JSON Schema generated from the Rust types.
//!
//! [`parse`] gives a typed [`Workflow`] or every problem found; [`load`]
//! also runs the validator. Both attach line and column to each problem.

pub mod located;
pub(crate) mod shape;

use serde_json::Value;

use crate::Error;
use crate::catalog::ActionSchemas;
use crate::validate::{Diagnostics, validate};
use crate::workflow::Workflow;
use located::Locations;

/// Source format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML 1.2.
    Yaml,
    /// JSON.
    Json,
}

impl Format {
    /// Guess from a file name: `.json` is JSON, anything else YAML.
    pub fn from_path(path: &str) -> Self {
        if path.to_ascii_lowercase().ends_with(".json") {
            Self::Json
        } else {
            Self::Yaml
        }
    }
}

/// A parsed document.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The typed workflow.
    pub workflow: Workflow,
    /// Where each node was written.
    pub locations: Locations,
}

/// Stack for reading and checking a document: parsing and the checks are
/// recursive, and a hostile document may nest as deep as the YAML budget
/// allows (64 levels), so they run on a segment of their own.
const PARSE_STACK: usize = 64 * 1024 * 1024;

/// Parses `text` into a workflow (shape and types only, no semantic rules).
pub fn parse(text: &str, format: Format) -> Result<Parsed, Diagnostics> {
    stacker::grow(PARSE_STACK, || parse_inner(text, format))
}

fn parse_inner(text: &str, format: Format) -> Result<Parsed, Diagnostics> {
    let mut d = Diagnostics::default();
    let read = match format {
        Format::Yaml => located::parse_yaml(text),
        Format::Json => located::parse_json(text),
    };
    let (raw, locations) = match read {
        Ok(x) => x,
        Err(e) => {
            let mut diag = crate::validate::Diagnostic::new("", e.code, e.message);
            diag.line = e.pos.map(|p| p.line);
            diag.column = e.pos.map(|p| p.column);
            d.0.push(diag);
            return Err(d);
        }
    };
    let shape = shape::check(&raw, &mut d);
    if shape.fatal {
        d.locate(&locations);
        return Err(d);
    }
    match serde_path_to_error::deserialize::<_, Workflow>(&shape.cleaned) {
        Ok(workflow) if d.is_empty() => Ok(Parsed { workflow, locations }),
        Ok(_) => {
            d.locate(&locations);
            Err(d)
        }
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            d.push(path, "invalid-type", e.into_inner().to_string());
            d.locate(&locations);
            Err(d)
        }
    }
}

/// Parses and validates; a workflow is returned only if nothing is wrong.
///
/// Unknown fields do not stop the semantic rules, so a typo and a bad
/// dependency are reported together.
pub fn load(text: &str, format: Format, catalog: &dyn ActionSchemas) -> Result<Parsed, Diagnostics> {
    stacker::grow(PARSE_STACK, || load_inner(text, format, catalog))
}

fn load_inner(text: &str, format: Format, catalog: &dyn ActionSchemas) -> Result<Parsed, Diagnostics> {
    let mut d = Diagnostics::default();
    let (raw, locations) = match parse_partial(text, format, &mut d) {
        Some(x) => x,
        None => return Err(d),
    };
    let Some(raw) = raw else {
        d.locate(&locations);
        return Err(d);
    };
    let found = validate(&raw, catalog);
    d.0.extend(found.0);
    d.locate(&locations);
    if d.is_empty() {
        Ok(Parsed {
            workflow: raw,
            locations,
        })
    } else {
        Err(d)
    }
}

/// Parse keeping going past what the shape check could mend (unknown
/// fields, broken optional values): `Some((Some(wf), locs))` when a typed
/// workflow could be built from the mended copy (its problems are in `d`).
fn parse_partial(text: &str, format: Format, d: &mut Diagnostics) -> Option<(Option<Workflow>, Locations)> {
    match parse_inner(text, format) {
        Ok(p) => Some((Some(p.workflow), p.locations)),
        Err(found) => {
            d.0.extend(found.0);
            // read again, and check the rest of what the shape check mended
            let (raw, locations) = match format {
                Format::Yaml => located::parse_yaml(text),
                Format::Json => located::parse_json(text),
            }
            .ok()?;
            let mut scratch = Diagnostics::default();
            let shape = shape::check(&raw, &mut scratch);
            if shape.fatal {
                return Some((None, locations));
            }
            let wf = serde_json::from_value::<Workflow>(shape.cleaned).ok();
            Some((wf, locations))
        }
    }
}

/// Checks a typed workflow (e.g. built in code or read from the database).
pub fn check(wf: &Workflow, catalog: &dyn ActionSchemas) -> Result<(), Error> {
    let d = stacker::grow(PARSE_STACK, || validate(wf, catalog));
    if d.is_empty() { Ok(()) } else { Err(Error::Invalid(d)) }
}

/// The canonical stored form: compact JSON, the document a version holds.
///
/// Refused over [`located::MAX_DOCUMENT_BYTES`], the limit the parse
/// applies to the document with its aliases expanded, so what is stored is
/// bounded by the same limit as what was read.
pub fn canonical_json(wf: &Workflow) -> Result<String, Error> {
    let doc = serde_json::to_string(wf).map_err(emit_error("json"))?;
    if doc.len() > located::MAX_DOCUMENT_BYTES {
        return Err(Error::TooLarge {
            size: doc.len(),
            limit: located::MAX_DOCUMENT_BYTES,
        });
    }
    Ok(doc)
}

/// A workflow that would not serialize (its types always do: this is
/// for the serializers' own errors).
fn emit_error<E: std::fmt::Display>(format: &'static str) -> impl FnOnce(E) -> Error {
    move |e| Error::Emit {
        format,
        reason: e.to_string(),
    }
}

/// The canonical YAML form.
pub fn to_yaml(wf: &Workflow) -> Result<String, Error> {
    serde_saphyr::to_string(wf).map_err(emit_error("yaml"))
}

/// The canonical JSON form (pretty, two-space indent, trailing newline).
pub fn to_json(wf: &Workflow) -> Result<String, Error> {
    serde_json::to_string_pretty(wf)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(emit_error("json"))
}

/// The DSL's JSON Schema (draft 2020-12), generated from the Rust types.
pub fn json_schema() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<Workflow>().to_value();
    if let Some(o) = schema.as_object_mut() {
        o.insert(
            "$id".into(),
            Value::String("https://orbflow.dev/schemas/workflow-v1.json".into()),
        );
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_document_is_bounded_by_the_document_limit() {
        let text = "schemaVersion: 1\nname: t\nsteps:\n  - { key: a, action: TRANSFORM, config: { value: x } }\n";
        let mut wf = parse(text, Format::Yaml).expect("valid").workflow;
        let doc = canonical_json(&wf).expect("small");
        assert_eq!(serde_json::from_str::<Value>(&doc).ok(), serde_json::to_value(&wf).ok());
        // a workflow built in code can exceed what a parse would accept
        if let crate::workflow::StepKind::Action { config, .. } = &mut wf.steps[0].kind {
            *config = Some(serde_json::json!({ "value": "x".repeat(located::MAX_DOCUMENT_BYTES) }));
        }
        match canonical_json(&wf) {
            Err(Error::TooLarge { size, limit }) => {
                assert_eq!(limit, located::MAX_DOCUMENT_BYTES);
                assert!(size > limit);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
