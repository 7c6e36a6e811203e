//! Incident tasks and links through the REST API, on both backends: adding, listing, changing,
//! completing and removing tasks, each a typed timeline event; the Markdown export; what is
//! refused (and writes nothing); and the conference and chat links of an incident. The clock is
//! the test's: every time asserted is one it was moved to.
use crate::common;

use jiff::SignedDuration;
use serde_json::{Value, json};

use common::{Backend, TestApp, delete, expect_error, member, ok, patch, refused};

on_both_backends!(
    tasks_are_added_listed_oldest_first_and_changed,
    done_and_reopened_tasks_stamp_the_clock,
    removed_tasks_are_gone,
    the_markdown_export_mentions_tasks,
    unknown_tasks_and_tasks_of_other_incidents_are_not_found,
    bad_task_input_is_refused_and_writes_nothing,
    a_closed_incidents_tasks_are_final,
    viewers_read_tasks_but_cannot_change_them,
    concurrent_task_changes_are_decided_one_at_a_time,
    links_are_set_on_declare_changed_and_cleared,
    bad_links_are_refused_and_write_nothing,
    tasks_added_at_once_keep_their_order_and_times_are_kept_to_the_millisecond,
);

async fn declare(app: &TestApp, token: &str, body: Value) -> Value {
    ok(app.post("/api/v1/incidents", token, &body), 201).await
}

