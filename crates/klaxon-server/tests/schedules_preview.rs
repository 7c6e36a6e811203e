//! `POST /api/v1/schedules/preview`: the shifts a definition would give, the same as the
//! schedule gives once saved, checked like a create, and nothing written.
use crate::common;

use serde_json::{Value, json};

use common::{Backend, TestApp, member, ok, refused};

on_both_backends!(a_preview_is_what_saving_would_give_and_writes_nothing);

async fn a_preview_is_what_saving_would_give_and_writes_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let admin = app.admin.token.clone();
    let ada = member(&app, "ada@example.com", "Ada", "responder").await.id;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await.id;
    let viewer = member(&app, "vic@example.com", "Vic", "viewer").await.token;
    // A weekly rotation, and Bob at night on top. The clock reads Sat 21 Nov 09:00 UTC.
    let layers = json!([
        {"name": "weekly", "start": "2026-11-23T09:00", "users": [ada, bob],
         "turn": {"count": 1, "unit": "weeks"}},
        {"name": "nights", "start": "2026-11-23T00:00", "users": [bob],
         "turn": {"count": 1, "unit": "days"},
         "restrictions": [{"type": "daily", "start": "22:00", "duration_minutes": 480}]}
    ]);
    let body = json!({"time_zone": "Europe/Berlin", "layers": layers});
    // A viewer may look: a preview changes nothing.
    let p = ok(app.post("/api/v1/schedules/preview", &viewer, &body), 200).await;
    // It starts at the first layer's start (midnight in Berlin) and lasts 14 days.
    assert_eq!(p["time_zone"], "Europe/Berlin");
    assert_eq!(p["from"], "2026-11-22T23:00:00Z");
    assert_eq!(p["to"], "2026-12-06T23:00:00Z");
    let shifts = p["shifts"].as_array().unwrap();
    assert_eq!(
        shifts[0],
        json!({"user_id": bob, "user_name": "Bob",
               "start": "2026-11-22T23:00:00Z", "end": "2026-11-23T05:00:00Z"})
    );
    assert_eq!(
        shifts[1],
        json!({"user_id": ada, "user_name": "Ada",
               "start": "2026-11-23T08:00:00Z", "end": "2026-11-23T21:00:00Z"})
    );
    assert_eq!(p["layers"][1]["name"], "nights");
    assert!(
        app.state
            .store
            .list_schedules(None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Saved, the schedule gives exactly the shifts previewed.
    let mut create = body.clone();
    create["name"] = "ops".into();
    let id = ok(app.post("/api/v1/schedules", &admin, &create), 201).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let range = "from=2026-11-22T23:00:00Z&to=2026-12-06T23:00:00Z";
    let saved = ok(
        app.get(&format!("/api/v1/schedules/{id}/shifts?{range}"), &admin),
        200,
    )
    .await;
    assert_eq!(saved["shifts"], p["shifts"]);
    assert_eq!(saved["layers"], p["layers"]);

    // Previewing a change to it applies its overrides.
    ok(
        app.post(
            &format!("/api/v1/schedules/{id}/overrides"),
            &admin,
            &json!({"user_id": ada, "start": "2026-11-23T22:00:00Z", "end": "2026-11-24T00:00:00Z"}),
        ),
        201,
    )
    .await;
    let window = |with: Option<&str>| {
        let mut b = json!({"time_zone": "Europe/Berlin", "layers": [layers[0].clone()],
                           "from": "2026-11-23T20:00:00Z", "to": "2026-11-24T02:00:00Z"});
        if let Some(id) = with {
            b["schedule_id"] = id.into();
        }
        b
    };
    let who = |v: &Value| -> Vec<(String, String, String)> {
        v["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let at = |k: &str| s[k].as_str().unwrap().to_owned();
                (at("user_name"), at("start"), at("end"))
            })
            .collect()
    };
    let plain = ok(
        app.post("/api/v1/schedules/preview", &admin, &window(None)),
        200,
    )
    .await;
    assert_eq!(
        who(&plain),
        [(
            "Ada".into(),
            "2026-11-23T20:00:00Z".into(),
            "2026-11-24T02:00:00Z".into()
        )]
    );
    let changed = ok(
        app.post("/api/v1/schedules/preview", &admin, &window(Some(&id))),
        200,
    )
    .await;
    assert_eq!(who(&changed), who(&plain), "Ada covers her own shift");
    // Bob's override stands out.
    ok(
        app.post(
            &format!("/api/v1/schedules/{id}/overrides"),
            &admin,
            &json!({"user_id": bob, "start": "2026-11-23T23:00:00Z", "end": "2026-11-24T01:00:00Z"}),
        ),
        201,
    )
    .await;
    let changed = ok(
        app.post("/api/v1/schedules/preview", &admin, &window(Some(&id))),
        200,
    )
    .await;
    let t = |s: &str| s.to_owned();
    assert_eq!(
        who(&changed),
        [
            (
                t("Ada"),
                t("2026-11-23T20:00:00Z"),
                t("2026-11-23T23:00:00Z")
            ),
            (
                t("Bob"),
                t("2026-11-23T23:00:00Z"),
                t("2026-11-24T01:00:00Z")
            ),
            (
                t("Ada"),
                t("2026-11-24T01:00:00Z"),
                t("2026-11-24T02:00:00Z")
            ),
        ]
    );

    // Refused like a create, naming the field; an unknown schedule is 404.
    let post = |b: &Value| app.post("/api/v1/schedules/preview", &admin, b);
    let mut bad = body.clone();
    bad["time_zone"] = "Berlin".into();
    refused(post(&bad), 400, "invalid_field", Some("time_zone")).await;
    let mut bad = body.clone();
    bad["layers"][1]["turn"]["count"] = 0.into();
    refused(
        post(&bad),
        400,
        "invalid_field",
        Some("layers[1].turn.count"),
    )
    .await;
    let mut bad = body.clone();
    bad["layers"][0]["users"] = json!(["0195b6c8-0000-7000-8000-000000000009"]);
    refused(post(&bad), 400, "invalid_field", Some("layers[0].users")).await;
    let mut bad = window(None);
    bad["to"] = bad["from"].clone();
    refused(post(&bad), 400, "invalid_field", Some("to")).await;
    bad["to"] = "2027-11-25T00:00:00Z".into();
    refused(post(&bad), 400, "invalid_field", Some("to")).await;
    refused(
        post(&window(Some("0195b6c8-0000-7000-8000-000000000009"))),
        404,
        "not_found",
        None,
    )
    .await;
    app.stop().await;
}
