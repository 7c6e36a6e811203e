use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn spec(url: &str, conditions: &[&str]) -> Result<CheckSpec, Invalid> {
    CheckSpec::parse(SpecInput {
        url: url.into(),
        conditions: conditions.iter().map(|c| (*c).to_owned()).collect(),
        ..SpecInput::default()
    })
}

#[test]
fn a_spec_takes_defaults_and_refuses_bad_fields() {
    let s = spec("https://example.com/health", &[]).unwrap();
    assert_eq!(s.kind(), CheckKind::Http);
    assert_eq!((s.interval_secs, s.timeout_ms), (60, 10_000));
    assert_eq!((s.failure_threshold, s.success_threshold), (3, 2));
    assert_eq!(s.method, HttpMethod::Get);
    assert_eq!(s.conditions[0].to_string(), "[STATUS] < 400");
    let tcp = spec("tcp://db.internal:5432", &[]).unwrap();
    assert_eq!(tcp.kind(), CheckKind::Tcp);
    assert_eq!(tcp.tcp_address(), Some("db.internal:5432"));
    assert_eq!(tcp.conditions[0].to_string(), "[CONNECTED] == true");

    let field = |r: Result<CheckSpec, Invalid>| r.unwrap_err().field;
    assert_eq!(field(spec("ftp://x", &[])), "url");
    assert_eq!(field(spec("http://", &[])), "url");
    assert_eq!(field(spec("tcp://host", &[])), "url");
    assert_eq!(field(spec("tcp://host:0", &[])), "url");
    assert_eq!(field(spec("https://a b", &[])), "url");
    assert_eq!(
        field(spec("http://x", &["[STATUS] == 200", "[NOPE] == 1"])),
        "conditions[1]"
    );
    assert_eq!(
        field(spec("tcp://h:1", &["[STATUS] == 200"])),
        "conditions[0]"
    );
    assert_eq!(
        field(spec("http://h", &["[CERTIFICATE_EXPIRATION] > 7d"])),
        "conditions[0]"
    );
    let with = |f: fn(&mut SpecInput)| {
        let mut i = SpecInput {
            url: "http://h".into(),
            ..SpecInput::default()
        };
        f(&mut i);
        CheckSpec::parse(i).map_err(|e| e.field)
    };
    assert_eq!(
        with(|i| i.interval_secs = Some(19)).unwrap_err(),
        "interval_secs"
    );
    assert!(with(|i| i.interval_secs = Some(20)).is_ok());
    assert_eq!(
        with(|i| i.timeout_ms = Some(60_000)).unwrap_err(),
        "timeout_ms"
    );
    assert_eq!(
        with(|i| i.failure_threshold = Some(0)).unwrap_err(),
        "failure_threshold"
    );
    assert_eq!(
        with(|i| i.success_threshold = Some(101)).unwrap_err(),
        "success_threshold"
    );
    assert_eq!(
        with(|i| i.method = Some("FETCH".into())).unwrap_err(),
        "method"
    );
    assert_eq!(
        with(|i| {
            i.headers.insert("Bad Name".into(), "x".into());
        })
        .unwrap_err(),
        "headers"
    );
    let post = with(|i| {
        i.method = Some("post".into());
        i.body = Some("{}".into());
        i.headers
            .insert("Content-Type".into(), "application/json".into());
    })
    .unwrap();
    assert_eq!(
        (post.method, post.body.as_deref()),
        (HttpMethod::Post, Some("{}"))
    );
    let mut tcp_body = SpecInput {
        url: "tcp://h:1".into(),
        body: Some("x".into()),
        ..SpecInput::default()
    };
    assert_eq!(
        CheckSpec::parse(tcp_body.clone()).unwrap_err().field,
        "body"
    );
    tcp_body.body = None;
    assert!(CheckSpec::parse(tcp_body).is_ok());
}

#[test]
fn a_spec_round_trips_as_json() {
    let s = spec(
        "https://h/x",
        &["[BODY].status == UP", "[RESPONSE_TIME] < 1s"],
    )
    .unwrap();
    let back: CheckSpec = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
    assert_eq!(back, s);
    assert!(s.reads_body());
    assert!(
        !spec("https://h/x", &["[STATUS] == 200"])
            .unwrap()
            .reads_body()
    );
}