/// A SEV3 without a service: nobody is paged, it starts acknowledged, the declarer reported it.
async fn minor(app: &TestApp, token: &str, title: &str) -> String {
    let i = declare(app, token, json!({"title": title, "severity": "SEV3"})).await;
    assert_eq!(i["status"], "acknowledged");
    id_of(&i)
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn incident(app: &TestApp, id: &str) -> Value {
    ok(
        app.get(&format!("/api/v1/incidents/{id}"), &app.admin.token),
        200,
    )
    .await
}

async fn timeline(app: &TestApp, id: &str) -> Vec<Value> {
    let t = ok(
        app.get(
            &format!("/api/v1/incidents/{id}/timeline?limit=500"),
            &app.admin.token,
        ),
        200,
    )
    .await;
    t["items"].as_array().unwrap().clone()
}

/// The events written since the timeline had `n` of them.
async fn since(app: &TestApp, id: &str, n: usize) -> Vec<Value> {
    timeline(app, id).await.split_off(n)
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

fn tasks_path(id: &str) -> String {
    format!("/api/v1/incidents/{id}/tasks")
}

fn task_path(id: &str, task: &str) -> String {
    format!("/api/v1/incidents/{id}/tasks/{task}")
}

fn add(app: &TestApp, token: &str, id: &str, body: &Value) -> reqwest::RequestBuilder {
    app.post(&tasks_path(id), token, body)
}

async fn added(app: &TestApp, token: &str, id: &str, body: Value) -> Value {
    ok(add(app, token, id, &body), 201).await
}

fn change(
    app: &TestApp,
    token: &str,
    id: &str,
    task: &str,
    body: &Value,
) -> reqwest::RequestBuilder {
    patch(app, &task_path(id, task), token, body)
}

async fn changed(app: &TestApp, token: &str, id: &str, task: &str, body: Value) -> Value {
    ok(change(app, token, id, task, &body), 200).await
}

fn remove(app: &TestApp, token: &str, id: &str, task: &str) -> reqwest::RequestBuilder {
    delete(app, &task_path(id, task), token)
}

/// Read two at a time, so every list of tasks here also checks paging.
async fn tasks(app: &TestApp, id: &str) -> Vec<Value> {
    common::all_pages(app, &tasks_path(id), 2).await
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

async fn markdown(app: &TestApp, id: &str, query: &str, token: &str) -> String {
    let r = app
        .get(&format!("/api/v1/incidents/{id}/timeline.md{query}"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/markdown"), "{ct}");
    r.text().await.unwrap()
}

fn later(app: &TestApp, minutes: i64) {
    app.clock.advance(SignedDuration::from_mins(minutes));
}

/// A time `minutes` from the fake clock's start (09:00), as the API writes it.
fn at(minutes: i64) -> String {
    let start: jiff::Timestamp = "2026-11-21T09:00:00Z".parse().unwrap();
    (start + SignedDuration::from_mins(minutes)).to_string()
}

/// A well-formed id nobody has.
const NOBODY: &str = "01234567-89ab-7def-8123-456789abcdef";

/// What a refused request must leave alone: the incident, its whole timeline and its tasks.
type Snapshot = (Value, Vec<Value>, Vec<Value>);

async fn snapshot(app: &TestApp, id: &str) -> Snapshot {
    (
        incident(app, id).await,
        timeline(app, id).await,
        tasks(app, id).await,
    )
}

async fn unchanged(app: &TestApp, id: &str, before: &Snapshot, what: &str) {
    let after = snapshot(app, id).await;
    assert_eq!(after.0, before.0, "{what}: the incident changed");
    assert_eq!(after.1, before.1, "{what}: the timeline changed");
    assert_eq!(after.2, before.2, "{what}: the tasks changed");
}

// --- tasks --------------------------------------------------------------------------------------

async fn tasks_are_added_listed_oldest_first_and_changed(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let id = minor(&app, &ada.token, "Checkout errors").await;
    assert!(tasks(&app, &id).await.is_empty());

    // Added: trimmed, with an assignee and a due time, created at the clock.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let t1 = added(
        &app,
        &ada.token,
        &id,
        json!({"title": "  Roll back the deploy  ", "assignee_id": bob.id, "due_at": at(30)}),
    )
    .await;
    let t1_id = id_of(&t1);
    assert_eq!(
        t1,
        json!({"id": t1_id, "incident_id": id, "title": "Roll back the deploy",
               "assignee_id": bob.id, "due_at": at(30), "done": false, "done_at": null,
               "created_at": at(1)})
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_added"]);
    assert_eq!(new[0]["at"], at(1));
    assert!(
        new[0]["actor"].as_str().unwrap().starts_with("token:"),
        "{}",
        new[0]
    );
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t1_id, "title": "Roll back the deploy", "user_id": bob.id,
               "due_at": at(30)})
    );

    // Nobody on it, no due time.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let t2 = added(&app, &bob.token, &id, json!({"title": "Tell support"})).await;
    let t2_id = id_of(&t2);
    assert_eq!(
        (&t2["assignee_id"], &t2["due_at"], &t2["created_at"]),
        (&Value::Null, &Value::Null, &json!(at(2)))
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_added"]);
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t2_id, "title": "Tell support", "user_id": null, "due_at": null})
    );

    // A due time with an offset is the same instant in UTC; an empty assignee is nobody.
    later(&app, 1);
    let t3 = added(
        &app,
        &ada.token,
        &id,
        json!({"title": "Watch error rates", "assignee_id": "", "due_at": "2026-11-21T12:00:00+02:00"}),
    )
    .await;
    assert_eq!(t3["due_at"], at(60));
    assert_eq!(t3["assignee_id"], Value::Null);
    assert_eq!(t3["created_at"], at(3));

    // Listed oldest first, as they were answered.
    let list = tasks(&app, &id).await;
    assert_eq!(list, [t1.clone(), t2.clone(), t3.clone()]);

    // Title, assignee and due time at once: one event listing each change.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let u = changed(
        &app,
        &ada.token,
        &id,
        &t2_id,
        json!({"title": "Tell support and sales", "assignee_id": ada.id, "due_at": at(45)}),
    )
    .await;
    assert_eq!(
        u,
        json!({"id": t2_id, "incident_id": id, "title": "Tell support and sales",
               "assignee_id": ada.id, "due_at": at(45), "done": false, "done_at": null,
               "created_at": at(2)})
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_updated"]);
    assert_eq!(new[0]["at"], at(4));
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t2_id, "title": "Tell support and sales", "user_id": ada.id,
        "changes": {
            "title": {"from": "Tell support", "to": "Tell support and sales"},
            "assignee": {"from": null, "to": ada.id},
            "due": {"from": null, "to": at(45)},
        }})
    );

    // null clears the assignee and the due time.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let u = changed(
        &app,
        &ada.token,
        &id,
        &t2_id,
        json!({"assignee_id": null, "due_at": null}),
    )
    .await;
    assert_eq!(
        (&u["title"], &u["assignee_id"], &u["due_at"]),
        (&json!("Tell support and sales"), &Value::Null, &Value::Null)
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_updated"]);
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t2_id, "title": "Tell support and sales", "user_id": null,
        "changes": {
            "assignee": {"from": ada.id, "to": null},
            "due": {"from": at(45), "to": null},
        }})
    );

    // Only what changed is listed; absent fields stay.
    let n = timeline(&app, &id).await.len();
    let u = changed(
        &app,
        &bob.token,
        &id,
        &t1_id,
        json!({"title": "Roll back deploy 42", "assignee_id": bob.id}),
    )
    .await;
    assert_eq!(
        (&u["assignee_id"], &u["due_at"]),
        (&json!(bob.id), &json!(at(30)))
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_updated"]);
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t1_id, "title": "Roll back deploy 42", "user_id": bob.id,
               "changes": {"title": {"from": "Roll back the deploy", "to": "Roll back deploy 42"}}})
    );

    // Nothing new: 200 with the task as it is, and no event.
    later(&app, 1);
    let before = snapshot(&app, &id).await;
    let same_t2 = before.2[1].clone();
    for body in [
        json!({}),
        json!({"title": "Tell support and sales", "assignee_id": null, "due_at": null,
               "done": false}),
        json!({"title": "  Tell support and sales ", "assignee_id": ""}),
    ] {
        let u = changed(&app, &ada.token, &id, &t2_id, body.clone()).await;
        assert_eq!(u, same_t2, "{body}");
    }
    let u = changed(
        &app,
        &ada.token,
        &id,
        &t1_id,
        json!({"assignee_id": bob.id, "due_at": "2026-11-21T10:30:00+01:00"}),
    )
    .await;
    assert_eq!(u, before.2[0]);
    unchanged(&app, &id, &before, "no-op updates").await;
    app.stop().await;
}

