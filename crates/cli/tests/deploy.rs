//! What can be checked offline about deploy/: every manifest parses, uses
//! the one image, runs a real subcommand, sets only environment variables
//! that subcommand reads, and probes the health endpoints on the port the
//! configuration gives them; the Dockerfile is multi-stage and non-root.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use orbflow_model::dsl::located::parse_yaml;
use serde_json::Value;

const IMAGE: &str = "orbflow:0.1.0";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).unwrap();
    parse_yaml(&text).unwrap_or_else(|e| panic!("{rel}: {e:?}")).0
}

/// Environment variables a subcommand reads, from its `--help`.
fn env_of(cmd: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([cmd, "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "orbflow {cmd} --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    help.split("[env: ")
        .skip(1)
        .filter_map(|s| s.split(['=', ']']).next())
        .map(str::to_owned)
        .collect()
}

fn check_container(file: &str, c: &Value, config: &Value) {
    assert_eq!(c["image"], IMAGE, "{file}");
    let cmd = c["args"][0].as_str().unwrap_or_else(|| panic!("{file}: no subcommand"));
    let known = env_of(cmd);
    assert!(!known.is_empty(), "orbflow {cmd} documents its environment");
    for e in c["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap();
        assert!(
            known.contains(name),
            "{file}: {name} is not read by `orbflow {cmd}` ({known:?})"
        );
    }
    if c["envFrom"].is_array() {
        for name in config["data"].as_object().unwrap().keys() {
            assert!(
                known.contains(name),
                "{file}: ConfigMap key {name} is not read by `orbflow {cmd}`"
            );
        }
    }
    if c.get("livenessProbe").is_some() {
        assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz", "{file}");
        assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz", "{file}");
        let port = c["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "health")
            .expect("a health port");
        let listen = config["data"]["ORBFLOW_HEALTH_LISTEN"].as_str().unwrap();
        assert_eq!(
            listen.rsplit(':').next().unwrap(),
            port["containerPort"].to_string(),
            "{file}: probe port = listen port"
        );
        assert!(
            c["resources"]["requests"]["cpu"].is_string(),
            "{file}: resource requests"
        );
    }
}

#[test]
fn kubernetes_manifests_match_the_binary() {
    let config = load("deploy/k8s/config.yaml");
    assert_eq!(config["kind"], "ConfigMap");
    let mut kinds = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("deploy/k8s")).unwrap() {
        let path = entry.unwrap().path();
        let rel = format!("deploy/k8s/{}", path.file_name().unwrap().to_string_lossy());
        let doc = load(&rel);
        let kind = doc["kind"].as_str().unwrap().to_owned();
        kinds.insert(kind.clone());
        let pod = match kind.as_str() {
            "Deployment" | "Job" => &doc["spec"]["template"]["spec"],
            _ => continue,
        };
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{rel}");
        for c in pod["containers"].as_array().unwrap() {
            check_container(&rel, c, &config);
        }
    }
    for k in ["ConfigMap", "Deployment", "Job", "HorizontalPodAutoscaler"] {
        assert!(kinds.contains(k), "no {k} manifest");
    }
    let scheduler = load("deploy/k8s/scheduler.yaml");
    assert_eq!(scheduler["spec"]["replicas"], 2);
    let api = load("deploy/k8s/api.yaml");
    assert_eq!(api["spec"]["template"]["spec"]["containers"][0]["args"][0], "api");
    let svc = load("deploy/k8s/api-service.yaml");
    assert_eq!(svc["kind"], "Service");
    assert_eq!(svc["spec"]["selector"]["app"], "orbflow-api");
    let hpa = load("deploy/k8s/worker-hpa.yaml");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "orbflow-worker");
}

#[test]
fn compose_services_match_the_binary() {
    let compose = load("deploy/compose.yaml");
    let services = compose["services"].as_object().unwrap();
    for s in [
        "postgres",
        "redis",
        "otel-collector",
        "migrate",
        "scheduler",
        "worker",
        "api",
    ] {
        assert!(services.contains_key(s), "compose lacks {s}");
    }
    for (name, svc) in services {
        if svc["image"] != IMAGE {
            continue;
        }
        let cmd = svc["command"][0].as_str().unwrap();
        let known = env_of(cmd);
        for var in svc["environment"].as_object().unwrap().keys() {
            assert!(
                known.contains(var),
                "compose {name}: {var} is not read by `orbflow {cmd}`"
            );
        }
    }
    assert_eq!(services["worker"]["deploy"]["replicas"], 3);
    assert_eq!(services["scheduler"]["deploy"]["replicas"], 2);
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("FROM ")).count(),
        2,
        "multi-stage"
    );
    assert!(
        text.lines().any(|l| l.trim() == "USER 10001"),
        "runs as a non-root user"
    );
    assert!(text.contains("ENTRYPOINT [\"/usr/local/bin/orbflow\"]"));
    assert!(text.contains("-p orbflow-cli"), "builds the one binary");
}
