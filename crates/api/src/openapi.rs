//! The OpenAPI 3.1 document, generated from the handlers' annotations
//! (utoipa). Errors every operation can give (bad request, no token, too many
//! requests, internal) and those of body-taking operations (413, 415, 422)
//! are added here, so that the document lists every status a route answers.
//! docs/openapi.json is this document, drift-tested.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Doc, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    actions, connections, email_templates, events, hooks, meta, notifications, records, runs, schedules, secrets,
    tokens, versions, workflows,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orbflow",
        version = "1",
        description = "The orbflow workflow engine's API. Every /v1 route needs `Authorization: Bearer <token>`; a token acts in one workspace, and another workspace's objects answer 404. Errors are RFC 9457 problem details (`application/problem+json`) with a stable `code`."
    ),
    paths(
        meta::healthz, meta::readyz, meta::metrics, meta::openapi_json, meta::workspace,
        tokens::list, tokens::create, tokens::revoke,
        secrets::list, secrets::get, secrets::put, secrets::delete,
        connections::list, connections::get, connections::put, connections::delete,
        notifications::list, notifications::get, notifications::read, notifications::unread,
        records::list, records::insert, records::get, records::replace, records::delete,
        email_templates::list, email_templates::get, email_templates::put, email_templates::delete,
        workflows::create, workflows::list, workflows::get, workflows::archive,
        workflows::get_draft, workflows::put_draft, workflows::validate,
        versions::publish, versions::list, versions::get, versions::export, versions::diff, versions::rollback,
        runs::start, runs::list, runs::get, runs::logs, runs::cancel, runs::retry,
        actions::list, actions::get,
        schedules::list, schedules::get, schedules::enable, schedules::disable, schedules::preview,
        schedules::preview_expression,
        events::publish,
        hooks::deliver, hooks::deliver_short,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&Security),
    tags(
        (name = "workflows", description = "Workflows and their drafts"),
        (name = "versions", description = "Published, immutable versions"),
        (name = "runs", description = "Runs of published versions"),
        (name = "actions", description = "The action catalog"),
        (name = "schedules", description = "Cron triggers of active versions"),
        (name = "events", description = "Event triggers"),
        (name = "webhooks", description = "Webhook intake (signed, not bearer-authenticated)"),
        (name = "tokens", description = "API tokens of the workspace"),
        (name = "secrets", description = "Secrets of the workspace (sealed; values are never returned)"),
        (name = "email-templates", description = "Stored email templates (SEND_EMAIL's templateId)"),
        (name = "records", description = "The workspace's data store (UPDATE_DATABASE)"),
        (name = "notifications", description = "The workspace's in-app inbox (CREATE_NOTIFICATION)"),
        (name = "connections", description = "Providers of the workspace (SMTP, Slack); credentials are secret templates"),
        (name = "workspace", description = "The token's workspace"),
        (name = "meta", description = "Health and this document"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Doc) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                Content::new(Some(Ref::from_schema_name("Problem"))),
            )
            .build(),
    )
}

/// The document served at /openapi.json.
pub fn document() -> Doc {
    let mut doc = ApiDoc::openapi();
    for (path, item) in doc.paths.paths.iter_mut() {
        let authed = path.starts_with("/v1/");
        let ops = [
            (item.get.as_mut(), false),
            (item.put.as_mut(), true),
            (item.post.as_mut(), true),
            (item.delete.as_mut(), false),
        ];
        for (op, has_body) in ops {
            let Some(op) = op else { continue };
            let r = &mut op.responses.responses;
            let mut add = |code: &str, d: &str| {
                r.entry(code.to_owned()).or_insert_with(|| problem(d));
            };
            if authed || path.starts_with("/hooks/") {
                add("400", "Malformed request: query, header or body");
                add("404", "No such object in the token's workspace (or no such route)");
                add("405", "The route does not accept this method");
            }
            if authed {
                add("401", "No valid bearer token");
                add("403", "The token lacks a permission (`missingPermissions` names them)");
                add("429", "Rate limit of the token exceeded; see Retry-After");
            }
            if has_body && (authed || path.starts_with("/hooks/")) {
                add("413", "The body is larger than the limit");
                add("415", "Unsupported Content-Type");
                add("422", "The content is not acceptable");
            }
            add("500", "Internal error (the body carries only an error id)");
            add("503", "A dependency is unavailable");
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_errors() {
        let doc = document();
        let v = serde_json::to_value(&doc).expect("serializes");
        assert_eq!(v["openapi"], "3.1.0");
        let paths = v["paths"].as_object().expect("paths");
        assert!(paths.len() >= 30, "{} paths", paths.len());
        for (p, item) in paths {
            for (m, op) in item.as_object().expect("item") {
                let codes = op["responses"].as_object().expect("responses");
                assert!(codes.contains_key("500"), "{m} {p}");
                if p.starts_with("/v1/") {
                    for c in ["401", "403", "404", "429"] {
                        assert!(codes.contains_key(c), "{m} {p} lacks {c}");
                    }
                }
            }
        }
    }
}
