//! Setting up paging only through pages, in headless Chromium: an escalation policy with people
//! and a schedule over four levels, edited (a delay changed, a level removed); an e-mail
//! contact method for yourself; an admin adding an SMS method for someone else; a notification
//! rule added and edited; the warnings about levels and people a page cannot reach; and a
//! refused form that keeps what was typed and says why beside the field. The people and the
//! schedule the policy pages are made through the API first: they are not what is tested.
use crate::browser_support;
use crate::common;

use browser_support::{Driver, Session};
use common::{Backend, Member, PASSWORD, TestApp, delete, member, ok};
use serde_json::{Value, json};

/// Empties a text box, as selecting its text and deleting it would.
async fn clear(s: &Session<'_>, css: &str) {
    let el = s.find(css).await;
    s.d.call(
        reqwest::Method::POST,
        &format!("/session/{}/element/{el}/clear", s.id),
        Some(json!({})),
    )
    .await;
}

/// What a control holds now.
async fn value(s: &Session<'_>, css: &str) -> String {
    s.exec(
        "return document.querySelector(arguments[0]).value;",
        json!([css]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

async fn attr(s: &Session<'_>, css: &str, name: &str) -> String {
    s.exec(
        "return document.querySelector(arguments[0]).getAttribute(arguments[1]) || '';",
        json!([css, name]),
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// The label of the control `id`.
async fn label_of(s: &Session<'_>, id: &str) -> String {
    s.text(&format!("label[for='{id}']")).await
}

/// Picks an option of a multiple select (a click toggles it, as Ctrl-click would).
async fn pick(s: &Session<'_>, select: &str, value: &str) {
    s.click(&format!("{select} option[value='{value}']")).await;
}

async fn count(s: &Session<'_>, css: &str) -> u64 {
    s.exec(
        "return document.querySelectorAll(arguments[0]).length;",
        json!([css]),
    )
    .await
    .as_u64()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_is_set_up_through_pages_and_warns_who_cannot_be_reached() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.from = Some("klaxon@example.com".into());
        s.sms.account_sid = Some("AC123".into());
        s.sms.auth_token = Some("secret".into());
        s.sms.from = Some("+15550000000".into());
    })
    .await
    .unwrap();
    let ada: Member = member(&app, "ada@example.com", "Ada", "responder").await;
    let bob = member(&app, "bob@example.com", "Bob", "responder").await;
    let cy = member(&app, "cy@example.com", "Cy", "responder").await;
    // Ada can be reached, for either urgency (her first method brought a rule for each); Bob
    // and Cy cannot. Cy is on call in Night now.
    ok(
        app.post(
            &format!("/api/v1/users/{}/contact-methods", ada.id),
            &ada.token,
            &json!({"kind": "webhook", "label": "bot", "address": "http://127.0.0.1:9/hook",
                    "password": PASSWORD}),
        ),
        201,
    )
    .await;
    let night: Value = ok(
        app.post(
            "/api/v1/schedules",
            &app.admin.token,
            &json!({"name": "Night", "time_zone": "UTC", "layers": [{"name": "rota",
                    "start": "2026-11-20T09:00", "users": [cy.id],
                    "turn": {"count": 1, "unit": "weeks"}}]}),
        ),
        201,
    )
    .await;
    let night_id = night["id"].as_str().unwrap();
    let driver = Driver::start().await;
    let s = Session::new(&driver).await;
    s.login(&app.url, &app.admin.email, &app.admin.password)
        .await;

    // --- a policy of four levels, people and a schedule, levels added with a button ---
    s.go(&format!("{}/escalation-policies", app.url)).await;
    s.wait_title("Escalation policies · Klaxon").await;
    assert_eq!(count(&s, "[data-testid=level-form]").await, 1);
    s.type_into("#policy-name", "Primary").await;
    pick(&s, "#users1", &ada.id).await;
    clear(&s, "#delay1").await;
    s.type_into("#delay1", "5").await;
    s.click("#add-level").await;
    s.wait_text("#level-2 legend").await;
    // Shown again with what was typed.
    assert_eq!(value(&s, "#policy-name").await, "Primary");
    assert_eq!(value(&s, "#delay1").await, "5");
    assert_eq!(
        s.exec(
            "return Array.from(document.querySelector('#users1').selectedOptions).map(o => o.value);",
            json!([])
        )
        .await,
        json!([ada.id])
    );
    assert!(label_of(&s, "schedules2").await.starts_with("Schedules"));
    pick(&s, "#schedules2", night_id).await;
    s.click("#add-level").await;
    s.wait_text("#level-3 legend").await;
    pick(&s, "#users3", &bob.id).await;
    s.click("#add-level").await;
    s.wait_text("#level-4 legend").await;
    pick(&s, "#users4", &ada.id).await;
    pick(&s, "#users4", &bob.id).await;
    clear(&s, "#delay4").await;
    s.type_into("#delay4", "20").await;
    s.click("#save-policy").await;
    s.wait_title("Primary · Klaxon").await;
    assert_eq!(count(&s, "[data-testid=policy-level]").await, 4);
    let levels = s.texts("[data-testid=policy-level] h3").await;
    assert_eq!(
        levels,
        "Level 1 · 5 min to acknowledge\nLevel 2 · 15 min to acknowledge\nLevel 3 · 15 min to acknowledge\nLevel 4 · 20 min to acknowledge"
    );
    let level2 = s.text("#level-2").await;
    assert!(level2.contains("schedule Night"), "{level2}");

    // --- the warning: which levels, why, and a link that fixes it ---
    let warning = s.text("[data-testid=policy-warning]").await;
    assert!(
        warning.starts_with("Levels 2, 3 reach nobody now"),
        "{warning}"
    );
    let level3 = s.text("#level-3 [data-testid=level-unreachable]").await;
    assert!(
        level3.contains("Bob has no contact method. Add a contact method for Bob"),
        "{level3}"
    );
    let level2 = s.text("#level-2 [data-testid=level-unreachable]").await;
    assert!(
        level2.contains("Cy, on call in Night now, has no contact method."),
        "{level2}"
    );
    // Level 4 reaches Ada; Bob is named as missed.
    assert_eq!(
        count(&s, "#level-4 [data-testid=level-unreachable]").await,
        0
    );
    assert!(
        s.text("#level-4 [data-testid=level-note]")
            .await
            .contains("Bob has no contact method")
    );

    // --- edit: a delay changed, a level removed, and a refusal that keeps what was typed ---
    s.click("#edit-policy").await;
    s.wait_title("Edit Primary · Klaxon").await;
    assert_eq!(count(&s, "[data-testid=level-form]").await, 4);
    clear(&s, "#delay1").await;
    s.type_into("#delay1", "0").await;
    s.click("#save-policy").await;
    s.wait_text("#delay1-error").await;
    assert_eq!(s.text("#delay1-error").await, "Must be between 1 and 1440.");
    assert_eq!(attr(&s, "#delay1", "aria-invalid").await, "true");
    assert_eq!(
        attr(&s, "#delay1", "aria-describedby").await,
        "delay1-error"
    );
    assert_eq!(value(&s, "#delay1").await, "0", "what was typed is kept");
    assert_eq!(count(&s, "[data-testid=level-form]").await, 4);
    clear(&s, "#delay1").await;
    s.type_into("#delay1", "7").await;
    s.click("#remove-level-4").await;
    s.wait_title("Edit Primary · Klaxon").await;
    for _ in 0..200 {
        if count(&s, "[data-testid=level-form]").await == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(count(&s, "[data-testid=level-form]").await, 3);
    assert_eq!(value(&s, "#delay1").await, "7", "kept across the removal");
    s.click("#save-policy").await;
    s.wait_title("Primary · Klaxon").await;
    assert_eq!(
        s.texts("[data-testid=policy-level] h3").await,
        "Level 1 · 7 min to acknowledge\nLevel 2 · 15 min to acknowledge\nLevel 3 · 15 min to acknowledge"
    );
    let saved: Value = ok(
        app.get("/api/v1/escalation-policies", &app.admin.token),
        200,
    )
    .await;
    assert_eq!(saved["items"][0]["levels"][0]["delay_minutes"], 7);
    assert_eq!(saved["items"][0]["levels"].as_array().unwrap().len(), 3);
    // Enter in a box saves the form: it does not press "Remove level 1".
    s.click("#edit-policy").await;
    s.wait_title("Edit Primary · Klaxon").await;
    s.type_into("#policy-description", "the day rota").await;
    s.press("\u{E007}").await;
    s.wait_title("Primary · Klaxon").await;
    assert_eq!(count(&s, "[data-testid=policy-level]").await, 3);
    let saved: Value = ok(
        app.get("/api/v1/escalation-policies", &app.admin.token),
        200,
    )
    .await;
    assert_eq!(saved["items"][0]["description"], "the day rota");

    // --- an admin adds an SMS method for Bob, from Bob's user page ---
    s.go(&format!("{}/users/{}", app.url, bob.id)).await;
    s.click("#user-reach").await;
    s.wait_title("Bob: how they are reached · Klaxon").await;
    assert!(
        s.text("[data-testid=reach-warning]")
            .await
            .starts_with("Bob cannot be reached: they have no contact method.")
    );
    s.click(".kind-picker a[href*='kind=sms']").await;
    s.wait_contains("label[for=cm-address]", "Mobile number")
        .await;
    assert_eq!(attr(&s, "#cm-address", "type").await, "tel");
    s.type_into("#cm-label", "phone").await;
    // A refused form: the reason beside the box, what was typed kept.
    s.type_into("#cm-address", "555 0123").await;
    s.type_into("#cm-password", &app.admin.password).await;
    s.click("#add-contact-method").await;
    s.wait_text("#cm-address-error").await;
    assert!(
        s.text("#cm-address-error")
            .await
            .starts_with("Must be a phone number in international form")
    );
    assert_eq!(value(&s, "#cm-address").await, "555 0123");
    assert_eq!(value(&s, "#cm-label").await, "phone");
    assert_eq!(value(&s, "#cm-password").await, "", "never the password");
    clear(&s, "#cm-address").await;
    s.type_into("#cm-address", "+1 415 555 0123").await;
    s.type_into("#cm-password", &app.admin.password).await;
    s.click("#add-contact-method").await;
    s.wait_contains("p.notice", "Added phone.").await;
    let notice = s.text("p.notice").await;
    assert!(
        notice.contains("their first way to be reached, so two notification rules now page them through it at once, one for high-urgency and one for low-urgency incidents"),
        "{notice}"
    );
    assert_eq!(
        s.text("[data-testid=contact-method] code").await,
        "+14155550123"
    );
    // The rules it brought reach Bob for either urgency: no warning is left.
    assert_eq!(count(&s, "[data-testid=notification-rule]").await, 2);
    let rules = s.texts("[data-testid=notification-rule]").await;
    assert!(rules.contains("high") && rules.contains("low"), "{rules}");
    assert_eq!(count(&s, "[data-testid=reach-warning]").await, 0);

    // --- an e-mail method for yourself: the form asks for an e-mail address ---
    s.click("nav a[href='/profile']").await;
    s.wait_title("Profile · Klaxon").await;
    assert!(
        s.text("[data-testid=reach-warning]")
            .await
            .starts_with("You cannot be reached: you have no contact method.")
    );
    assert_eq!(attr(&s, "#cm-address", "type").await, "email");
    assert!(
        label_of(&s, "cm-address")
            .await
            .starts_with("E-mail address")
    );
    s.type_into("#cm-label", "work mail").await;
    s.type_into("#cm-address", "root@example.com").await;
    s.type_into("#cm-password", &app.admin.password).await;
    s.click("#add-contact-method").await;
    s.wait_contains("p.notice", "Added work mail.").await;
    assert!(
        s.text("p.notice")
            .await
            .contains("your first way to be reached, so two notification rules now page you")
    );
    assert_eq!(count(&s, "[data-testid=reach-warning]").await, 0);
    assert!(
        s.texts("[data-testid=contact-method]")
            .await
            .contains("root@example.com")
    );
    // The first method's rules are there; add another, then edit it.
    assert_eq!(count(&s, "[data-testid=notification-rule]").await, 2);
    clear(&s, "#rule-delay").await;
    s.type_into("#rule-delay", "5").await;
    s.click("#rule-urgency option[value=low]").await;
    s.click("#add-rule").await;
    s.wait_contains("p.notice", "Added a rule: low urgency, after 5 min.")
        .await;
    assert_eq!(count(&s, "[data-testid=notification-rule]").await, 3);
    assert_eq!(count(&s, "[data-testid=reach-warning]").await, 0);
    s.click("[data-testid=notification-rule]:nth-child(3) a")
        .await;
    s.wait_contains("#rule-form h2", "Change a notification rule")
        .await;
    assert_eq!(value(&s, "#rule-delay").await, "5");
    clear(&s, "#rule-delay").await;
    s.type_into("#rule-delay", "10").await;
    s.click("#save-rule").await;
    s.wait_contains("p.notice", "Rule saved: low urgency, after 10 min.")
        .await;
    let rules = s.texts("[data-testid=notification-rule]").await;
    assert!(
        rules.contains("10 min") && !rules.contains("5 min"),
        "{rules}"
    );

    // --- the policy now: Bob, who removed his low-urgency rule, can be reached for high
    // urgency only, Night's Cy not at all ---
    let bobs_rules = ok(
        app.get(
            &format!("/api/v1/users/{}/notification-rules", bob.id),
            &bob.token,
        ),
        200,
    )
    .await;
    let bobs_low = bobs_rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["urgency"] == "low")
        .unwrap();
    ok(
        delete(
            &app,
            &format!(
                "/api/v1/users/{}/notification-rules/{}",
                bob.id,
                bobs_low["id"].as_str().unwrap()
            ),
            &bob.token,
        ),
        204,
    )
    .await;
    s.go(&format!("{}/escalation-policies", app.url)).await;
    assert_eq!(
        s.text("[data-testid=policy-unreachable]").await,
        "Levels 2, 3 (low urgency) reach nobody"
    );
    // --- Cy's own profile says so, and how to fix it ---
    let c = Session::new(&driver).await;
    c.login(&app.url, "cy@example.com", PASSWORD).await;
    c.click("nav a[href='/profile']").await;
    c.wait_title("Profile · Klaxon").await;
    let w = c.text("[data-testid=reach-warning]").await;
    assert!(
        w.starts_with("You cannot be reached: you have no contact method. Add one below.")
            && w.contains(
                "You are paged through Primary, but pages to you go nowhere until this is fixed."
            ),
        "{w}"
    );
    c.end().await;
    s.end().await;
    app.stop().await;
}
