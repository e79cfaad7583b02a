//! POST_TO_SOCIAL, REPLY_TO_COMMENT and SCHEDULE_POST against local peers
//! speaking each platform's documented requests, answers and errors:
//! Mastodon (statuses with `Idempotency-Key`, which it dedupes, media,
//! scheduled statuses, `X-RateLimit-Reset`), Bluesky (createSession,
//! createRecord refusing a taken record key, getRecord, uploadBlob,
//! ExpiredToken) and X API v2 (tweets, media upload, problem details,
//! `x-rate-limit-reset`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod peer;

use orbflow_actions::net::HttpPolicy;
use orbflow_actions::{ActionContext, ActionError, Outcome, Registry};
use peer::{Recorded, Reply, Server};
use serde_json::{Value, json};

const TOKEN: &str = "mastodon-token-s3cr3t";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nfake-image-bytes";

fn registry() -> Registry {
    Registry::builtin(&orbflow_actions::CatalogConfig {
        http: HttpPolicy { allow_private: true },
    })
    .unwrap()
}

async fn run(action: &str, config: Value, connection: Value, key: &str) -> Result<Outcome, ActionError> {
    let (mut ctx, _) = ActionContext::for_test(config);
    ctx.connection = Some(connection);
    ctx.idempotency_key = key.to_owned();
    registry().execute(action, ctx).await
}

fn done(o: Outcome) -> Value {
    match o {
        Outcome::Completed(v) => v,
        other => panic!("{other:?}"),
    }
}

fn body(r: &Recorded) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// A Mastodon instance: statuses deduplicated by Idempotency-Key, as
/// Mastodon does; media; scheduled statuses.
async fn mastodon() -> (Server, Arc<Mutex<usize>>) {
    let created = Arc::new(Mutex::new(0usize));
    let by_key: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let count = created.clone();
    let server = Server::start(move |r, addr| {
        if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) && r.path.starts_with("/api") {
            return Reply::json(401, &json!({"error": "The access token is invalid"}));
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/img/cat.png") => Reply::new(200).header("content-type", "image/png").body(PNG),
            ("GET", "/doc.txt") => Reply::text(200, "not an image"),
            ("POST", "/api/v2/media") => Reply::json(200, &json!({"id": "media-1", "type": "image"})),
            ("POST", "/api/v1/statuses") => {
                let b = body(r);
                if b["status"] == "" {
                    return Reply::json(422, &json!({"error": "Validation failed: Text can't be blank"}));
                }
                if b["status"] == "rate me" {
                    return Reply::json(429, &json!({"error": "Too many requests"}))
                        .header("X-RateLimit-Reset", "2099-01-01T00:00:00.000Z");
                }
                let key = r.header("idempotency-key").unwrap_or("").to_owned();
                let mut seen = by_key.lock().unwrap();
                if let Some(v) = seen.get(&key) {
                    return Reply::json(200, v);
                }
                *count.lock().unwrap() += 1;
                let id = format!("1100{}", seen.len());
                let v = if b.get("scheduled_at").is_some() {
                    json!({"id": format!("sched-{id}"), "scheduled_at": b["scheduled_at"], "params": {"text": b["status"]}, "media_attachments": []})
                } else {
                    json!({"id": id, "url": format!("http://{addr}/@brand/{id}"), "content": b["status"], "in_reply_to_id": b["in_reply_to_id"]})
                };
                seen.insert(key, v.clone());
                Reply::json(200, &v)
            }
            _ => Reply::json(404, &json!({"error": "Record not found"})),
        }
    })
    .await;
    (server, created)
}

fn mastodon_conn(s: &Server) -> Value {
    json!({"instanceUrl": s.url(""), "accessToken": TOKEN})
}

