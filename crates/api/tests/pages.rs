//! The pages embedded in the binary (`/`, `/ui/…`, `/docs`), the open meta
//! routes (`/readyz`, `/metrics`) and one action of the catalog, through
//! the real server.

mod common;

use common::{Harness, problem};

/// A client that does not follow redirects, so that they can be checked.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

both!(the_root_and_ui_redirect_to_the_run_view_and_assets_carry_their_headers);
async fn the_root_and_ui_redirect_to_the_run_view_and_assets_carry_their_headers(h: Harness) {
    let http = no_redirects();
    for path in ["/", "/ui"] {
        let r = http.get(format!("{}{path}", h.base)).send().await.unwrap();
        assert!(r.status().is_redirection(), "{path}: {}", r.status());
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some("/ui/"),
            "{path}"
        );
    }
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    for (path, content_type, needle) in [
        ("/ui/", "text/html; charset=utf-8", "<html"),
        ("/ui/app.js", "text/javascript; charset=utf-8", "fetch("),
        ("/ui/docs.js", "text/javascript; charset=utf-8", "openapi.json"),
        ("/ui/style.css", "text/css; charset=utf-8", "{"),
        ("/docs", "text/html; charset=utf-8", "<html"),
    ] {
        // no token: the pages hold no data
        let r = http.get(format!("{}{path}", h.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(header("content-type").as_deref(), Some(content_type), "{path}");
        assert_eq!(header("content-security-policy").as_deref(), Some(csp), "{path}");
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(header("cache-control").as_deref(), Some("no-cache"), "{path}");
        let body = r.text().await.unwrap();
        assert!(body.to_lowercase().contains(needle), "{path}: {needle} in {body:.200}");
    }
    // the two scripts are different assets
    let app = http
        .get(format!("{}/ui/app.js", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let docs = http
        .get(format!("{}/ui/docs.js", h.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_ne!(app, docs);
    // an asset that is not embedded is the API's 404
    for path in ["/ui/nope.js", "/ui/app.js/x", "/docs/nope"] {
        let r = h.send(h.http.get(format!("{}{path}", h.base))).await;
        problem(&r, 404, "not-found");
    }
    // a page with another method is a 405, not the page
    let r = h.send(h.http.post(format!("{}/ui/app.js", h.base))).await;
    problem(&r, 405, "method-not-allowed");
}

both!(readiness_and_metrics_are_open_and_plain_text);
async fn readiness_and_metrics_are_open_and_plain_text(h: Harness) {
    // no check configured: ready
    let r = h.send(h.http.get(format!("{}/readyz", h.base))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.text, "ready");
    // the engine's counters and the API's requests, as Prometheus text
    let _ = h.get("/v1/workflows").await;
    let r = h.send(h.http.get(format!("{}/metrics", h.base))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        r.text.contains("# TYPE orbflow_lease_expiries_total counter\n"),
        "{}",
        r.text
    );
    assert!(r.text.contains("# TYPE "), "{}", r.text);
}

both!(one_action_of_the_catalog_or_a_404);
async fn one_action_of_the_catalog_or_a_404(h: Harness) {
    let r = h.get("/v1/actions/TRIGGER_WEBHOOK").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["name"], "TRIGGER_WEBHOOK");
    assert!(r.body["configSchema"].is_object(), "{}", r.text);
    assert!(!r.body["description"].as_str().unwrap().is_empty());
    // the same entry as in the list
    let all = h.get("/v1/actions").await;
    let listed = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "TRIGGER_WEBHOOK")
        .cloned()
        .unwrap();
    assert_eq!(listed, r.body);
    let r = h.get("/v1/actions/NO_SUCH_ACTION").await;
    problem(&r, 404, "not-found");
    assert!(
        r.body["detail"].as_str().unwrap().contains("NO_SUCH_ACTION"),
        "{}",
        r.text
    );
    // a token is needed
    let r = h
        .send(h.http.get(format!("{}/v1/actions/TRIGGER_WEBHOOK", h.base)))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
}