async fn done_and_reopened_tasks_stamp_the_clock(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let id = minor(&app, &ada.token, "Queue backlog").await;
    let t = added(
        &app,
        &ada.token,
        &id,
        json!({"title": "Drain the queue", "assignee_id": bob.id}),
    )
    .await;
    let tid = id_of(&t);

    // Done: stamped at the clock, one event.
    later(&app, 5);
    let n = timeline(&app, &id).await.len();
    let d = changed(&app, &bob.token, &id, &tid, json!({"done": true})).await;
    assert_eq!((&d["done"], &d["done_at"]), (&json!(true), &json!(at(5))));
    assert_eq!(d["title"], "Drain the queue");
    assert_eq!(d["created_at"], at(0));
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_done"]);
    assert_eq!(new[0]["at"], at(5));
    assert_eq!(
        new[0]["data"],
        json!({"task_id": tid, "title": "Drain the queue", "user_id": bob.id})
    );
    assert_eq!(tasks(&app, &id).await, std::slice::from_ref(&d));

    // Done again: nothing new, the first stamp stays.
    later(&app, 1);
    let before = snapshot(&app, &id).await;
    let again = changed(&app, &ada.token, &id, &tid, json!({"done": true})).await;
    assert_eq!(again, d);
    unchanged(&app, &id, &before, "done twice").await;

    // Reopened: the stamp is cleared, one event.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let r = changed(&app, &ada.token, &id, &tid, json!({"done": false})).await;
    assert_eq!((&r["done"], &r["done_at"]), (&json!(false), &Value::Null));
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_reopened"]);
    assert_eq!(new[0]["at"], at(7));
    assert_eq!(
        new[0]["data"],
        json!({"task_id": tid, "title": "Drain the queue", "user_id": bob.id})
    );
    let before = snapshot(&app, &id).await;
    changed(&app, &ada.token, &id, &tid, json!({"done": false})).await;
    unchanged(&app, &id, &before, "reopened twice").await;

    // A change and completion together: the change, then the completion, both with the new
    // title and the new assignee.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let d = changed(
        &app,
        &ada.token,
        &id,
        &tid,
        json!({"title": "Drain and purge the queue", "assignee_id": ada.id, "done": true}),
    )
    .await;
    assert_eq!((&d["done"], &d["done_at"]), (&json!(true), &json!(at(8))));
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_updated", "incident.task_done"]);
    assert!(new.iter().all(|e| e["at"] == at(8)));
    assert_eq!(
        new[0]["data"]["changes"],
        json!({"title": {"from": "Drain the queue", "to": "Drain and purge the queue"},
               "assignee": {"from": bob.id, "to": ada.id}})
    );
    assert_eq!(
        new[1]["data"],
        json!({"task_id": tid, "title": "Drain and purge the queue", "user_id": ada.id})
    );

    // A done task can still be edited; it stays done at its stamp.
    later(&app, 1);
    let e = changed(&app, &ada.token, &id, &tid, json!({"due_at": at(20)})).await;
    assert_eq!((&e["done"], &e["done_at"]), (&json!(true), &json!(at(8))));
    app.stop().await;
}