#[tokio::test]
async fn mastodon_posts_with_media_once_however_often_the_step_is_retried() {
    let (server, created) = mastodon().await;
    let config = json!({"platform": "mastodon", "accountId": "brand", "content": "Hello from orbflow", "mediaUrls": [server.url("/img/cat.png")]});
    let first = done(
        run("POST_TO_SOCIAL", config.clone(), mastodon_conn(&server), "run-1:post")
            .await
            .unwrap(),
    );
    assert_eq!(
        first,
        json!({"postId": "11000", "url": format!("http://{}/@brand/11000", server.addr), "platform": "mastodon"})
    );
    // the retried attempt sends the same key: Mastodon answers the same status
    let again = done(
        run("POST_TO_SOCIAL", config, mastodon_conn(&server), "run-1:post")
            .await
            .unwrap(),
    );
    assert_eq!(again, first);
    assert_eq!(*created.lock().unwrap(), 1, "one status created");
    let reqs = server.requests();
    let upload = reqs.iter().find(|r| r.path == "/api/v2/media").unwrap();
    assert!(
        upload
            .header("content-type")
            .unwrap()
            .starts_with("multipart/form-data; boundary=")
    );
    let text = String::from_utf8_lossy(&upload.body);
    assert!(
        text.contains("name=\"file\"; filename=\"cat.png\"") && text.contains("Content-Type: image/png"),
        "{text}"
    );
    assert!(
        upload.body.windows(PNG.len()).any(|w| w == PNG),
        "the image bytes are uploaded"
    );
    let posts: Vec<&Recorded> = reqs.iter().filter(|r| r.path == "/api/v1/statuses").collect();
    assert_eq!(posts.len(), 2);
    for p in posts {
        assert_eq!(p.header("idempotency-key"), Some("run-1:post"));
        assert_eq!(p.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(
            body(p),
            json!({"status": "Hello from orbflow", "media_ids": ["media-1"]})
        );
    }
}

#[tokio::test]
async fn mastodon_replies_schedules_natively_and_types_its_errors() {
    let (server, _) = mastodon().await;
    let conn = mastodon_conn(&server);
    let reply = done(
        run(
            "REPLY_TO_COMMENT",
            json!({"platform": "mastodon", "accountId": "brand", "commentId": "109876", "content": "Thanks!"}),
            conn.clone(),
            "run-2:reply",
        )
        .await
        .unwrap(),
    );
    assert_eq!(reply["replyId"], "11000");
    assert_eq!(reply["inReplyTo"], "109876");
    let last = server.requests().pop().unwrap();
    assert_eq!(body(&last), json!({"status": "Thanks!", "in_reply_to_id": "109876"}));

    let at = (chrono::Utc::now() + chrono::TimeDelta::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let s = done(
        run(
            "SCHEDULE_POST",
            json!({"platform": "mastodon", "accountId": "brand", "content": "Launch", "publishAt": at}),
            conn.clone(),
            "run-2:schedule",
        )
        .await
        .unwrap(),
    );
    assert_eq!(s["scheduling"], "native");
    assert_eq!(s["scheduledPostId"], "sched-11001");
    assert_eq!(s["publishAt"], at);
    assert_eq!(s["postId"], Value::Null);
    let last = server.requests().pop().unwrap();
    assert_eq!(body(&last), json!({"status": "Launch", "scheduled_at": at}));

    // a blank text: Mastodon's 422 message, fatal
    let e = run(
        "POST_TO_SOCIAL",
        json!({"platform": "mastodon", "accountId": "b", "content": ""}),
        conn.clone(),
        "k",
    )
    .await
    .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("422: Validation failed: Text can't be blank"),
        "{e}"
    );
    // 429 waits until X-RateLimit-Reset
    let e = run(
        "POST_TO_SOCIAL",
        json!({"platform": "mastodon", "accountId": "b", "content": "rate me"}),
        conn.clone(),
        "k",
    )
    .await
    .unwrap_err();
    match e {
        ActionError::Retryable {
            retry_after: Some(d), ..
        } => assert!(d > Duration::from_secs(86_400 * 365), "{d:?}"),
        other => panic!("{other:?}"),
    }
    // a bad token: 401, fatal, the token never quoted
    let bad = json!({"instanceUrl": server.url(""), "accessToken": "wrong-token"});
    let e = run(
        "POST_TO_SOCIAL",
        json!({"platform": "mastodon", "accountId": "b", "content": "x"}),
        bad,
        "k",
    )
    .await
    .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("401: The access token is invalid"),
        "{e}"
    );
    // media that is not an image is refused before anything is posted
    let e = run(
        "POST_TO_SOCIAL",
        json!({"platform": "mastodon", "accountId": "b", "content": "x", "mediaUrls": [server.url("/doc.txt")]}),
        conn,
        "k",
    )
    .await
    .unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("not an image (Content-Type `text/plain`)"),
        "{e}"
    );
}

