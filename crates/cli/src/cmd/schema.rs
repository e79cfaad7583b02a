//! `orbflow schema`: the DSL's JSON Schema.

pub(crate) fn run() -> anyhow::Result<i32> {
    println!("{}", serde_json::to_string_pretty(&orbflow_model::dsl::json_schema())?);
    Ok(0)
}