async fn removed_tasks_are_gone(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let id = minor(&app, &ada.token, "Cert expiring").await;
    let t1 = added(&app, &ada.token, &id, json!({"title": "Renew the cert"})).await;
    later(&app, 1);
    let t2 = added(
        &app,
        &ada.token,
        &id,
        json!({"title": "Add an expiry alert"}),
    )
    .await;
    let t1_id = id_of(&t1);

    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    assert_eq!(
        ok(remove(&app, &ada.token, &id, &t1_id), 204).await,
        Value::Null
    );
    assert_eq!(tasks(&app, &id).await, std::slice::from_ref(&t2));
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.task_removed"]);
    assert_eq!(new[0]["at"], at(2));
    assert_eq!(
        new[0]["data"],
        json!({"task_id": t1_id, "title": "Renew the cert"})
    );

    // Gone: removing or changing it again is a 404 that writes nothing.
    let before = snapshot(&app, &id).await;
    let e = refused(
        remove(&app, &ada.token, &id, &t1_id),
        404,
        "not_found",
        None,
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("task"), "{e}");
    refused(
        change(&app, &ada.token, &id, &t1_id, &json!({"done": true})),
        404,
        "not_found",
        None,
    )
    .await;
    unchanged(&app, &id, &before, "a removed task").await;

    // A done task can be removed too; the list ends empty.
    changed(&app, &ada.token, &id, &id_of(&t2), json!({"done": true})).await;
    ok(remove(&app, &ada.token, &id, &id_of(&t2)), 204).await;
    assert!(tasks(&app, &id).await.is_empty());
    app.stop().await;
}

async fn the_markdown_export_mentions_tasks(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let id = minor(&app, &ada.token, "Replica lag").await;
    later(&app, 1);
    let t = added(
        &app,
        &ada.token,
        &id,
        json!({"title": "Page the DBA", "assignee_id": bob.id}),
    )
    .await;
    let tid = id_of(&t);
    later(&app, 1);
    changed(
        &app,
        &bob.token,
        &id,
        &tid,
        json!({"title": "Page the on-call DBA", "due_at": at(30)}),
    )
    .await;
    later(&app, 1);
    changed(&app, &bob.token, &id, &tid, json!({"done": true})).await;
    later(&app, 1);
    changed(&app, &ada.token, &id, &tid, json!({"done": false})).await;
    later(&app, 1);
    let other = added(&app, &ada.token, &id, json!({"title": "Drop the cache"})).await;
    later(&app, 1);
    ok(remove(&app, &ada.token, &id, &id_of(&other)), 204).await;

    let md = markdown(&app, &id, "", &app.admin.token).await;
    for line in [
        "- **2026-11-21 09:01:00 UTC** Ada: added a task for Bob: Page the DBA\n",
        "- **2026-11-21 09:02:00 UTC** Bob: updated the task “Page the on-call DBA”: \
         set the due time to 2026-11-21 09:30 UTC and \
         changed the title from “Page the DBA” to “Page the on-call DBA”\n",
        "- **2026-11-21 09:03:00 UTC** Bob: completed the task Page the on-call DBA\n",
        "- **2026-11-21 09:04:00 UTC** Ada: reopened the task Page the on-call DBA\n",
        "- **2026-11-21 09:05:00 UTC** Ada: added a task: Drop the cache\n",
        "- **2026-11-21 09:06:00 UTC** Ada: removed the task Drop the cache\n",
    ] {
        assert!(md.contains(line), "missing {line:?} in:\n{md}");
    }

    // Filtered to task events by kind.
    let only = markdown(
        &app,
        &id,
        "?kind=incident.task_done,incident.task_removed",
        &app.admin.token,
    )
    .await;
    let timeline_part = only.split("## Timeline").nth(1).unwrap();
    assert_eq!(
        timeline_part.matches("\n- **").count(),
        2,
        "{timeline_part}"
    );
    assert!(timeline_part.contains("completed the task Page the on-call DBA"));
    assert!(timeline_part.contains("removed the task Drop the cache"));
    app.stop().await;
}