/// A Bluesky PDS: sessions, records keyed by rkey (a taken key is refused
/// as the PDS refuses it), getRecord, uploadBlob; a token "expires" when
/// `expire` is set.
struct Pds {
    server: Server,
    created: Arc<Mutex<usize>>,
    sessions: Arc<Mutex<usize>>,
    expire: Arc<Mutex<bool>>,
}

async fn pds() -> Pds {
    let records: Arc<Mutex<HashMap<String, Value>>> = Arc::default();
    let created = Arc::new(Mutex::new(0usize));
    let sessions = Arc::new(Mutex::new(0usize));
    let expire = Arc::new(Mutex::new(false));
    // the post replied to, itself a reply in a thread
    records.lock().unwrap().insert(
        "did:plc:other/3kparent".into(),
        json!({"uri": "at://did:plc:other/app.bsky.feed.post/3kparent", "cid": "bafyparent",
               "value": {"text": "parent", "reply": {"root": {"uri": "at://did:plc:other/app.bsky.feed.post/3kroot", "cid": "bafyroot"},
                                                     "parent": {"uri": "at://did:plc:other/app.bsky.feed.post/3kroot", "cid": "bafyroot"}}}}),
    );
    let (c, s, x) = (created.clone(), sessions.clone(), expire.clone());
    let server = Server::start(move |r, _| {
        let path = r.path.split('?').next().unwrap_or("");
        let query: HashMap<String, String> = r
            .path
            .split_once('?')
            .map(|(_, q)| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let authed = || r.header("authorization").map(|a| a.starts_with("Bearer jwt-")).unwrap_or(false);
        match path {
            "/img/cat.png" => Reply::new(200).header("content-type", "image/png").body(PNG),
            "/xrpc/com.atproto.server.createSession" => {
                let b = body(r);
                if b["password"] != "app-pass-s3cr3t" {
                    return Reply::json(401, &json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}));
                }
                let mut n = s.lock().unwrap();
                *n += 1;
                Reply::json(200, &json!({"accessJwt": format!("jwt-{n}"), "refreshJwt": "r", "handle": "brand.bsky.social", "did": "did:plc:brand"}))
            }
            _ if !authed() => Reply::json(401, &json!({"error": "AuthenticationRequired"})),
            "/xrpc/com.atproto.repo.uploadBlob" => Reply::json(
                200,
                &json!({"blob": {"$type": "blob", "ref": {"$link": "bafkblob"}, "mimeType": r.header("content-type"), "size": r.body.len()}}),
            ),
            "/xrpc/com.atproto.repo.getRecord" => {
                let k = format!("{}/{}", query["repo"], query["rkey"]);
                match records.lock().unwrap().get(&k) {
                    Some(v) => Reply::json(200, v),
                    None => Reply::json(400, &json!({"error": "RecordNotFound", "message": "Could not locate record"})),
                }
            }
            "/xrpc/com.atproto.repo.createRecord" => {
                let mut exp = x.lock().unwrap();
                if *exp {
                    *exp = false;
                    return Reply::json(400, &json!({"error": "ExpiredToken", "message": "Token has expired"}));
                }
                let b = body(r);
                let rkey = b["rkey"].as_str().unwrap().to_owned();
                let k = format!("{}/{rkey}", b["repo"].as_str().unwrap());
                let mut recs = records.lock().unwrap();
                if recs.contains_key(&k) {
                    return Reply::json(400, &json!({"error": "InvalidRequest", "message": "Record already exists"}));
                }
                *c.lock().unwrap() += 1;
                let uri = format!("at://{}/app.bsky.feed.post/{rkey}", b["repo"].as_str().unwrap());
                recs.insert(k, json!({"uri": uri, "cid": "bafynew", "value": b["record"]}));
                Reply::json(200, &json!({"uri": uri, "cid": "bafynew"}))
            }
            _ => Reply::json(404, &json!({"error": "MethodNotImplemented"})),
        }
    })
    .await;
    Pds {
        server,
        created,
        sessions,
        expire,
    }
}

