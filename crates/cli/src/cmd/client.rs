//! `orbflow workflows …` and `orbflow runs …`: a client of the HTTP API
//! (`--api-url`, `--token`). Data (JSON) on stdout, diagnostics on stderr.
//! Exit codes: 0 success; 1 an API error, or a waited-for run that did not
//! complete; 2 a request the API found invalid (a workflow, an input).

use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::cmd::run::RunOutput;
use crate::cmd::runs_view;

/// Where the API is and who calls it. Both flags go anywhere on the line
/// (`orbflow runs get ID --token …` as well as `orbflow runs --token … get ID`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ClientArgs {
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        env = "ORBFLOW_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    api_url: String,
    /// Bearer token (`orbflow token create`, or the one `orbflow dev` prints).
    #[arg(long, global = true, env = "ORBFLOW_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Arguments of `workflows`.
#[derive(Debug, clap::Args)]
pub(crate) struct WorkflowsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: WorkflowsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum WorkflowsCommand {
    /// Create the workflow from FILE, or replace its draft (optimistic concurrency).
    Push {
        /// Workflow file (YAML, or JSON by its extension).
        file: String,
        /// Slug; default: the workflow's `name` in lower case with `-`
        /// between words (as the API derives it).
        #[arg(long)]
        slug: Option<String>,
    },
    /// Publish the draft as the next version.
    Publish {
        /// Slug or id.
        workflow: String,
    },
    /// List the workspace's workflows.
    List,
}

/// Arguments of `runs`.
#[derive(Debug, clap::Args)]
pub(crate) struct RunsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: RunsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum RunsCommand {
    /// Start a run of the workflow's active version.
    Start {
        /// Slug or id.
        workflow: String,
        /// Input: JSON, or @file.
        #[arg(long)]
        input: Option<String>,
        /// At most one run per key.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait for the run to finish (exit 0 COMPLETED, 1 otherwise).
        #[arg(long)]
        wait: bool,
    },
    /// List runs, newest first (one page; `--limit` up to 200).
    List {
        /// Only this workflow's (slug or id).
        #[arg(long)]
        workflow: Option<String>,
        /// Only this status (pending, running, completed, failed, cancelled;
        /// any case).
        #[arg(long)]
        status: Option<String>,
        /// Only runs started by this kind of trigger (manual, schedule,
        /// webhook, event; any case).
        #[arg(long)]
        trigger_type: Option<String>,
        /// Only runs created at or after: RFC 3339, or a duration ago (`2h`, `7d`).
        #[arg(long)]
        since: Option<String>,
        /// Only runs created before: RFC 3339, or a duration ago.
        #[arg(long)]
        until: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// `text`: a table; `json`: the API's page.
        #[arg(long, value_enum, default_value_t = RunOutput::Text)]
        output: RunOutput,
    },
    /// Print a run: its step timeline, or with `--output json` the run
    /// record with its step executions.
    Get {
        /// Run id.
        id: String,
        /// `text`: the step timeline; `json`: the API's run record.
        #[arg(long, value_enum, default_value_t = RunOutput::Text)]
        output: RunOutput,
    },
    /// Print a run's log.
    Logs {
        /// Run id.
        id: String,
        /// Keep printing until the run finishes.
        #[arg(long)]
        follow: bool,
    },
    /// Cancel a run.
    Cancel {
        /// Run id.
        id: String,
    },
    /// Retry a FAILED run from its failed step.
    Retry {
        /// Run id.
        id: String,
    },
}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// An answer of the API.
pub(crate) struct Answer {
    pub(crate) status: u16,
    etag: Option<String>,
    pub(crate) body: Value,
}

impl Client {
    /// The client, or `None` (after saying why) without a token.
    pub(crate) fn new(a: &ClientArgs) -> anyhow::Result<Option<Self>> {
        let Some(token) = a.token.clone().filter(|t| !t.trim().is_empty()) else {
            eprintln!(
                "orbflow: no API token: pass --token or set ORBFLOW_TOKEN (`orbflow dev` prints one; `orbflow token create` issues one)"
            );
            return Ok(None);
        };
        orbflow_actions::net::ensure_crypto_provider();
        Ok(Some(Self {
            http: reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?,
            base: a.api_url.trim_end_matches('/').to_owned(),
            token,
        }))
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
        let res = req
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("calling the API at {}", self.base))?;
        let status = res.status().as_u16();
        let etag = res
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = res.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, etag, body })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(self.http.get(self.url(path))).await
    }

    pub(crate) async fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        self.send(self.http.delete(self.url(path))).await
    }

    async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Answer> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }
}