async fn unknown_tasks_and_tasks_of_other_incidents_are_not_found(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let a = minor(&app, &ada.token, "Incident A").await;
    let b_id = minor(&app, &ada.token, "Incident B").await;
    let ta = id_of(&added(&app, &ada.token, &a, json!({"title": "Task of A"})).await);
    let tb = id_of(&added(&app, &ada.token, &b_id, json!({"title": "Task of B"})).await);
    later(&app, 1);
    let before_a = snapshot(&app, &a).await;
    let before_b = snapshot(&app, &b_id).await;

    // B's task through A, and an id nobody has.
    for task in [tb.as_str(), NOBODY] {
        for req in [
            change(&app, &ada.token, &a, task, &json!({"title": "Hijacked"})),
            change(&app, &ada.token, &a, task, &json!({"done": true})),
            remove(&app, &ada.token, &a, task),
        ] {
            let e = refused(req, 404, "not_found", None).await;
            assert!(e["message"].as_str().unwrap().contains("task"), "{e}");
        }
    }
    // Something that is not an id at all: the caller's mistake, named.
    for (req, field) in [
        (
            change(&app, &ada.token, &a, "nope", &json!({"done": true})),
            "task_id",
        ),
        (remove(&app, &ada.token, &a, "nope"), "task_id"),
        (app.get(&tasks_path("nope"), &ada.token), "id"),
    ] {
        refused(req, 400, "invalid_field", Some(field)).await;
    }
    // An incident nobody has, even with a real task id.
    for req in [
        app.get(&tasks_path(NOBODY), &ada.token),
        add(&app, &ada.token, NOBODY, &json!({"title": "Lost"})),
        change(&app, &ada.token, NOBODY, &ta, &json!({"done": true})),
        remove(&app, &ada.token, NOBODY, &ta),
    ] {
        let e = refused(req, 404, "not_found", None).await;
        assert!(e["message"].as_str().unwrap().contains("incident"), "{e}");
    }
    unchanged(&app, &a, &before_a, "incident A").await;
    unchanged(&app, &b_id, &before_b, "incident B").await;

    // Each incident lists only its own.
    assert_eq!(ids(&tasks(&app, &a).await), [ta]);
    assert_eq!(ids(&tasks(&app, &b_id).await), [tb]);
    app.stop().await;
}

async fn bad_task_input_is_refused_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let id = minor(&app, &ada.token, "Bad input").await;
    let t = added(&app, &ada.token, &id, json!({"title": "Valid task"})).await;
    let tid = id_of(&t);
    later(&app, 1);
    let before = snapshot(&app, &id).await;

    let long = "x".repeat(201);
    let long_accents = "é".repeat(201);
    for title in [
        "",
        "   ",
        long.as_str(),
        long_accents.as_str(),
        "two\nlines",
    ] {
        refused(
            add(&app, &ada.token, &id, &json!({"title": title})),
            400,
            "invalid_field",
            Some("title"),
        )
        .await;
        refused(
            change(&app, &ada.token, &id, &tid, &json!({"title": title})),
            400,
            "invalid_field",
            Some("title"),
        )
        .await;
    }
    // A title that is too long says so.
    let e = refused(
        add(&app, &ada.token, &id, &json!({"title": long})),
        400,
        "invalid_field",
        Some("title"),
    )
    .await;
    assert!(e["message"].as_str().unwrap().contains("200"), "{e}");

    // An assignee must be somebody.
    for who in [NOBODY, "bob", "00000000-0000-0000-0000-000000000000"] {
        refused(
            add(
                &app,
                &ada.token,
                &id,
                &json!({"title": "Ok title", "assignee_id": who}),
            ),
            400,
            "invalid_field",
            Some("assignee_id"),
        )
        .await;
        refused(
            change(&app, &ada.token, &id, &tid, &json!({"assignee_id": who})),
            400,
            "invalid_field",
            Some("assignee_id"),
        )
        .await;
    }
    // Malformed bodies: nothing is half-applied.
    for body in [
        json!({}),
        json!({"title": 7}),
        json!({"title": "Ok title", "due_at": "tomorrow"}),
        json!({"title": "Ok title", "done": true}),
        json!({"title": "Ok title", "assignee_id": 3}),
    ] {
        let r = add(&app, &ada.token, &id, &body).send().await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    for body in [
        json!({"done": "yes"}),
        json!({"due_at": "next week"}),
        json!({"title": "Ok title", "status": "done"}),
        json!({"title": "Ok title", "done": true, "due_at": 5}),
    ] {
        let r = change(&app, &ada.token, &id, &tid, &body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
    }
    unchanged(&app, &id, &before, "bad task input").await;

    // Exactly 200 characters is fine, counted as characters, not bytes.
    let max = "é".repeat(200);
    let t = added(&app, &ada.token, &id, json!({"title": max})).await;
    assert_eq!(t["title"], max.as_str());
    let u = changed(
        &app,
        &ada.token,
        &id,
        &tid,
        json!({"title": "y".repeat(200)}),
    )
    .await;
    assert_eq!(u["title"], "y".repeat(200));
    app.stop().await;
}

async fn a_closed_incidents_tasks_are_final(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let id = minor(&app, &ada.token, "Stale cache").await;
    let t1 = id_of(&added(&app, &ada.token, &id, json!({"title": "Flush the cache"})).await);
    let t2 = id_of(&added(&app, &ada.token, &id, json!({"title": "Write it up"})).await);

    // Resolved is not closed: tasks can still be worked.
    later(&app, 1);
    let r = ok(
        app.post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &ada.token,
            &json!({}),
        ),
        200,
    )
    .await;
    assert_eq!(r["status"], "resolved");
    later(&app, 1);
    let d = changed(&app, &ada.token, &id, &t1, json!({"done": true})).await;
    assert_eq!(d["done_at"], at(2));
    added(&app, &ada.token, &id, json!({"title": "Follow-up ticket"})).await;

    // The reporter confirms: closed.
    later(&app, 1);
    let c = ok(
        app.post(
            &format!("/api/v1/incidents/{id}/status"),
            &ada.token,
            &json!({"status": "closed"}),
        ),
        200,
    )
    .await;
    assert_eq!(c["status"], "closed");

    later(&app, 1);
    let before = snapshot(&app, &id).await;
    for (what, req) in [
        (
            "add",
            add(&app, &ada.token, &id, &json!({"title": "Too late"})),
        ),
        (
            "reopen",
            change(&app, &ada.token, &id, &t1, &json!({"done": false})),
        ),
        (
            "complete",
            change(&app, &ada.token, &id, &t2, &json!({"done": true})),
        ),
        (
            "retitle",
            change(&app, &ada.token, &id, &t2, &json!({"title": "Rewritten"})),
        ),
        ("no-op", change(&app, &ada.token, &id, &t2, &json!({}))),
        ("remove", remove(&app, &ada.token, &id, &t2)),
        ("admin", remove(&app, &app.admin.token, &id, &t1)),
    ] {
        let e = refused(req, 409, "conflict", Some("status")).await;
        assert!(
            e["message"].as_str().unwrap().contains("closed"),
            "{what}: {e}"
        );
    }
    unchanged(&app, &id, &before, "a closed incident").await;
    // Still readable, as they were.
    let list = tasks(&app, &id).await;
    assert_eq!(list.len(), 3);
    let find = |t: &str| list.iter().find(|x| x["id"] == t).unwrap().clone();
    assert_eq!(find(&t1)["done_at"], at(2));
    assert_eq!(find(&t2)["done"], false);
    app.stop().await;
}

