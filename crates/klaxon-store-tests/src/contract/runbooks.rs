//! Runbooks: a version on top of the latest only, names unique, services kept with the latest
//! version, each write with its event, a removed author's name kept, deletion taking the
//! versions.
use super::*;
use klaxon_domain::ids::RunbookId;
use klaxon_domain::runbook::Matcher;

fn record(name: &str, version: i32, services: Vec<ServiceId>) -> RunbookRecord {
    RunbookRecord {
        id: RunbookId::new(t0(), rnd()),
        name: name.into(),
        title: format!("Title of {name}"),
        version,
        has_commands: false,
        services,
        matchers: vec![Matcher(
            [("severity".to_owned(), "critical".to_owned())].into(),
        )],
        created_at: t0(),
        updated_at: t0(),
    }
}

fn version(r: &RunbookRecord, author: Option<UserId>, source: &str) -> RunbookVersion {
    RunbookVersion {
        info: VersionInfo {
            runbook_id: r.id,
            version: r.version,
            digest: format!("{:064}", r.version),
            author_id: author,
            author: "Rita".into(),
            message: format!("v{}", r.version),
            created_at: mins(r.version.into()),
        },
        source: source.into(),
    }
}

fn rb_ev(r: &RunbookRecord, kind: EventKind) -> NewEvent {
    ev(
        SubjectType::Runbook,
        r.id,
        kind,
        json!({"version": r.version}),
    )
}

pub async fn runbook_versions_stack_and_names_stay_unique(s: Arc<dyn Store>) {
    let web = monitored(&s, "web", Grouping::None, true).await.service.id;
    let db = monitored(&s, "db", Grouping::None, true).await.service.id;
    let rita = person(&s, "rita@example.com").await;
    let r = record("restart-web", 1, vec![web]);
    s.create_runbook(
        &r,
        &version(&r, Some(rita.id), "one"),
        rb_ev(&r, EventKind::RunbookCreated),
    )
    .await
    .unwrap();
    assert_eq!(s.runbook(r.id).await.unwrap(), r);
    assert_eq!(s.runbook_by_name("restart-web").await.unwrap().id, r.id);

    // The same name again is a conflict, and nothing of it stays.
    let twin = record("restart-web", 1, vec![]);
    let e = s
        .create_runbook(
            &twin,
            &version(&twin, None, "x"),
            rb_ev(&twin, EventKind::RunbookCreated),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    assert!(matches!(
        s.runbook(twin.id).await,
        Err(StoreError::NotFound)
    ));

    // Version 2 on top of 1: renamed, on another service.
    let r2 = RunbookRecord {
        name: "restart-web-tier".into(),
        version: 2,
        services: vec![db],
        updated_at: mins(2),
        ..r.clone()
    };
    s.add_runbook_version(
        &r2,
        &version(&r2, Some(rita.id), "two"),
        rb_ev(&r2, EventKind::RunbookVersionSaved),
    )
    .await
    .unwrap();
    assert_eq!(s.runbook(r.id).await.unwrap(), r2);
    // Another version 2 (an edit that started from version 1) is refused.
    let stale = RunbookRecord {
        title: "stale".into(),
        ..r2.clone()
    };
    let e = s
        .add_runbook_version(
            &stale,
            &version(&stale, None, "stale"),
            rb_ev(&stale, EventKind::RunbookVersionSaved),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    assert_eq!(s.runbook(r.id).await.unwrap().title, r2.title);
    // A version for a runbook that is not there.
    let ghost = record("ghost", 2, vec![]);
    assert!(matches!(
        s.add_runbook_version(
            &ghost,
            &version(&ghost, None, "g"),
            rb_ev(&ghost, EventKind::RunbookVersionSaved)
        )
        .await,
        Err(StoreError::NotFound)
    ));

    let versions = s.runbook_versions(r.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(versions[1], version(&r, Some(rita.id), "one").info);
    assert_eq!(s.runbook_version(r.id, 1).await.unwrap().source, "one");
    assert!(matches!(
        s.runbook_version(r.id, 3).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        kinds(&events_of(&s, SubjectType::Runbook, r.id).await),
        [EventKind::RunbookCreated, EventKind::RunbookVersionSaved]
    );

    // A second runbook; the list is by name.
    let other = record("a-first", 1, vec![web, db]);
    s.create_runbook(
        &other,
        &version(&other, None, "x"),
        rb_ev(&other, EventKind::RunbookCreated),
    )
    .await
    .unwrap();
    let names: Vec<String> = s
        .list_runbooks()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["a-first", "restart-web-tier"]);
    let mut both = vec![web, db];
    both.sort();
    assert_eq!(s.runbook(other.id).await.unwrap().services, both);

    // Gone: the runbook and its versions, with its event.
    s.delete_runbook(r.id, rb_ev(&r2, EventKind::RunbookDeleted))
        .await
        .unwrap();
    assert!(matches!(s.runbook(r.id).await, Err(StoreError::NotFound)));
    assert!(s.runbook_versions(r.id).await.unwrap().is_empty());
    assert!(matches!(
        s.delete_runbook(r.id, rb_ev(&r2, EventKind::RunbookDeleted))
            .await,
        Err(StoreError::NotFound)
    ));
}
