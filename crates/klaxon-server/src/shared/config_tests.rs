//! Loading and checking settings.
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_then_file_then_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("klaxon.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:9000\"\nmetrics = false\n[engine]\nbatch = 5\n",
    )
    .unwrap();
    let s = Settings::load(
        Some(&file),
        env(&[
            ("KLAXON_LISTEN", "127.0.0.1:7000"),
            ("KLAXON_ENGINE_TICK_INTERVAL_MS", "250"),
            ("HOME", "/x"),
        ]),
    )
    .unwrap();
    assert_eq!(s.server.listen.to_string(), "127.0.0.1:7000"); // env beats file
    assert!(!s.server.metrics); // file beats default
    assert_eq!(s.engine.batch, 5);
    assert_eq!(s.engine.tick_interval_ms, 250);
    assert_eq!(s.database.url, "sqlite://./klaxon-data/klaxon.db"); // default
}

#[test]
fn incident_rules_come_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("klaxon.toml");
    std::fs::write(
        &file,
        "[incidents.severities]\nSEV1 = \"All hands\"\n\
         [incidents.priority_matrix]\nhigh = [\"P1\", \"P1\", \"P2\"]\n\
         [[incidents.roles]]\nkey = \"security_lead\"\nname = \"Security lead\"\n",
    )
    .unwrap();
    let s = Settings::load(Some(&file), env(&[])).unwrap();
    let rules = s.incidents.rules().unwrap();
    use klaxon_domain::incident::{Impact, Priority, Severity};
    assert_eq!(rules.severities.get(Severity::Sev1), "All hands");
    assert!(rules.severities.get(Severity::Sev2).starts_with("Major"));
    assert_eq!(
        rules
            .matrix
            .priority(Impact::High, klaxon_domain::alert::Urgency::Medium),
        Priority::P1
    );
    assert_eq!(
        rules
            .matrix
            .priority(Impact::Low, klaxon_domain::alert::Urgency::Low),
        Priority::P5
    );
    assert!(!rules.roles.parse("security_lead").unwrap().multiple);

    for (text, field) in [
        (
            "[incidents.severities]\nSEV9 = \"x\"\n",
            "incidents.severities.SEV9",
        ),
        (
            "[incidents.priority_matrix]\nlow = [\"P5\"]\n",
            "incidents.priority_matrix.low",
        ),
        (
            "[[incidents.roles]]\nkey = \"scribe\"\nname = \"x\"\n",
            "incidents.roles.scribe",
        ),
        // A misspelt key inside an entry is refused, not ignored.
        (
            "[[incidents.roles]]\nkey = \"liaison\"\nname = \"Liaison\"\nmulitple = true\n",
            "mulitple",
        ),
        (
            "[[incidents.update_templates]]\nkey = \"k\"\nname = \"n\"\nbodyy = \"b\"\n",
            "bodyy",
        ),
    ] {
        std::fs::write(&file, text).unwrap();
        let err = Settings::load(Some(&file), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{err}");
    }
}

#[test]
fn misspelt_variables_are_reported() {
    let vars = env(&[
        ("KLAXON_LISTN", "x"),
        ("KLAXON_DATABASE_URL", "sqlite://x.db"),
        ("KLAXON_TOKEN", "t"),
        ("KLAXON_TEST_PG_URL", "postgres://x"),
        ("klaxon_log", "debug"),
        ("PATH", "/bin"),
    ]);
    assert_eq!(unknown_env_vars(vars), ["KLAXON_LISTN", "klaxon_log"]);
}

#[test]
fn bad_values_name_their_origin_and_field() {
    let err = Settings::load(None, env(&[("KLAXON_ENGINE_BATCH", "many")])).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("environment") && msg.contains("batch"),
        "{msg}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.toml");
    std::fs::write(&file, "[server]\nlisten_on = \"x\"\n").unwrap();
    let msg = Settings::load(Some(&file), vec![]).unwrap_err().to_string();
    assert!(msg.contains("listen_on"), "{msg}");
    let msg = Settings::load(None, env(&[("KLAXON_DATABASE_URL", "mysql://x")]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("database.url"), "{msg}");
}

#[test]
fn secrets_are_masked() {
    let s = Settings::load(
        None,
        env(&[(
            "KLAXON_DATABASE_URL",
            "postgres://klaxon:hunter2@db:5432/klaxon",
        )]),
    )
    .unwrap();
    let shown = s.to_masked_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("postgres://klaxon:****@db:5432/klaxon"),
        "{shown}"
    );
    assert_eq!(mask_url_password("sqlite://./x.db"), "sqlite://./x.db");
}