async fn viewers_read_tasks_but_cannot_change_them(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let vic = member(&app, "vic@example.com", "Vic", "viewer").await;
    let id = minor(&app, &ada.token, "Viewer test").await;
    let t = added(&app, &ada.token, &id, json!({"title": "Look into it"})).await;
    let tid = id_of(&t);
    later(&app, 1);
    let before = snapshot(&app, &id).await;
    let v = &vic.token;
    for req in [
        add(&app, v, &id, &json!({"title": "From a viewer"})),
        change(&app, v, &id, &tid, &json!({"done": true})),
        change(
            &app,
            v,
            &id,
            &tid,
            &json!({"title": "Renamed", "assignee_id": vic.id}),
        ),
        remove(&app, v, &id, &tid),
        // Refused before anything is looked up.
        change(&app, v, &id, NOBODY, &json!({"done": true})),
        remove(&app, v, NOBODY, &tid),
    ] {
        refused(req, 403, "forbidden", None).await;
    }
    unchanged(&app, &id, &before, "a viewer").await;
    // Reading is fine.
    let list = ok(app.get(&tasks_path(&id), v), 200).await;
    assert_eq!(list["items"], json!([t]));
    assert!(markdown(&app, &id, "", v).await.contains("Look into it"));
    // And nobody without a token.
    let r = app
        .http
        .post(format!("{}{}", app.url, tasks_path(&id)))
        .json(&json!({"title": "Anonymous"}))
        .send()
        .await
        .unwrap();
    expect_error(r, 401, "unauthorized", None).await;
    unchanged(&app, &id, &before, "no token").await;
    app.stop().await;
}

/// Sends the requests at once; their statuses, in the order given.
async fn at_once(reqs: Vec<reqwest::RequestBuilder>) -> Vec<u16> {
    let handles: Vec<_> = reqs
        .into_iter()
        .map(|r| tokio::spawn(async move { r.send().await.unwrap().status().as_u16() }))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["kind"] == kind).count()
}

