//! A sender that stops mid-batch: what it had claimed but not begun to send goes out later,
//! once; what it had begun to send is "outcome unknown" and never resent. The stopped sender is
//! played by claiming (and beginning) through the store, as its last steps would have.
use crate::common;
use crate::incident_steps;

use jiff::SignedDuration;
use klaxon_domain::ids::NotificationId;
use serde_json::json;

use common::{Backend, TestApp, member, ok};
use incident_steps::*;

on_both_backends!(a_stopped_sender_loses_nothing_and_doubles_nothing);

/// Longer than any claim (180 s with the default send timeout).
const PAST_THE_CLAIM: SignedDuration = SignedDuration::from_mins(4);

async fn a_stopped_sender_loses_nothing_and_doubles_nothing(b: Backend) {
    let Some(app) = TestApp::spawn(b).await else {
        return;
    };
    let store = app.state.store.clone();
    let ada = member(&app, "ada@example.com", "Ada", "responder").await;
    let receiver = Receiver::spawn().await;
    let method = ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "webhook", "label": "bot", "address": receiver.url,
                    "password": common::PASSWORD}),
        ),
        201,
    )
    .await;
    let test = || async {
        let n = ok(
            app.post(
                &format!(
                    "/api/v1/contact-methods/{}/test",
                    method["id"].as_str().unwrap()
                ),
                &ada.token,
                &json!({}),
            ),
            202,
        )
        .await;
        n["id"].as_str().unwrap().parse::<NotificationId>().unwrap()
    };
    let status = |id: NotificationId| {
        let store = store.clone();
        async move { store.notification(id).await.unwrap() }
    };

    // 1. Claimed, then the sender stopped before sending: released and sent once.
    let unsent = test().await;
    let until = now(&app) + PAST_THE_CLAIM / 2;
    let claimed = store
        .claim_notifications(now(&app), until, 10)
        .await
        .unwrap();
    assert_eq!(claimed.due.len(), 1);
    app.clock.advance(PAST_THE_CLAIM);
    let report = app.state.engine.tick().await.unwrap();
    assert_eq!(
        (
            report.notifications.released,
            report.notifications.abandoned
        ),
        (1, 0)
    );
    assert_eq!(receiver.bodies().len(), 1, "sent after the restart");
    let n = status(unsent).await;
    assert_eq!(n.status.as_str(), "sent");
    assert_eq!(
        n.attempts, 1,
        "the unused claim was not counted as an attempt"
    );

    // 2. Begun, then the sender stopped: it may have arrived, so it is never resent.
    let begun = test().await;
    let until = now(&app) + PAST_THE_CLAIM / 2;
    let claimed = store
        .claim_notifications(now(&app), until, 10)
        .await
        .unwrap();
    assert_eq!(claimed.due[0].id, begun);
    assert!(
        store
            .start_sending(&[begun], until, now(&app))
            .await
            .unwrap()
    );
    app.clock.advance(PAST_THE_CLAIM);
    let report = app.state.engine.tick().await.unwrap();
    assert_eq!(
        (
            report.notifications.released,
            report.notifications.abandoned
        ),
        (0, 1)
    );
    tick(&app).await;
    assert_eq!(receiver.bodies().len(), 1, "nothing more went out");
    let n = status(begun).await;
    assert_eq!(n.status.as_str(), "failed");
    assert!(n.last_error.unwrap().contains("outcome unknown"));

    // 3. A sender that was only slow: its claim ran out and another sender took the page
    // over; it may no longer begin, so the page goes out once, by the other.
    let slow = test().await;
    let until = now(&app) + PAST_THE_CLAIM / 2;
    store
        .claim_notifications(now(&app), until, 10)
        .await
        .unwrap();
    app.clock.advance(PAST_THE_CLAIM);
    let later = now(&app) + PAST_THE_CLAIM / 2;
    let taken = store
        .claim_notifications(now(&app), later, 10)
        .await
        .unwrap();
    assert_eq!((taken.released, taken.due.len()), (1, 1));
    assert!(
        !store
            .start_sending(&[slow], until, now(&app))
            .await
            .unwrap(),
        "the old claim is fenced off"
    );
    assert!(
        store
            .start_sending(&[slow], later, now(&app))
            .await
            .unwrap()
    );
    app.stop().await;
}