#[test]
fn database_passwords_are_masked_wherever_they_are() {
    for (url, shown) in [
        // Nothing secret: unchanged.
        (
            "postgres://klaxon@db:5432/klaxon?sslmode=require",
            "postgres://klaxon@db:5432/klaxon?sslmode=require",
        ),
        ("postgres://db/klaxon", "postgres://db/klaxon"),
        (
            "postgres://[::1]:5432/klaxon",
            "postgres://[::1]:5432/klaxon",
        ),
        // The password in a query parameter.
        (
            "postgres://klaxon@db/klaxon?password=hunter2",
            "postgres://klaxon@db/klaxon?password=****",
        ),
        (
            "postgresql://db/k?sslmode=verify-full&sslpassword=k3y&application_name=klaxon",
            "postgresql://db/k?sslmode=verify-full&sslpassword=****&application_name=klaxon",
        ),
        // An unencoded `@` in the password: the user part ends at the last one.
        ("postgres://klaxon:p@ss@db/x", "postgres://klaxon:****@db/x"),
        (
            "postgres://klaxon:p@ss@db/x?password=p@ss",
            "postgres://klaxon:****@db/x?password=****",
        ),
        // An unencoded `/`: not a valid URL, but still not shown.
        ("postgres://klaxon:p/ss@db/x", "postgres://klaxon:****@db/x"),
        ("postgres://klaxon:p?ss@db/x", "postgres://klaxon:****@db/x"),
        (
            "postgres://klaxon:p@ss/w%rd@db:5432/x",
            "postgres://klaxon:****@db:5432/x",
        ),
        // An `@` in the query is not the end of the user part.
        (
            "postgres://klaxon:pw@db/x?options=a@b",
            "postgres://klaxon:****@db/x?options=a@b",
        ),
        ("postgres://db/x?user=a@b", "postgres://db/x?user=a@b"),
        ("postgres://db:5432?user=a@b", "postgres://db:5432?user=a@b"),
        // Percent-encoded, as it should be.
        (
            "postgres://klaxon:p%40ss@db/x",
            "postgres://klaxon:****@db/x",
        ),
    ] {
        assert_eq!(mask_url_password(url), shown, "{url}");
    }
    let s = Settings::load(
        None,
        env(&[(
            "KLAXON_DATABASE_URL",
            "postgres://klaxon@db/klaxon?password=hunter2",
        )]),
    )
    .unwrap();
    let shown = s.to_masked_toml();
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn smtp_and_sms_come_from_the_environment_with_secrets_masked() {
    let s = Settings::load(
        None,
        env(&[
            ("KLAXON_SMTP_HOST", "mail.example.com"),
            ("KLAXON_SMTP_USERNAME", "klaxon"),
            // Digits only: still a password, not a number.
            ("KLAXON_SMTP_PASSWORD", "123456"),
            ("KLAXON_SMTP_FROM", "Klaxon <klaxon@example.com>"),
            ("KLAXON_SMTP_TLS", "tls"),
            ("KLAXON_SMS_ACCOUNT_SID", "AC123"),
            ("KLAXON_SMS_AUTH_TOKEN", "s3cr3t-token"),
            ("KLAXON_SMS_FROM", "+14155550100"),
        ]),
    )
    .unwrap();
    assert!(s.smtp.is_configured() && s.sms.is_configured());
    assert_eq!(s.smtp.password.as_deref(), Some("123456"));
    assert_eq!(s.smtp.tls, SmtpTls::Tls);
    assert_eq!(s.smtp.port(), 465);
    assert_eq!(s.sms.from.as_deref(), Some("+14155550100"));
    assert_eq!(s.sms.base_url, "https://api.twilio.com");
    let shown = s.to_masked_toml();
    assert!(
        !shown.contains("123456") && !shown.contains("s3cr3t-token"),
        "{shown}"
    );
    assert!(shown.contains("password = \"****\""), "{shown}");
    assert!(shown.contains("auth_token = \"****\""), "{shown}");
    assert!(shown.contains("mail.example.com"), "{shown}");
    // What `klaxon config` prints loads again.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shown.toml");
    std::fs::write(&file, &shown).unwrap();
    let again = Settings::load(Some(&file), vec![]).unwrap();
    assert_eq!(again.smtp.host, s.smtp.host);
    assert_eq!(again.sms.account_sid, s.sms.account_sid);
    let d = Settings::default();
    assert!(!d.smtp.is_configured() && !d.sms.is_configured());
    assert_eq!(d.smtp.port(), 587);
}

#[test]
fn smtp_and_sms_settings_are_checked() {
    let bad = |pairs: &[(&str, &str)]| Settings::load(None, env(pairs)).unwrap_err().to_string();
    let msg = bad(&[("KLAXON_SMTP_HOST", "mail.example.com")]);
    assert!(msg.contains("smtp.from"), "{msg}");
    let msg = bad(&[
        ("KLAXON_SMTP_HOST", "mail.example.com"),
        ("KLAXON_SMTP_FROM", "not an address"),
    ]);
    assert!(msg.contains("smtp.from"), "{msg}");
    let msg = bad(&[("KLAXON_SMTP_TLS", "ssl")]);
    assert!(msg.contains("KLAXON_SMTP_TLS"), "{msg}");
    let msg = bad(&[("KLAXON_SMS_ACCOUNT_SID", "AC1")]);
    assert!(msg.contains("sms.auth_token"), "{msg}");
    let msg = bad(&[
        ("KLAXON_SMS_ACCOUNT_SID", "AC1"),
        ("KLAXON_SMS_AUTH_TOKEN", "t"),
        ("KLAXON_SMS_FROM", "555-0100"),
    ]);
    assert!(msg.contains("sms.from"), "{msg}");
    let msg = bad(&[("KLAXON_SMTP_PORT", "smtp")]);
    assert!(msg.contains("KLAXON_SMTP_PORT"), "{msg}");
}

#[test]
fn action_item_slos_come_from_the_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("klaxon.toml");
    std::fs::write(
        &file,
        "[action_items]\npriority_days = 14\nremind_before_days = 2\n",
    )
    .unwrap();
    let s = Settings::load(
        Some(&file),
        env(&[("KLAXON_ACTION_ITEMS_OTHER_DAYS", "30")]),
    )
    .unwrap();
    let slo = s.action_items.slo();
    assert_eq!(
        (slo.priority_days, slo.other_days, slo.remind_before_days),
        (14, 30, 2)
    );
    assert_eq!(Settings::default().action_items.slo().priority_days, 28);
    let zero = Settings::load(None, env(&[("KLAXON_ACTION_ITEMS_PRIORITY_DAYS", "0")]));
    assert!(
        zero.unwrap_err()
            .to_string()
            .contains("action_items.priority_days")
    );
}