async fn concurrent_task_changes_are_decided_one_at_a_time(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let id = minor(&app, &ada.token, "Thundering herd").await;
    let tid = id_of(&added(&app, &ada.token, &id, json!({"title": "Shed load"})).await);

    // Five people complete it at once: all see it done, one completion is recorded.
    later(&app, 1);
    let statuses = at_once(
        (0..5)
            .map(|n| {
                let token = if n % 2 == 0 { &ada.token } else { &bob.token };
                change(&app, token, &id, &tid, &json!({"done": true}))
            })
            .collect(),
    )
    .await;
    assert_eq!(statuses, [200; 5]);
    assert_eq!(count(&timeline(&app, &id).await, "incident.task_done"), 1);
    assert_eq!(tasks(&app, &id).await[0]["done_at"], at(1));

    // Five removals at once: one removes it, the others find nothing.
    later(&app, 1);
    let mut statuses = at_once(
        (0..5)
            .map(|_| remove(&app, &bob.token, &id, &tid))
            .collect(),
    )
    .await;
    statuses.sort();
    assert_eq!(statuses, [204, 404, 404, 404, 404]);
    assert_eq!(
        count(&timeline(&app, &id).await, "incident.task_removed"),
        1
    );
    assert!(tasks(&app, &id).await.is_empty());

    // Tasks added while the incident is closed: each lands before the close or is refused.
    ok(
        app.post(
            &format!("/api/v1/incidents/{id}/resolve"),
            &ada.token,
            &json!({}),
        ),
        200,
    )
    .await;
    later(&app, 1);
    let mut reqs = vec![app.post(
        &format!("/api/v1/incidents/{id}/status"),
        &ada.token,
        &json!({"status": "closed"}),
    )];
    for n in 0..6 {
        reqs.push(add(
            &app,
            &bob.token,
            &id,
            &json!({"title": format!("Late task {n}")}),
        ));
    }
    let statuses = at_once(reqs).await;
    assert_eq!(statuses[0], 200, "{statuses:?}");
    let adds = &statuses[1..];
    assert!(adds.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let stored = adds.iter().filter(|s| **s == 201).count();
    assert_eq!(tasks(&app, &id).await.len(), stored);
    let events = timeline(&app, &id).await;
    let closed = events
        .iter()
        .position(|e| e["kind"] == "incident.closed")
        .unwrap();
    assert_eq!(count(&events[..closed], "incident.task_added"), 1 + stored);
    assert_eq!(count(&events[closed..], "incident.task_added"), 0);
    app.stop().await;
}

// --- links --------------------------------------------------------------------------------------

async fn links_are_set_on_declare_changed_and_cleared(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let bridge = "https://meet.example.com/abc-defg-hij";
    let chat = "http://chat.example.com/channels/inc-42?x=1#top";
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Payments down", "severity": "SEV3",
               "conference_url": format!("  {bridge} "), "chat_url": chat}),
    )
    .await;
    let id = id_of(&i);
    assert_eq!(
        (&i["conference_url"], &i["chat_url"]),
        (&json!(bridge), &json!(chat))
    );
    let got = incident(&app, &id).await;
    assert_eq!(
        (&got["conference_url"], &got["chat_url"]),
        (&json!(bridge), &json!(chat))
    );

    // Changed: one incident.updated listing just that change.
    later(&app, 1);
    let path = format!("/api/v1/incidents/{id}");
    let zoom = "https://zoom.example.com/j/42";
    let n = timeline(&app, &id).await.len();
    let u = ok(
        patch(&app, &path, &ada.token, &json!({"conference_url": zoom})),
        200,
    )
    .await;
    assert_eq!(
        (&u["conference_url"], &u["chat_url"]),
        (&json!(zoom), &json!(chat))
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.updated"]);
    assert_eq!(new[0]["at"], at(1));
    assert_eq!(
        new[0]["data"],
        json!({"changes": {"conference_url": {"from": bridge, "to": zoom}}})
    );

    // null clears one, an empty string the other.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let u = ok(
        patch(&app, &path, &ada.token, &json!({"chat_url": null})),
        200,
    )
    .await;
    assert_eq!(
        (&u["conference_url"], &u["chat_url"]),
        (&json!(zoom), &Value::Null)
    );
    let new = since(&app, &id, n).await;
    assert_eq!(kinds(&new), ["incident.updated"]);
    assert_eq!(
        new[0]["data"],
        json!({"changes": {"chat_url": {"from": chat, "to": null}}})
    );
    let n = timeline(&app, &id).await.len();
    let u = ok(
        patch(&app, &path, &ada.token, &json!({"conference_url": ""})),
        200,
    )
    .await;
    assert_eq!(
        (&u["conference_url"], &u["chat_url"]),
        (&Value::Null, &Value::Null)
    );
    let new = since(&app, &id, n).await;
    assert_eq!(
        new[0]["data"],
        json!({"changes": {"conference_url": {"from": zoom, "to": null}}})
    );

    // Set both at once; the same values again write nothing.
    later(&app, 1);
    let n = timeline(&app, &id).await.len();
    let u = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"conference_url": bridge, "chat_url": chat}),
        ),
        200,
    )
    .await;
    let new = since(&app, &id, n).await;
    assert_eq!(
        new[0]["data"],
        json!({"changes": {"conference_url": {"from": null, "to": bridge},
                           "chat_url": {"from": null, "to": chat}}})
    );
    let before = timeline(&app, &id).await;
    let same = ok(
        patch(
            &app,
            &path,
            &ada.token,
            &json!({"conference_url": bridge, "chat_url": chat}),
        ),
        200,
    )
    .await;
    assert_eq!(same, u);
    assert_eq!(timeline(&app, &id).await, before);

    // Declared without links: none.
    let j = declare(
        &app,
        &ada.token,
        json!({"title": "No links", "severity": "SEV4"}),
    )
    .await;
    assert_eq!(
        (&j["conference_url"], &j["chat_url"]),
        (&Value::Null, &Value::Null)
    );
    app.stop().await;
}