#[test]
fn a_verdict_needs_every_condition_and_an_answer() {
    let now = t("2026-11-21T09:00:00Z");
    let s = spec("http://h", &["[STATUS] == 200", "[BODY].status == UP"]).unwrap();
    let good = Probe {
        connected: true,
        status: Some(200),
        response_ms: 12,
        body: Some(r#"{"status":"UP"}"#.into()),
        ..Probe::default()
    };
    let v = s.judge(&good, now);
    assert!(v.ok);
    assert_eq!(v.reason, None);
    let bad = Probe {
        body: Some(r#"{"status":"DOWN"}"#.into()),
        ..good
    };
    let v = s.judge(&bad, now);
    assert!(!v.ok);
    assert_eq!(
        v.reason.as_deref(),
        Some(r#"[BODY].status == UP (was "DOWN")"#)
    );
    let refused = Probe {
        error: Some("connection refused".into()),
        ..Probe::default()
    };
    let lenient = spec("http://h", &["[RESPONSE_TIME] < 1s"]).unwrap();
    let v = lenient.judge(&refused, now);
    assert!(
        !v.ok,
        "an HTTP check with no answer fails whatever its conditions"
    );
    assert_eq!(v.reason.as_deref(), Some("connection refused"));
    let tcp = spec("tcp://h:1", &[]).unwrap();
    assert!(!tcp.judge(&refused, now).ok);
    assert!(
        tcp.judge(
            &Probe {
                connected: true,
                ..Probe::default()
            },
            now
        )
        .ok
    );
}

#[test]
fn thresholds_move_between_up_and_down() {
    let mut h = Health::NEW;
    let mut moves = Vec::new();
    for ok in [
        false, false, true, false, false, false, false, true, false, true, true, true,
    ] {
        let (next, to) = h.after(ok, 3, 2);
        moves.push(to);
        h = next;
    }
    use CheckState::*;
    assert_eq!(
        moves,
        [
            None,
            None,
            None,
            None,
            None,
            Some(Down),
            None,
            None,
            None,
            None,
            Some(Up),
            None
        ]
    );
    assert_eq!(
        h,
        Health {
            state: Up,
            failures: 0,
            successes: 3
        }
    );
    // Thresholds of one move at once.
    assert_eq!(Health::NEW.after(false, 1, 1).1, Some(Down));
}

#[test]
fn tallies_split_down_time_at_midnight() {
    let iv = SignedDuration::from_secs(60);
    let at = t("2026-11-22T00:00:30Z");
    let up = tally(
        Some((t("2026-11-21T23:59:30Z"), CheckState::Up)),
        at,
        true,
        40,
        iv,
    );
    assert_eq!(up.len(), 1);
    assert_eq!(
        (
            up[0].day,
            up[0].total,
            up[0].successes,
            up[0].response_ms,
            up[0].down_ms
        ),
        (t("2026-11-22T00:00:00Z"), 1, 1, 40, 0)
    );
    let down = tally(
        Some((t("2026-11-21T23:59:30Z"), CheckState::Down)),
        at,
        false,
        7,
        iv,
    );
    assert_eq!(down.len(), 2);
    assert_eq!(
        (down[0].day, down[0].successes, down[0].down_ms),
        (t("2026-11-22T00:00:00Z"), 0, 30_000)
    );
    assert_eq!(
        (down[1].day, down[1].total, down[1].down_ms),
        (t("2026-11-21T00:00:00Z"), 0, 30_000)
    );
    // A long gap counts two intervals at most.
    let gap = tally(
        Some((t("2026-11-20T00:00:00Z"), CheckState::Down)),
        at,
        false,
        7,
        iv,
    );
    assert_eq!(gap.iter().map(|d| d.down_ms).sum::<u64>(), 120_000);
    assert_eq!(tally(None, at, false, 1, iv)[0].down_ms, 0);
}

#[test]
fn intervals_follow_state_changes() {
    use CheckState::*;
    let changes = [
        (t("2026-11-01T00:00:00Z"), Up),
        (t("2026-11-10T00:00:00Z"), Down),
        (t("2026-11-10T01:00:00Z"), Up),
        (t("2026-11-10T02:00:00Z"), Up),
    ];
    let got = intervals(
        &changes,
        t("2026-11-05T00:00:00Z"),
        t("2026-11-20T00:00:00Z"),
    );
    let want = [
        ("2026-11-05T00:00:00Z", "2026-11-10T00:00:00Z", Up),
        ("2026-11-10T00:00:00Z", "2026-11-10T01:00:00Z", Down),
        ("2026-11-10T01:00:00Z", "2026-11-20T00:00:00Z", Up),
    ];
    let want: Vec<StateInterval> = want
        .iter()
        .map(|(f, to, s)| StateInterval {
            from: t(f),
            to: t(to),
            state: *s,
        })
        .collect();
    assert_eq!(got, want);
    // Before the first change nothing is known.
    let early = intervals(
        &changes,
        t("2026-10-01T00:00:00Z"),
        t("2026-11-02T00:00:00Z"),
    );
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].from, t("2026-11-01T00:00:00Z"));
    assert!(intervals(&[], t("2026-10-01T00:00:00Z"), t("2026-11-02T00:00:00Z")).is_empty());
}