fn bsky_conn(p: &Pds) -> Value {
    json!({"serviceUrl": p.server.url(""), "identifier": "brand.bsky.social", "appPassword": "app-pass-s3cr3t"})
}

#[tokio::test]
async fn bluesky_posts_once_under_a_record_key_derived_from_the_step() {
    let p = pds().await;
    let text = "Shipped! https://orbflow.dev/blog";
    let config = json!({"platform": "bluesky", "accountId": "brand-bsky", "content": text, "mediaUrls": [p.server.url("/img/cat.png")]});
    let key = "019aea4c-1f2b-7c3d-8e4f-0123456789ab:post";
    let first = done(run("POST_TO_SOCIAL", config.clone(), bsky_conn(&p), key).await.unwrap());
    let rkey = orbflow_actions::social::bluesky::record_key(key);
    assert_eq!(first["postId"], format!("at://did:plc:brand/app.bsky.feed.post/{rkey}"));
    assert_eq!(
        first["url"],
        format!("https://bsky.app/profile/brand.bsky.social/post/{rkey}")
    );
    // the retry: the PDS refuses the taken key, the post found there is ours
    let again = done(run("POST_TO_SOCIAL", config.clone(), bsky_conn(&p), key).await.unwrap());
    assert_eq!(again, first);
    assert_eq!(*p.created.lock().unwrap(), 1, "posted once");
    // a later attempt finds the post before anything else: no image is
    // fetched or uploaded again, no create is tried
    let before = p.server.requests().len();
    let (mut ctx, _) = ActionContext::for_test(config.clone());
    ctx.connection = Some(bsky_conn(&p));
    ctx.idempotency_key = key.to_owned();
    ctx.attempt = 2;
    let third = done(registry().execute("POST_TO_SOCIAL", ctx).await.unwrap());
    assert_eq!(third, first);
    let paths: Vec<String> = p.server.requests()[before..]
        .iter()
        .map(|r| r.path.split('?').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/xrpc/com.atproto.server.createSession",
            "/xrpc/com.atproto.repo.getRecord"
        ]
    );
    let reqs = p.server.requests();
    let session = reqs.iter().find(|r| r.path.ends_with("createSession")).unwrap();
    assert_eq!(
        body(session),
        json!({"identifier": "brand.bsky.social", "password": "app-pass-s3cr3t"})
    );
    let blob = reqs.iter().find(|r| r.path.ends_with("uploadBlob")).unwrap();
    assert_eq!(
        (blob.header("content-type"), blob.body.as_slice()),
        (Some("image/png"), PNG)
    );
    let create = reqs.iter().find(|r| r.path.ends_with("createRecord")).unwrap();
    assert_eq!(create.header("authorization"), Some("Bearer jwt-1"));
    let b = body(create);
    assert_eq!(
        (b["repo"].as_str(), b["collection"].as_str(), b["rkey"].as_str()),
        (Some("did:plc:brand"), Some("app.bsky.feed.post"), Some(rkey.as_str()))
    );
    let record = &b["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], text);
    assert!(record["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        record["facets"][0]["index"],
        json!({"byteStart": 9, "byteEnd": text.len()})
    );
    assert_eq!(record["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(record["embed"]["images"][0]["image"]["ref"]["$link"], "bafkblob");
}

#[tokio::test]
async fn bluesky_replies_in_the_thread_and_renews_an_expired_session() {
    let p = pds().await;
    let config = json!({"platform": "bluesky", "accountId": "brand-bsky", "commentId": "at://did:plc:other/app.bsky.feed.post/3kparent", "content": "Thanks!"});
    let reg = registry();
    let call = |key: &str| {
        let (mut ctx, _) = ActionContext::for_test(config.clone());
        ctx.connection = Some(bsky_conn(&p));
        ctx.idempotency_key = key.to_owned();
        ctx
    };
    let out = done(reg.execute("REPLY_TO_COMMENT", call("a:1")).await.unwrap());
    assert_eq!(out["inReplyTo"], "at://did:plc:other/app.bsky.feed.post/3kparent");
    let reqs = p.server.requests();
    let create = reqs.iter().rfind(|r| r.path.ends_with("createRecord")).unwrap();
    assert_eq!(
        body(create)["record"]["reply"],
        json!({"root": {"uri": "at://did:plc:other/app.bsky.feed.post/3kroot", "cid": "bafyroot"},
               "parent": {"uri": "at://did:plc:other/app.bsky.feed.post/3kparent", "cid": "bafyparent"}})
    );
    // the same registry keeps the session: no second createSession
    reg.execute("REPLY_TO_COMMENT", call("a:2")).await.unwrap();
    assert_eq!(*p.sessions.lock().unwrap(), 1);
    // an expired token: one new session, then the post
    *p.expire.lock().unwrap() = true;
    reg.execute("REPLY_TO_COMMENT", call("a:3")).await.unwrap();
    assert_eq!(*p.sessions.lock().unwrap(), 2);
    assert_eq!(*p.created.lock().unwrap(), 3);
    // a comment that is not an at:// URI, a wrong password: fatal
    let mut bad = config.clone();
    bad["commentId"] = json!("https://bsky.app/profile/x/post/1");
    let e = run("REPLY_TO_COMMENT", bad, bsky_conn(&p), "b:1").await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("must be a post's at:// URI"),
        "{e}"
    );
    let mut conn = bsky_conn(&p);
    conn["appPassword"] = json!("nope");
    let e = run("REPLY_TO_COMMENT", config, conn, "b:2").await.unwrap_err();
    assert!(
        !e.is_retryable()
            && e.to_string()
                .contains("401: AuthenticationRequired: Invalid identifier or password"),
        "{e}"
    );
}

#[tokio::test]
async fn schedule_post_snoozes_until_the_time_where_the_platform_cannot_schedule() {
    let p = pds().await;
    let at = chrono::Utc::now() + chrono::TimeDelta::minutes(30);
    let config =
        json!({"platform": "bluesky", "accountId": "brand-bsky", "content": "Later", "publishAt": at.to_rfc3339()});
    match run("SCHEDULE_POST", config, bsky_conn(&p), "s:1").await.unwrap() {
        Outcome::Snooze { until, reason } => {
            assert_eq!(until.timestamp(), at.timestamp());
            assert!(reason.contains("bluesky has no scheduling of its own"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(p.server.requests().is_empty(), "nothing sent before the time");
    // at (or after) the time, it posts
    let past = (chrono::Utc::now() - chrono::TimeDelta::seconds(1)).to_rfc3339();
    let out = done(
        run(
            "SCHEDULE_POST",
            json!({"platform": "bluesky", "accountId": "brand-bsky", "content": "Later", "publishAt": past}),
            bsky_conn(&p),
            "s:1",
        )
        .await
        .unwrap(),
    );
    assert_eq!(out["scheduling"], "timer");
    assert_eq!(out["postId"], out["scheduledPostId"]);
    assert_eq!(*p.created.lock().unwrap(), 1);
    let far = (chrono::Utc::now() + chrono::TimeDelta::days(400)).to_rfc3339();
    let e = run(
        "SCHEDULE_POST",
        json!({"platform": "x", "accountId": "a", "content": "c", "publishAt": far}),
        json!({"accessToken": "t"}),
        "s:2",
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("more than 366 days ahead"), "{e}");
}

async fn x_peer() -> (Server, Arc<Mutex<usize>>) {
    let created = Arc::new(Mutex::new(0usize));
    let c = created.clone();
    let server = Server::start(move |r, _| {
        if r.path == "/img/cat.png" {
            return Reply::new(200).header("content-type", "image/png").body(PNG);
        }
        if r.header("authorization") != Some("Bearer x-user-token") {
            return Reply::json(401, &json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}));
        }
        match r.path.as_str() {
            "/2/media/upload" => Reply::json(200, &json!({"data": {"id": "1880028106020515840", "media_key": "3_1880028106020515840"}})),
            "/2/tweets" => {
                let b = body(r);
                match b["text"].as_str() {
                    Some("again") => Reply::json(403, &json!({"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403})),
                    Some("busy") => Reply::json(429, &json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}))
                        .header("x-rate-limit-reset", &(chrono::Utc::now().timestamp() + 120).to_string()),
                    _ => {
                        *c.lock().unwrap() += 1;
                        Reply::json(201, &json!({"data": {"id": "1445880548472328192", "text": b["text"]}}))
                    }
                }
            }
            _ => Reply::json(404, &json!({"title": "Not Found"})),
        }
    })
    .await;
    (server, created)
}

#[tokio::test]
async fn x_posts_replies_with_media_and_types_its_errors() {
    let (server, created) = x_peer().await;
    let conn = json!({"apiUrl": server.url(""), "accessToken": "x-user-token"});
    let out = done(
        run(
            "POST_TO_SOCIAL",
            json!({"platform": "twitter", "accountId": "brand-x", "content": "Hello X", "mediaUrls": [server.url("/img/cat.png")]}),
            conn.clone(),
            "x:1",
        )
        .await
        .unwrap(),
    );
    assert_eq!(
        out,
        json!({"postId": "1445880548472328192", "url": "https://x.com/i/web/status/1445880548472328192", "platform": "x"})
    );
    let reqs = server.requests();
    let upload = reqs.iter().find(|r| r.path == "/2/media/upload").unwrap();
    let text = String::from_utf8_lossy(&upload.body);
    assert!(
        text.contains("name=\"media_category\"\r\n\r\ntweet_image") && text.contains("name=\"media\""),
        "{text}"
    );
    let tweet = reqs.iter().find(|r| r.path == "/2/tweets").unwrap();
    assert_eq!(
        body(tweet),
        json!({"text": "Hello X", "media": {"media_ids": ["1880028106020515840"]}})
    );
    assert_eq!(tweet.header("idempotency-key"), None, "X takes none");
    done(
        run(
            "REPLY_TO_COMMENT",
            json!({"platform": "x", "accountId": "brand-x", "commentId": "1445880548472328100", "content": "Thanks"}),
            conn.clone(),
            "x:2",
        )
        .await
        .unwrap(),
    );
    let last = server.requests().pop().unwrap();
    assert_eq!(
        body(&last),
        json!({"text": "Thanks", "reply": {"in_reply_to_tweet_id": "1445880548472328100"}})
    );
    assert_eq!(*created.lock().unwrap(), 2);
    let post = |text: &str| json!({"platform": "x", "accountId": "brand-x", "content": text});
    let e = run("POST_TO_SOCIAL", post("again"), conn.clone(), "x:3")
        .await
        .unwrap_err();
    assert!(
        !e.is_retryable()
            && e.to_string()
                .contains("403: You are not allowed to create a Tweet with duplicate content."),
        "{e}"
    );
    match run("POST_TO_SOCIAL", post("busy"), conn, "x:4").await.unwrap_err() {
        ActionError::Retryable {
            retry_after: Some(d), ..
        } => assert!((100..=120).contains(&d.as_secs()), "{d:?}"),
        other => panic!("{other:?}"),
    }
    let e = run(
        "POST_TO_SOCIAL",
        post("x"),
        json!({"apiUrl": server.url(""), "accessToken": "bad"}),
        "x:5",
    )
    .await
    .unwrap_err();
    assert!(!e.is_retryable() && e.to_string().contains("401: Unauthorized"), "{e}");
}

#[tokio::test]
async fn social_steps_need_their_account_connection() {
    let (mut ctx, _) = ActionContext::for_test(json!({"platform": "mastodon", "accountId": "brand", "content": "x"}));
    ctx.connection = None;
    let e = registry().execute("POST_TO_SOCIAL", ctx).await.unwrap_err();
    assert!(
        !e.is_retryable() && e.to_string().contains("no `mastodon` connection"),
        "{e}"
    );
}