/// Prints a problem answer on stderr; returns the exit code it means.
pub(crate) fn report(a: &Answer, context: &str) -> i32 {
    let code = a.body.get("code").and_then(Value::as_str).unwrap_or("error");
    let detail = a
        .body
        .get("detail")
        .and_then(Value::as_str)
        .map_or_else(|| a.body.to_string(), str::to_owned);
    eprintln!("orbflow: {context}: HTTP {} {code}: {detail}", a.status);
    if let Some(errors) = a.body.get("errors").and_then(Value::as_array) {
        for e in errors {
            let at = match (
                e.get("line").and_then(Value::as_u64),
                e.get("column").and_then(Value::as_u64),
            ) {
                (Some(l), Some(c)) => format!("{l}:{c}: "),
                _ => String::new(),
            };
            let path = e
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| !p.is_empty())
                .unwrap_or("(document)");
            let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
            eprintln!("{context}:{at}{path}: {msg}");
        }
    }
    if matches!(a.status, 400 | 413 | 415 | 422) {
        2
    } else {
        1
    }
}

pub(crate) fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub(crate) fn is_ok(a: &Answer) -> bool {
    (200..300).contains(&a.status)
}

pub(crate) fn workflows(args: &WorkflowsArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let Some(c) = Client::new(&args.client)? else {
            return Ok(2);
        };
        match &args.command {
            WorkflowsCommand::Push { file, slug } => push(&c, file, slug.as_deref()).await,
            WorkflowsCommand::Publish { workflow } => {
                let a = c
                    .post_json(&format!("/v1/workflows/{workflow}/versions"), &Value::Null)
                    .await?;
                if !is_ok(&a) {
                    return Ok(report(&a, workflow));
                }
                let n = a.body.get("number").and_then(Value::as_i64).unwrap_or(0);
                eprintln!(
                    "{workflow}: {} version {n}",
                    if a.status == 201 {
                        "published"
                    } else {
                        "unchanged, already"
                    }
                );
                print(&a.body)?;
                Ok(0)
            }
            WorkflowsCommand::List => {
                let a = c.get("/v1/workflows?limit=200").await?;
                if !is_ok(&a) {
                    return Ok(report(&a, "workflows"));
                }
                print(&a.body)?;
                Ok(0)
            }
        }
    })
}

async fn push(c: &Client, file: &str, slug: Option<&str>) -> anyhow::Result<i32> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let ct = if file.to_ascii_lowercase().ends_with(".json") {
        "application/json"
    } else {
        "application/yaml"
    };
    // the default slug is the API's: from the workflow's `name`, so that
    // what `push` created is what `publish` and `runs start` name
    let slug = match slug {
        Some(s) => s.to_owned(),
        None => {
            let format = if ct == "application/json" {
                orbflow_model::dsl::Format::Json
            } else {
                orbflow_model::dsl::Format::Yaml
            };
            match orbflow_model::dsl::parse(&text, format) {
                Ok(p) => p.workflow.default_slug(),
                Err(d) => {
                    crate::output::print_human(file, &d);
                    return Ok(2);
                }
            }
        }
    };
    let existing = c.get(&format!("/v1/workflows/{slug}")).await?;
    let a = if existing.status == 404 {
        c.send(
            c.http
                .post(c.url(&format!("/v1/workflows?slug={slug}")))
                .header(reqwest::header::CONTENT_TYPE, ct)
                .body(text),
        )
        .await?
    } else if is_ok(&existing) {
        let etag = existing.etag.clone().unwrap_or_default();
        c.send(
            c.http
                .put(c.url(&format!("/v1/workflows/{slug}/draft")))
                .header(reqwest::header::CONTENT_TYPE, ct)
                .header(reqwest::header::IF_MATCH, etag)
                .body(text),
        )
        .await?
    } else {
        return Ok(report(&existing, file));
    };
    if !is_ok(&a) {
        return Ok(report(&a, file));
    }
    let rev = a.body.get("draftRevision").and_then(Value::as_i64).unwrap_or(0);
    eprintln!(
        "{file}: {} {slug} (draft revision {rev})",
        if a.status == 201 { "created" } else { "updated" }
    );
    print(&a.body)?;
    Ok(0)
}

