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

/// The standard OpenTelemetry variables every daemon reads (through
/// `orbflow_telemetry::init`, not clap, so `--help` does not list them).
const OTEL: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
];

/// Environment variables a subcommand reads, from its `--help`, and the
/// OpenTelemetry ones for the daemons.
fn env_of(cmd: &str) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_orbflow"))
        .args([cmd, "--help"])
        .output()
        .unwrap();
    assert!(out.status.success(), "orbflow {cmd} --help");
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut vars: BTreeSet<String> = help
        .split("[env: ")
        .skip(1)
        .filter_map(|s| s.split(['=', ']']).next())
        .map(str::to_owned)
        .collect();
    if ["worker", "scheduler", "api", "dev"].contains(&cmd) {
        vars.extend(OTEL.iter().map(|v| (*v).to_owned()));
        // read by every process that opens the store (docs/OPERATIONS.md)
        vars.extend(
            [
                "ORBFLOW_SECRETS_KEY",
                "ORBFLOW_SECRETS_KEY_FILE",
                "ORBFLOW_SECRETS_OLD_KEYS",
            ]
            .map(str::to_owned),
        );
    }
    vars
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
        if path.is_dir() {
            continue;
        }
        let rel = format!("deploy/k8s/{}", path.file_name().unwrap().to_string_lossy());
        let doc = load(&rel);
        let kind = doc["kind"].as_str().unwrap().to_owned();
        kinds.insert(kind.clone());
        let pod = match kind.as_str() {
            "Deployment" | "Job" => &doc["spec"]["template"]["spec"],
            _ => continue,
        };
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{rel}");
        if kind == "Deployment" {
            // Prometheus finds /metrics on the health port
            let a = &doc["spec"]["template"]["metadata"]["annotations"];
            assert_eq!(a["prometheus.io/scrape"], "true", "{rel}");
            assert_eq!(a["prometheus.io/path"], "/metrics", "{rel}");
            let listen = config["data"]["ORBFLOW_HEALTH_LISTEN"].as_str().unwrap();
            assert_eq!(a["prometheus.io/port"].as_str(), listen.rsplit(':').next(), "{rel}");
        }
        for c in pod["containers"].as_array().unwrap() {
            check_container(&rel, c, &config);
            if kind == "Deployment" {
                // every fleet process opens the store, which checks the secrets key at start
                let key = c["env"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["name"] == "ORBFLOW_SECRETS_KEY")
                    .unwrap_or_else(|| panic!("{rel}: no ORBFLOW_SECRETS_KEY"));
                assert_eq!(key["valueFrom"]["secretKeyRef"]["key"], "ORBFLOW_SECRETS_KEY", "{rel}");
            }
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
    // KEDA scales the same workers on the queue the binary pushes to
    let keda = load("deploy/k8s/keda/worker-scaledobject.yaml");
    assert_eq!(keda["kind"], "ScaledObject");
    assert_eq!(keda["spec"]["scaleTargetRef"]["name"], "orbflow-worker");
    let prefix = config["data"]["ORBFLOW_REDIS_PREFIX"].as_str().unwrap();
    let redis = &keda["spec"]["triggers"][0];
    assert_eq!(redis["type"], "redis");
    assert_eq!(
        redis["metadata"]["listName"].as_str(),
        Some(format!("{prefix}{}", orbflow_queue::QUEUE_KEY).as_str())
    );
}

#[test]
fn the_dashboard_queries_only_metrics_orbflow_serves() {
    let text = std::fs::read_to_string(root().join("deploy/grafana/orbflow.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    // what the daemons render, every series family present
    orbflow_telemetry::metrics::http_request("GET", Some("/v1/runs/{id}"), 200, 0.01);
    orbflow_telemetry::metrics::schedule_fired(std::time::Duration::from_millis(10));
    orbflow_telemetry::metrics::set_backlog(&orbflow_engine::store::Backlog::default(), chrono::Utc::now());
    let mut served = orbflow_worker::Metrics::default().render();
    served.push_str(&orbflow_telemetry::metrics::render(Some(
        &orbflow_engine::Stats::default(),
    )));
    let names: BTreeSet<&str> = served
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut queried = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if let Some(name) = word.strip_prefix("orbflow_") {
                    let name = format!("orbflow_{name}");
                    let base = name.trim_end_matches("_bucket").to_owned();
                    assert!(
                        names.contains(name.as_str()) || names.contains(base.as_str()),
                        "the dashboard queries {name}, which nothing serves ({names:?})"
                    );
                    queried.insert(base);
                }
            }
        }
    }
    // and every metric has a panel
    for n in &names {
        assert!(queried.contains(*n), "no panel shows {n}");
    }
}

#[test]
fn compose_wires_the_collector_to_jaeger_and_prometheus() {
    let compose = load("deploy/compose.yaml");
    let services = compose["services"].as_object().unwrap();
    for s in ["jaeger", "prometheus", "grafana"] {
        assert!(services.contains_key(s), "compose lacks {s}");
    }
    let collector = load("deploy/otel-collector.yaml");
    let traces = &collector["service"]["pipelines"]["traces"];
    assert_eq!(traces["receivers"][0], "otlp");
    assert_eq!(collector["exporters"]["otlp/jaeger"]["endpoint"], "jaeger:4317");
    let metrics = &collector["service"]["pipelines"]["metrics"];
    assert_eq!(metrics["exporters"][0], "prometheus");
    // the daemons export to the collector's OTLP/HTTP port
    for d in ["worker", "scheduler", "api"] {
        assert_eq!(
            services[d]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"], "http://otel-collector:4318",
            "{d}"
        );
    }
    let grafana = services["grafana"]["volumes"].as_array().unwrap();
    assert!(
        grafana
            .iter()
            .any(|v| v.as_str().is_some_and(|v| v.starts_with("./grafana/orbflow.json:")))
    );
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
