//! docs/openapi.json is the document the server generates from its
//! handlers; this test fails when it drifts. Regenerate with
//! `ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-api --test openapi_drift`.

use std::path::PathBuf;

#[test]
fn openapi_matches_docs() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let generated = serde_json::to_string_pretty(&orbflow_api::openapi::document()).unwrap() + "\n";
    if std::env::var("ORBFLOW_UPDATE_DOCS").as_deref() == Ok("1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/openapi.json is out of date: run `ORBFLOW_UPDATE_DOCS=1 cargo test -p orbflow-api --test openapi_drift`"
    );
}

#[test]
fn every_route_of_the_router_is_documented() {
    let doc = serde_json::to_value(orbflow_api::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    // the routes as mounted in crates/api/src/routes/mod.rs
    let src = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/routes/mod.rs")).unwrap();
    let mut mounted = 0;
    for line in src.lines() {
        let Some(rest) = line.trim().strip_prefix(".route(") else {
            continue;
        };
        let Some(route) = rest.split('"').nth(1) else { continue };
        assert!(
            paths.contains_key(route),
            "{route} is routed but not in the OpenAPI document"
        );
        mounted += 1;
    }
    // multi-line `.route(` calls put the path on the next line
    let mut lines = src.lines().peekable();
    while let Some(l) = lines.next() {
        if l.trim() == ".route(" {
            let route = lines.next().unwrap().split('"').nth(1).unwrap();
            assert!(paths.contains_key(route), "{route} is routed but not documented");
            mounted += 1;
        }
    }
    assert_eq!(mounted, paths.len(), "documented paths that are not routed");
}