fn read_input(input: Option<&str>) -> anyhow::Result<Value> {
    match input {
        None => Ok(Value::Null),
        Some(s) => {
            let text = match s.strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
                None => s.to_owned(),
            };
            serde_json::from_str(&text).context("--input is not JSON")
        }
    }
}

pub(crate) fn runs(args: &RunsArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let Some(c) = Client::new(&args.client)? else {
            return Ok(2);
        };
        match &args.command {
            RunsCommand::Start {
                workflow,
                input,
                idempotency_key,
                wait,
            } => {
                let input = match read_input(input.as_deref()) {
                    Ok(v) => v,
                    Err(e) => {
                        eprintln!("orbflow: {e:#}");
                        return Ok(2);
                    }
                };
                let body = if input.is_null() {
                    serde_json::json!({})
                } else {
                    serde_json::json!({ "input": input })
                };
                let mut req = c
                    .http
                    .post(c.url(&format!("/v1/workflows/{workflow}/runs")))
                    .json(&body);
                if let Some(k) = idempotency_key {
                    req = req.header("Idempotency-Key", k);
                }
                let a = c.send(req).await?;
                if !is_ok(&a) {
                    return Ok(report(&a, workflow));
                }
                let id = a.body.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
                eprintln!("run {id} started");
                if !*wait {
                    print(&a.body)?;
                    return Ok(0);
                }
                let run = wait_for(&c, &id).await?;
                print(&run)?;
                Ok(i32::from(
                    run.get("status").and_then(Value::as_str) != Some("COMPLETED"),
                ))
            }
            RunsCommand::List {
                workflow,
                status,
                trigger_type,
                since,
                until,
                limit,
                output,
            } => {
                let filter = ListFilter {
                    workflow: workflow.as_deref(),
                    status: status.as_deref(),
                    trigger_type: trigger_type.as_deref(),
                    since: since.as_deref(),
                    until: until.as_deref(),
                    limit: *limit,
                };
                list(&c, &filter, *output).await
            }
            RunsCommand::Get { id, output } => {
                let a = c.get(&format!("/v1/runs/{id}")).await?;
                if !is_ok(&a) {
                    return Ok(report(&a, id));
                }
                match output {
                    RunOutput::Json => print(&a.body)?,
                    RunOutput::Text => {
                        let starts = first_starts(&c, id).await?;
                        print!("{}", runs_view::timeline(&a.body, &starts));
                    }
                }
                Ok(0)
            }
            RunsCommand::Logs { id, follow } => logs(&c, id, *follow).await,
            RunsCommand::Cancel { id } | RunsCommand::Retry { id } => {
                let verb = if matches!(args.command, RunsCommand::Cancel { .. }) {
                    "cancel"
                } else {
                    "retry"
                };
                let a = c.post_json(&format!("/v1/runs/{id}/{verb}"), &Value::Null).await?;
                if !is_ok(&a) {
                    return Ok(report(&a, id));
                }
                print(&a.body)?;
                Ok(0)
            }
        }
    })
}

/// When each step's first attempt started, from the run's log (a step
/// execution's `startedAt` is its last attempt's); at most 50 pages read.
async fn first_starts(c: &Client, id: &str) -> anyhow::Result<std::collections::HashMap<String, String>> {
    let mut starts = std::collections::HashMap::new();
    let mut after: Option<String> = None;
    for _ in 0..50 {
        let path = match &after {
            Some(a) => format!("/v1/runs/{id}/logs?limit=200&after={}", encode(a)),
            None => format!("/v1/runs/{id}/logs?limit=200"),
        };
        let a = c.get(&path).await?;
        if !is_ok(&a) {
            break;
        }
        for l in a.body.get("items").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(p), Some(t), true) = (
                l.get("stepPath").and_then(Value::as_str),
                l.get("createdAt").and_then(Value::as_str),
                l.get("message")
                    .and_then(Value::as_str)
                    .is_some_and(|m| m.starts_with("step started")),
            ) {
                starts.entry(p.to_owned()).or_insert_with(|| t.to_owned());
            }
        }
        after = a.body.get("nextCursor").and_then(Value::as_str).map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    Ok(starts)
}

/// The filters of `runs list`.
struct ListFilter<'a> {
    workflow: Option<&'a str>,
    status: Option<&'a str>,
    trigger_type: Option<&'a str>,
    since: Option<&'a str>,
    until: Option<&'a str>,
    limit: u32,
}