#[test]
fn postmortem_rules_come_from_the_file_and_environment() {
    use klaxon_domain::incident::Severity;
    use klaxon_domain::postmortem::{DayCount, DueRule};
    let d = Settings::default().postmortems.rules().unwrap();
    assert_eq!(d.required, [Severity::Sev1, Severity::Sev2]);
    assert_eq!(d.sections.len(), 10);
    assert_eq!(
        d.due.get(&Severity::Sev2),
        Some(&DueRule {
            days: 5,
            count: DayCount::Business
        })
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("klaxon.toml");
    std::fs::write(
        &file,
        "[postmortems]\ndue_sev3 = \"10 business\"\n[[postmortems.sections]]\nkey = \"story\"\ntitle = \"The story\"\n",
    )
    .unwrap();
    let s = Settings::load(
        Some(&file),
        env(&[
            ("KLAXON_POSTMORTEMS_REQUIRED_SEVERITIES", "SEV1, SEV3"),
            ("KLAXON_POSTMORTEMS_DUE_SEV1", "2"),
            ("KLAXON_POSTMORTEMS_DUE_SEV2", ""),
        ]),
    )
    .unwrap();
    let r = s.postmortems.rules().unwrap();
    assert_eq!(r.required, [Severity::Sev1, Severity::Sev3]);
    assert_eq!(r.due[&Severity::Sev1].count, DayCount::Calendar);
    assert_eq!(r.due[&Severity::Sev3].days, 10);
    assert!(!r.due.contains_key(&Severity::Sev2));
    assert_eq!(r.sections.len(), 1);
    let bad = Settings::load(None, env(&[("KLAXON_POSTMORTEMS_DUE_SEV4", "soon")])).unwrap_err();
    assert!(bad.to_string().contains("postmortems.due_sev4"), "{bad}");
}

#[test]
fn prometheus_sources_secrets_are_masked() {
    let mut s = Settings::default();
    s.slos.sources = vec![crate::shared::config::PrometheusSource {
        name: "main".into(),
        url: "https://user:pa55word@prom.example.com".into(),
        authorization: Some("Bearer s3cr3t-token".into()),
    }];
    let shown = s.to_masked_toml();
    assert!(!shown.contains("s3cr3t-token"), "{shown}");
    assert!(!shown.contains("pa55word"), "{shown}");
    assert!(shown.contains("prom.example.com"), "{shown}");
    assert!(!format!("{:?}", s.slos).contains("s3cr3t-token"));
}