async fn bad_links_are_refused_and_write_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let i = declare(
        &app,
        &ada.token,
        json!({"title": "Linked", "severity": "SEV3",
               "conference_url": "https://meet.example.com/x"}),
    )
    .await;
    let id = id_of(&i);
    let path = format!("/api/v1/incidents/{id}");
    let count = || async {
        ok(app.get("/api/v1/incidents", &app.admin.token), 200).await["items"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count().await, 1);
    later(&app, 1);
    let before = snapshot(&app, &id).await;
    for field in ["conference_url", "chat_url"] {
        for bad in [
            "javascript:alert(1)",
            "example.com",
            "https://a b",
            "ftp://example.com/file",
            "https://",
            "http:///path",
            "data:text/html,hi",
        ] {
            let e = refused(
                app.post(
                    "/api/v1/incidents",
                    &ada.token,
                    &json!({"title": "Refused", "severity": "SEV3", field: bad}),
                ),
                400,
                "invalid_field",
                Some(field),
            )
            .await;
            assert!(e["message"].as_str().unwrap().contains(field), "{e}");
            refused(
                patch(&app, &path, &ada.token, &json!({field: bad})),
                400,
                "invalid_field",
                Some(field),
            )
            .await;
            // Not even alongside a valid change.
            refused(
                patch(
                    &app,
                    &path,
                    &ada.token,
                    &json!({"title": "Renamed", field: bad}),
                ),
                400,
                "invalid_field",
                Some(field),
            )
            .await;
        }
        // Not a string at all.
        let r = patch(&app, &path, &ada.token, &json!({field: 42}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    unchanged(&app, &id, &before, "bad links").await;
    assert_eq!(
        count().await,
        1,
        "a refused declaration created an incident"
    );
    app.stop().await;
}

/// Tasks added within one millisecond list in the order they were added; a due time finer than
/// a millisecond is kept (and compared) to the millisecond, so repeating it writes nothing; the
/// timeline names a new assignee rather than showing an id.
async fn tasks_added_at_once_keep_their_order_and_times_are_kept_to_the_millisecond(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let id = minor(&app, &app.admin.token, "db down").await;
    let mut added = Vec::new();
    for n in 0..8 {
        let t = added_task(&app, &id, json!({"title": format!("t{n}")})).await;
        added.push(id_of(&t));
    }
    assert_eq!(
        ids(&tasks(&app, &id).await),
        added,
        "listed in the order added"
    );

    let task = &added[0];
    let body = json!({"due_at": "2026-11-21T10:00:00.123456789Z", "assignee_id": bob.id});
    let first = changed(&app, &app.admin.token, &id, task, body.clone()).await;
    assert_eq!(first["due_at"], "2026-11-21T10:00:00.123Z");
    let before = timeline(&app, &id).await.len();
    changed(&app, &app.admin.token, &id, task, body).await;
    assert_eq!(
        timeline(&app, &id).await.len(),
        before,
        "the same change again writes nothing"
    );
    let md = markdown(&app, &id, "", &app.admin.token).await;
    assert!(md.contains("set the assignee to Bob"), "{md}");
    app.stop().await;
}

async fn added_task(app: &TestApp, id: &str, body: Value) -> Value {
    added(app, &app.admin.token, id, body).await
}
