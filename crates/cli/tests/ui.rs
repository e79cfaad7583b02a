//! The run view in a real browser: `orbflow dev` serves `/ui/`, and Debian's
//! headless Chromium, driven over WebDriver by chromedriver, watches a run
//! started through the API move to FAILED without a reload, shows the
//! failed step's error, and retries it from the page until it completes.
//! A screenshot of the page is kept (`ORBFLOW_UI_SCREENSHOT`, default
//! `$TMPDIR/orbflow-ui-run.png`). Without chromium and chromedriver the
//! browser part is skipped, except under `CI=true`, where it is a failure.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn which(name: &str) -> Option<String> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
            .map(|p| p.to_string_lossy().into_owned())
    })
}

/// A chromedriver process and one headless Chromium session.
struct Browser {
    http: reqwest::Client,
    base: String,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    async fn start() -> Option<Self> {
        let (Some(chromium), Some(driver)) = (which("chromium"), which("chromedriver")) else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: chromium and chromedriver are required (.ci/run installs them)"
            );
            eprintln!("skipped: the browser part needs chromium and chromedriver");
            return None;
        };
        let port = orbflow_testkit::daemon::free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::new();
        let mut b = Self {
            http,
            base: format!("http://127.0.0.1:{port}"),
            driver: child,
        };
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1200"]
        }}}});
        let start = Instant::now();
        let session = loop {
            match b.http.post(format!("{}/session", b.base)).json(&caps).send().await {
                Ok(r) => break r.json::<Value>().await.unwrap(),
                Err(_) if start.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                Err(e) => panic!("chromedriver did not start: {e}"),
            }
        };
        let id = session["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_owned();
        b.base = format!("{}/session/{id}", b.base);
        Some(b)
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            r = r.json(&body);
        }
        let r = r.send().await.unwrap();
        let v: Value = r.json().await.unwrap();
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    async fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": js, "args": []}),
        )
        .await
    }

    /// Waits until `js` returns `want` (the page is never reloaded).
    async fn until(&self, js: &str, want: &str, limit: Duration) {
        let start = Instant::now();
        loop {
            let got = self.script(js).await;
            if got == json!(want) {
                return;
            }
            assert!(start.elapsed() < limit, "`{js}` stayed {got}, never {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let e = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = e
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_owned();
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({}))
            .await;
    }

    async fn screenshot(&self, path: &std::path::Path) {
        let png = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let bytes = base64_decode(png.as_str().unwrap_or_else(|| panic!("no screenshot: {png}")));
        assert!(bytes.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(path, bytes).unwrap();
        eprintln!("screenshot of the run view: {}", path.display());
    }
}

/// Standard base64 (WebDriver's screenshot encoding).
fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for b in text.bytes().filter(|b| *b != b'=' && !b.is_ascii_whitespace()) {
        let v = ALPHABET.iter().position(|a| *a == b).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

async fn api(
    http: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut r = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        r = r.header("content-type", "application/yaml").body(b.to_owned());
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_view_follows_a_run_shows_its_failure_and_retries_it() {
    orbflow_actions::net::ensure_crypto_provider();
    // the webhook fails once (404, fatal), then answers
    let (hook, _seen) = orbflow_testkit::peer::scripted_server(vec![
        (404, "Content-Type: text/plain\r\n", "no such hook"),
        (200, "Content-Type: application/json\r\n", r#"{"ok": true}"#),
    ]);
    let dir = std::env::temp_dir().join(format!("orbflow-ui-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = orbflow_testkit::daemon::free_port();
    let (mut dev, _, token) =
        orbflow_testkit::daemon::start_dev(&dir.join("o.db"), port, &[("ORBFLOW_HTTP_ALLOW_PRIVATE", "true")]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    // the pages: embedded, same-origin scripts only, `/` leads to them
    let r = http.get(format!("{base}/ui/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("/ui/app.js"));
    let r = http.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/ui/docs.js"));
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/ui/");
    // the data stays behind the token
    let r = http.get(format!("{base}/v1/runs")).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let yaml = format!(
        "schemaVersion: 1\nname: ui-demo\nsteps:\n  - {{key: prepare, action: TRANSFORM, config: {{value: 1}}}}\n  - {{key: wait, action: DELAY, config: {{duration: 2s}}}}\n  - {{key: notify, action: TRIGGER_WEBHOOK, config: {{url: 'http://127.0.0.1:{hook}/hook'}}}}\n"
    );
    let (s, _) = api(
        &http,
        &token,
        reqwest::Method::POST,
        &format!("{base}/v1/workflows?slug=ui-demo"),
        Some(&yaml),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = api(
        &http,
        &token,
        reqwest::Method::POST,
        &format!("{base}/v1/workflows/ui-demo/versions"),
        None,
    )
    .await;
    assert_eq!(s, 201);

    if let Some(browser) = Browser::start().await {
        let (s, run) = api(
            &http,
            &token,
            reqwest::Method::POST,
            &format!("{base}/v1/workflows/ui-demo/runs"),
            None,
        )
        .await;
        assert!((200..300).contains(&s), "{s} {run}");
        let id = run["id"].as_str().unwrap().to_owned();
        browser.goto(&format!("{base}/ui/#/runs/{id}?token={token}")).await;
        let status = "return (document.getElementById('run') || {dataset: {}}).dataset.status || ''";
        // seen while it moves, then FAILED: the same page, refreshed by itself
        browser.until(status, "RUNNING", Duration::from_secs(20)).await;
        browser
            .until(
                "return document.querySelector('.step[data-key=wait]').dataset.status",
                "WAITING",
                Duration::from_secs(20),
            )
            .await;
        browser.until(status, "FAILED", Duration::from_secs(30)).await;
        let error = browser
            .script("return document.querySelector('#details .step-error').textContent")
            .await;
        assert!(
            error.as_str().unwrap().contains("404"),
            "the failed step's error is shown: {error}"
        );
        let timeline = browser
            .script("return [...document.querySelectorAll('#timeline tr[data-status]')].map(r => r.cells[0].textContent + ':' + r.dataset.status).join(',')")
            .await;
        assert_eq!(timeline, "prepare:COMPLETED,wait:COMPLETED,notify:FAILED");
        let shot = std::env::var_os("ORBFLOW_UI_SCREENSHOT")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("orbflow-ui-run.png"));
        browser.screenshot(&shot).await;
        // retry from the page: the webhook answers now
        browser.click("#retry").await;
        browser.until(status, "COMPLETED", Duration::from_secs(30)).await;
        let (_, after) = api(
            &http,
            &token,
            reqwest::Method::GET,
            &format!("{base}/v1/runs/{id}"),
            None,
        )
        .await;
        assert_eq!(after["status"], "COMPLETED", "{after}");
        assert_eq!(after["stepExecutions"]["notify"]["attempts"], 2, "{after}");
        // the API reference renders every operation of the OpenAPI document
        let doc: Value = http
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let operations: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        browser.goto(&format!("{base}/docs")).await;
        browser
            .until(
                &format!("return String(document.querySelectorAll('.operation').length === {operations})"),
                "true",
                Duration::from_secs(20),
            )
            .await;
        let run_start = browser
            .script(
                "return document.querySelector('[data-op=\"POST /v1/workflows/{workflow}/runs\"] summary').textContent",
            )
            .await;
        assert!(
            run_start
                .as_str()
                .unwrap()
                .starts_with("POST /v1/workflows/{workflow}/runs"),
            "{run_start}"
        );
    }
    let status = orbflow_testkit::daemon::stop(&mut dev);
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        status.is_some_and(|s| s.success()),
        "orbflow dev stops on SIGTERM: {status:?}"
    );
}
