//! The OpenAPI document covers every route of the REST API, each one mounted, with no route in
//! it that this test does not know; collections' POSTs answer 201 with an object that has an id.
use crate::common;

use common::{Backend, TestApp};
use serde_json::Value;

/// Every route under /api/v1 is in the OpenAPI document, with its methods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_covers_every_api_route() {
    let Some(app) = TestApp::spawn(Backend::Sqlite).await else {
        return;
    };
    let doc: Value = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let expected = [
        ("/api/v1/me", "get"),
        ("/api/v1/users", "get"),
        ("/api/v1/users", "post"),
        ("/api/v1/users/{id}", "get"),
        ("/api/v1/users/{id}", "patch"),
        ("/api/v1/users/{id}/password", "post"),
        ("/api/v1/me/password", "post"),
        ("/api/v1/tokens", "get"),
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{id}", "delete"),
        ("/api/v1/events", "get"),
        ("/api/v1/services", "get"),
        ("/api/v1/services", "post"),
        ("/api/v1/services/{id}", "get"),
        ("/api/v1/services/{id}", "patch"),
        ("/api/v1/services/{id}", "delete"),
        ("/api/v1/services/{id}/integrations", "get"),
        ("/api/v1/services/{id}/integrations", "post"),
        ("/api/v1/integrations/{id}", "get"),
        ("/api/v1/integrations/{id}", "patch"),
        ("/api/v1/integrations/{id}", "delete"),
        ("/api/v1/integrations/{id}/rotate-key", "post"),
        ("/api/v1/services/{id}/maintenance-windows", "get"),
        ("/api/v1/services/{id}/maintenance-windows", "post"),
        (
            "/api/v1/services/{id}/maintenance-windows/{window_id}",
            "delete",
        ),
        ("/api/v1/alerts", "get"),
        ("/api/v1/alerts/{id}", "get"),
        ("/api/v1/alerts/{id}/events", "get"),
        ("/api/v1/insights/incidents/metrics", "get"),
        ("/api/v1/insights/alert-noise", "get"),
        ("/api/v1/insights/oncall-load", "get"),
        ("/api/v1/insights/slo-budget", "get"),
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents/{id}", "get"),
        ("/api/v1/incidents/{id}/timeline", "get"),
        ("/api/v1/services/{id}/timeline", "get"),
        ("/api/v1/escalation-policies", "get"),
        ("/api/v1/escalation-policies", "post"),
        ("/api/v1/escalation-policies/{id}", "get"),
        ("/api/v1/escalation-policies/{id}", "patch"),
        ("/api/v1/escalation-policies/{id}", "delete"),
        ("/api/v1/users/{id}/contact-methods", "get"),
        ("/api/v1/users/{id}/contact-methods", "post"),
        ("/api/v1/contact-methods/{id}", "patch"),
        ("/api/v1/contact-methods/{id}", "delete"),
        ("/api/v1/contact-methods/{id}/test", "post"),
        ("/api/v1/users/{id}/notification-rules", "get"),
        ("/api/v1/users/{id}/notification-rules", "post"),
        ("/api/v1/users/{id}/notification-rules/{rule_id}", "patch"),
        ("/api/v1/users/{id}/notification-rules/{rule_id}", "delete"),
        ("/api/v1/incidents/{id}/acknowledge", "post"),
        ("/api/v1/incidents/{id}/resolve", "post"),
        ("/api/v1/incidents/{id}/escalate", "post"),
        ("/api/v1/incidents/{id}/reassign", "post"),
        ("/api/v1/incidents/{id}/notifications", "get"),
        ("/api/v1/schedules", "get"),
        ("/api/v1/schedules/preview", "post"),
        ("/api/v1/schedules", "post"),
        ("/api/v1/schedules/{id}", "get"),
        ("/api/v1/schedules/{id}", "patch"),
        ("/api/v1/schedules/{id}", "delete"),
        ("/api/v1/schedules/{id}/overrides", "get"),
        ("/api/v1/schedules/{id}/overrides", "post"),
        ("/api/v1/schedules/{id}/overrides/{override_id}", "delete"),
        ("/api/v1/schedules/{id}/shifts", "get"),
        ("/api/v1/schedules/{id}/oncalls", "get"),
        ("/api/v1/oncalls", "get"),
        ("/api/v1/incidents", "post"),
        ("/api/v1/incidents/{id}", "patch"),
        ("/api/v1/incidents/{id}/status", "post"),
        ("/api/v1/incidents/{id}/milestones", "patch"),
        ("/api/v1/incidents/{id}/roles", "get"),
        ("/api/v1/incidents/{id}/roles", "post"),
        ("/api/v1/incidents/{id}/roles/{role}/{user_id}", "delete"),
        ("/api/v1/incidents/{id}/notes", "post"),
        ("/api/v1/incidents/{id}/timeline/{seq}/pin", "put"),
        ("/api/v1/incidents/{id}/timeline/{seq}/pin", "delete"),
        ("/api/v1/incidents/{id}/timeline.md", "get"),
        ("/api/v1/incident-settings", "get"),
        ("/api/v1/incidents/{id}/tasks", "get"),
        ("/api/v1/incidents/{id}/tasks", "post"),
        ("/api/v1/incidents/{id}/tasks/{task_id}", "patch"),
        ("/api/v1/incidents/{id}/tasks/{task_id}", "delete"),
        ("/api/v1/incidents/{id}/page", "post"),
        ("/api/v1/incidents/{id}/related", "get"),
        ("/api/v1/incidents/{id}/related", "post"),
        ("/api/v1/incidents/{id}/related/{other_id}", "delete"),
        ("/api/v1/incidents/{id}/merge", "post"),
        ("/api/v1/incidents/{id}/subscribers", "get"),
        ("/api/v1/incidents/{id}/subscribers", "post"),
        ("/api/v1/incidents/{id}/subscribers/{user_id}", "delete"),
        ("/api/v1/incidents/{id}/updates", "post"),
        ("/api/v1/checks", "get"),
        ("/api/v1/checks", "post"),
        ("/api/v1/checks/{id}", "get"),
        ("/api/v1/checks/{id}", "patch"),
        ("/api/v1/checks/{id}", "delete"),
        ("/api/v1/checks/{id}/results", "get"),
        ("/api/v1/checks/{id}/uptime", "get"),
        ("/api/v1/action-items", "get"),
        ("/api/v1/action-items", "post"),
        ("/api/v1/action-items/summary", "get"),
        ("/api/v1/action-items/{id}", "get"),
        ("/api/v1/action-items/{id}", "patch"),
        ("/api/v1/action-items/{id}", "delete"),
        ("/api/v1/slos", "get"),
        ("/api/v1/slos", "post"),
        ("/api/v1/slos/{id}", "get"),
        ("/api/v1/slos/{id}", "patch"),
        ("/api/v1/slos/{id}", "delete"),
        ("/api/v1/slos/{id}/counts", "post"),
        ("/api/v1/slos/{id}/burn-down", "get"),
        ("/api/v1/slos/apply", "post"),
        ("/api/v1/slos/openslo", "get"),
        ("/api/v1/slos/{id}/openslo", "get"),
        ("/api/v1/incidents/{id}/slo-budget", "get"),
        ("/api/v1/runbooks", "get"),
        ("/api/v1/runbooks", "post"),
        ("/api/v1/runbooks/{runbook}", "get"),
        ("/api/v1/runbooks/{runbook}", "put"),
        ("/api/v1/runbooks/{runbook}", "delete"),
        ("/api/v1/runbooks/{runbook}/versions", "get"),
        ("/api/v1/runbooks/{runbook}/versions/{version}", "get"),
        (
            "/api/v1/runbooks/{runbook}/versions/{version}/restore",
            "post",
        ),
        ("/api/v1/runbooks/{runbook}/diff", "get"),
        ("/api/v1/runbooks/sync", "post"),
        ("/api/v1/runbooks/check", "post"),
        ("/api/v1/incidents/{id}/runbooks", "get"),
        ("/api/v1/incidents/{id}/runs", "get"),
        ("/api/v1/incidents/{id}/runs", "post"),
        ("/api/v1/runs/{id}", "get"),
        ("/api/v1/runs/{id}/moves", "post"),
        ("/api/v1/runs/{id}/steps/{index}/output", "get"),
        ("/api/v1/secrets", "get"),
        ("/api/v1/secrets/{name}", "put"),
        ("/api/v1/secrets/{name}", "delete"),
        ("/api/v1/runners", "get"),
        ("/api/v1/runners", "post"),
        ("/api/v1/runners/{id}", "delete"),
        ("/api/v1/runners/{id}/enabled", "post"),
        ("/api/v1/runners/{id}/enabled/{runbook}/{version}", "delete"),
        ("/api/v1/workflows", "get"),
        ("/api/v1/workflows", "post"),
        ("/api/v1/workflows/preview", "post"),
        ("/api/v1/workflows/{workflow}", "get"),
        ("/api/v1/workflows/{workflow}", "put"),
        ("/api/v1/workflows/{workflow}", "delete"),
        ("/api/v1/workflows/{workflow}/runs", "get"),
        ("/api/v1/incidents/{id}/workflow-runs", "get"),
        ("/api/v1/workflow-runs/{id}", "get"),
        ("/api/v1/drill-scenarios", "get"),
        ("/api/v1/drill-scenarios", "post"),
        ("/api/v1/drill-scenarios/preview", "post"),
        ("/api/v1/drill-scenarios/record", "post"),
        ("/api/v1/drill-scenarios/{scenario}", "get"),
        ("/api/v1/drill-scenarios/{scenario}", "put"),
        ("/api/v1/drill-scenarios/{scenario}", "delete"),
        ("/api/v1/drills", "get"),
        ("/api/v1/drills", "post"),
        ("/api/v1/drills/{drill}", "get"),
        ("/api/v1/drills/{drill}/end", "post"),
        ("/api/v1/runner/claim", "post"),
        ("/api/v1/runner/runs/{run}/steps/{step}/renew", "post"),
        ("/api/v1/runner/runs/{run}/steps/{step}/report", "post"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/webhooks", "post"),
        ("/api/v1/webhooks/{id}", "get"),
        ("/api/v1/webhooks/{id}", "patch"),
        ("/api/v1/webhooks/{id}", "delete"),
        ("/api/v1/webhooks/{id}/deliveries", "get"),
        ("/api/v1/status-pages", "get"),
        ("/api/v1/status-pages", "post"),
        ("/api/v1/status-pages/{page}", "get"),
        ("/api/v1/status-pages/{page}", "patch"),
        ("/api/v1/status-pages/{page}", "delete"),
        ("/api/v1/status-pages/{page}/components", "get"),
        ("/api/v1/status-pages/{page}/components", "post"),
        (
            "/api/v1/status-pages/{page}/components/{component}",
            "patch",
        ),
        (
            "/api/v1/status-pages/{page}/components/{component}",
            "delete",
        ),
        ("/api/v1/status-pages/{page}/subscribers", "get"),
        ("/api/v1/status-pages/{page}/subscribers", "post"),
        (
            "/api/v1/status-pages/{page}/subscribers/{subscriber}",
            "get",
        ),
        (
            "/api/v1/status-pages/{page}/subscribers/{subscriber}",
            "patch",
        ),
        (
            "/api/v1/status-pages/{page}/subscribers/{subscriber}",
            "delete",
        ),
        ("/api/v1/status-pages/{page}/incidents", "get"),
        ("/api/v1/status-pages/{page}/incidents", "post"),
        ("/api/v1/status-pages/{page}/incidents/{incident}", "get"),
        ("/api/v1/status-pages/{page}/incidents/{incident}", "delete"),
        (
            "/api/v1/status-pages/{page}/incidents/{incident}/updates",
            "post",
        ),
        ("/api/v1/postmortems", "get"),
        ("/api/v1/postmortems", "post"),
        ("/api/v1/postmortems/{id}", "get"),
        ("/api/v1/postmortems/{id}", "patch"),
        ("/api/v1/postmortems/{id}/timeline", "patch"),
        ("/api/v1/postmortems/{id}/comments", "post"),
        ("/api/v1/postmortems/{id}/submit", "post"),
        ("/api/v1/postmortems/{id}/approve", "post"),
        ("/api/v1/postmortems/{id}/draft", "post"),
        ("/api/v1/postmortems/{id}/publish", "post"),
        ("/api/v1/postmortems/{id}/status-page", "post"),
        ("/api/v1/postmortems/{id}/export.md", "get"),
    ];
    for (path, method) in expected {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from OpenAPI"
        );
        // And the route really is served (not 404/405).
        let url = format!(
            "{}{}",
            app.url,
            path.replace("{id}", "00000000-0000-7000-8000-000000000000")
                .replace("{window_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{rule_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{user_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{role}", "scribe")
                .replace("{seq}", "1")
                .replace("{task_id}", "00000000-0000-7000-8000-000000000000")
                .replace("{other_id}", "00000000-0000-7000-8000-000000000001")
                .replace("{page}", "00000000-0000-7000-8000-000000000000")
                .replace("{component}", "api")
                .replace("{incident}", "aaaaaaaaaaaa")
        );
        let r = app
            .http
            .request(method.to_uppercase().parse().unwrap(), url)
            .bearer_auth(&app.admin.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        // A 404 is fine for an id that does not exist, but not for a route that is not mounted.
        assert!(
            status != 405
                && (status != 404
                    || (path.contains('{') && body["error"]["message"] != "route not found")),
            "{method} {path}: {status} {body}"
        );
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        expected.len(),
        "the document has routes this test does not know"
    );
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // A POST to an incident's collection creates: 201 with the object, which has an id.
    for (path, schema) in [
        ("/api/v1/incidents/{id}/roles", "RoleOut"),
        ("/api/v1/incidents/{id}/notes", "EventOut"),
        ("/api/v1/incidents/{id}/related", "IncidentOut"),
        ("/api/v1/incidents/{id}/subscribers", "SubscriberOut"),
        ("/api/v1/incidents/{id}/updates", "EventOut"),
    ] {
        let created = &doc["paths"][path]["post"]["responses"]["201"];
        assert_eq!(
            created["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "POST {path}: {created}"
        );
        assert!(
            doc["components"]["schemas"][schema]["properties"]["id"].is_object(),
            "{schema} has no id"
        );
    }
    app.stop().await;
}