/// `runs list`: the filters checked and passed to the API; a table, or the
/// page as JSON.
async fn list(c: &Client, f: &ListFilter<'_>, output: RunOutput) -> anyhow::Result<i32> {
    let now = chrono::Utc::now();
    let mut path = format!("/v1/runs?limit={}", f.limit);
    // (query parameter, flag, value)
    let checked = [
        ("workflow", "workflow", f.workflow.map(|w| Ok(w.to_owned()))),
        ("status", "status", f.status.map(runs_view::status)),
        (
            "triggerType",
            "trigger-type",
            f.trigger_type.map(runs_view::trigger_type),
        ),
        ("since", "since", f.since.map(|s| runs_view::when(s, now))),
        ("until", "until", f.until.map(|s| runs_view::when(s, now))),
    ];
    for (name, flag, value) in checked {
        match value {
            Some(Ok(v)) => path.push_str(&format!("&{name}={}", encode(&v))),
            Some(Err(e)) => {
                eprintln!("orbflow: --{flag}: {e}");
                return Ok(2);
            }
            None => {}
        }
    }
    let a = c.get(&path).await?;
    if !is_ok(&a) {
        return Ok(report(&a, "runs"));
    }
    if output == RunOutput::Json {
        print(&a.body)?;
        return Ok(0);
    }
    // workflow ids to slugs, best effort (the table shows the id otherwise)
    let mut slugs = std::collections::HashMap::new();
    if let Ok(w) = c.get("/v1/workflows?limit=200").await
        && is_ok(&w)
    {
        for item in w.body.get("items").and_then(Value::as_array).into_iter().flatten() {
            if let (Some(id), Some(slug)) = (
                item.get("id").and_then(Value::as_str),
                item.get("slug").and_then(Value::as_str),
            ) {
                slugs.insert(id.to_owned(), slug.to_owned());
            }
        }
    }
    print!("{}", runs_view::table(&a.body, &slugs));
    Ok(0)
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn terminal(run: &Value) -> bool {
    matches!(
        run.get("status").and_then(Value::as_str),
        Some("COMPLETED" | "FAILED" | "CANCELLED")
    )
}

async fn wait_for(c: &Client, id: &str) -> anyhow::Result<Value> {
    let mut delay = Duration::from_millis(20);
    loop {
        let a = c.get(&format!("/v1/runs/{id}")).await?;
        if !is_ok(&a) {
            anyhow::bail!("run {id}: HTTP {}: {}", a.status, a.body);
        }
        if terminal(&a.body) {
            return Ok(a.body);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

async fn logs(c: &Client, id: &str, follow: bool) -> anyhow::Result<i32> {
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(a) => format!("/v1/runs/{id}/logs?limit=200&after={a}"),
            None => format!("/v1/runs/{id}/logs?limit=200"),
        };
        let a = c.get(&path).await?;
        if !is_ok(&a) {
            return Ok(report(&a, id));
        }
        let items = a
            .body
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for l in &items {
            let step = match (
                l.get("stepPath").and_then(Value::as_str),
                l.get("attempt").and_then(Value::as_i64),
            ) {
                (Some(s), Some(n)) => format!(" [{s}#{n}]"),
                (Some(s), None) => format!(" [{s}]"),
                _ => String::new(),
            };
            println!(
                "{} {:5}{step} {}",
                l.get("createdAt").and_then(Value::as_str).unwrap_or(""),
                l.get("level").and_then(Value::as_str).unwrap_or(""),
                l.get("message").and_then(Value::as_str).unwrap_or("")
            );
        }
        after = a
            .body
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or(after);
        if items.len() == 200 {
            continue;
        }
        if !follow {
            return Ok(0);
        }
        let run = c.get(&format!("/v1/runs/{id}")).await?;
        if terminal(&run.body) {
            // one last page for the lines written as it finished
            let path = match &after {
                Some(a) => format!("/v1/runs/{id}/logs?limit=200&after={a}"),
                None => format!("/v1/runs/{id}/logs?limit=200"),
            };
            let a = c.get(&path).await?;
            for l in a.body.get("items").and_then(Value::as_array).into_iter().flatten() {
                println!(
                    "{} {:5} {}",
                    l.get("createdAt").and_then(Value::as_str).unwrap_or(""),
                    l.get("level").and_then(Value::as_str).unwrap_or(""),
                    l.get("message").and_then(Value::as_str).unwrap_or("")
                );
            }
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
