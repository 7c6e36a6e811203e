use super::*;

const BY_REFERENCE: &str = r#"
apiVersion: openslo/v1
kind: SLI
metadata:
  name: checkout-errors
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        metricSourceRef: main
        type: Prometheus
        spec:
          query: sum(increase(http_requests_total{code=~"5.."}[{{window}}]))
    total:
      metricSource:
        metricSourceRef: main
        type: Prometheus
        spec:
          query: sum(increase(http_requests_total[{{window}}]))
---
apiVersion: openslo/v1
kind: AlertCondition
metadata:
  name: fast-burn
  annotations:
    klaxon.dev/short-window: 2m
spec:
  severity: page
  condition:
    kind: burnrate
    threshold: 14.4
    lookbackWindow: 1h
    alertAfter: 0m
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata:
  name: fast
spec:
  alertWhenBreaching: true
  conditions:
    - conditionRef: fast-burn
  notificationTargets: []
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  displayName: Availability
spec:
  service: checkout
  indicatorRef: checkout-errors
  timeWindow:
    - duration: 4w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - target: 0.999
  alertPolicies:
    - alertPolicyRef: fast
    - kind: AlertPolicy
      metadata:
        name: slow
      spec:
        conditions:
          - kind: AlertCondition
            metadata:
              name: slow-burn
            spec:
              severity: ticket
              condition:
                kind: burnrate
                threshold: 1
                lookbackWindow: 3d
"#;

#[test]
fn references_and_inline_documents_are_read() {
    let p = parse(BY_REFERENCE, &["main"]).unwrap();
    assert_eq!(p.slos.len(), 1);
    let n = &p.slos[0].input;
    assert_eq!(n.name, "Availability");
    assert_eq!(n.service, "checkout");
    assert_eq!(n.objective, 99.9);
    assert_eq!(n.window, "28d");
    assert!(
        matches!(&n.sli, Sli::Prometheus { source, bad: Some(_), good: None, .. } if source == "main")
    );
    let rules = n.rules.as_ref().unwrap();
    assert_eq!(rules[0].name, "fast");
    assert_eq!(
        (rules[0].long.as_str(), rules[0].short.as_str()),
        ("1h", "2m")
    );
    assert_eq!(rules[0].urgency, Urgency::Page);
    // No annotation: a twelfth of the look-back window.
    assert_eq!(
        (rules[1].long.as_str(), rules[1].short.as_str()),
        ("3d", "6h")
    );
    assert_eq!(rules[1].urgency, Urgency::Ticket);
    // Refusals of the API's fields are told in the file's terms.
    let paths = &p.slos[0].paths;
    assert_eq!(
        paths.locate("rules[0].short"),
        "documents[1].metadata.annotations[\"klaxon.dev/short-window\"]"
    );
    assert_eq!(
        paths.locate("rules[1].long"),
        "documents[3].spec.alertPolicies[1].spec.conditions[0].spec.condition.lookbackWindow"
    );
    assert_eq!(
        paths.locate("objective"),
        "documents[3].spec.objectives[0].target"
    );
    assert_eq!(paths.locate("sli.bad"), "documents[0].spec.ratioMetric.bad");
}

fn refused(text: &str) -> (String, String) {
    match parse(text, &["main"]) {
        Err(ApiError::BadRequest {
            field: Some(f),
            message,
            ..
        }) => (f, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn unknown_fields_and_kinds_are_named_by_their_place() {
    let typo = BY_REFERENCE.replace("    bad:\n", "    baad:\n");
    let (field, message) = refused(&typo);
    assert_eq!(field, "documents[0].spec.ratioMetric.baad");
    assert!(message.contains("unknown field"), "{message}");
    let (field, _) = refused(&BY_REFERENCE.replace(
        "kind: AlertPolicy\nmetadata:\n  name: fast",
        "kind: Alert\nmetadata:\n  name: fast",
    ));
    assert_eq!(field, "documents[2].kind");
    let (field, _) = refused(&BY_REFERENCE.replace("duration: 4w", "duration: 14d"));
    assert_eq!(field, "documents[3].spec.timeWindow[0].duration");
    let (field, _) = refused(&BY_REFERENCE.replace("alertAfter: 0m", "alertAfter: 5m"));
    assert_eq!(field, "documents[1].spec.condition.alertAfter");
    let (field, _) =
        refused(&BY_REFERENCE.replace("klaxon.dev/short-window", "klaxon.dev/shortwindow"));
    assert_eq!(
        field,
        "documents[1].metadata.annotations[\"klaxon.dev/shortwindow\"]"
    );
}

#[test]
fn availability_names_one_check_or_component_by_id() {
    let doc = |good: &str, total: &str| {
        format!(
            "apiVersion: openslo/v1
kind: SLO
metadata:
  name: up
spec:
  service: website
  indicator:
    spec:
      ratioMetric:
        good: {{metricSource: {{type: klaxon-availability, spec: {{{good}}}}}}}
        total: {{metricSource: {{type: klaxon-availability, spec: {{{total}}}}}}}
  timeWindow: [{{duration: 30d, isRolling: true}}]
  objectives: [{{targetPercent: 99.9}}]
"
        )
    };
    let id = "019a5e0c-5f4e-7c31-9a51-3d2f0b8e6a11";
    let p = parse(&doc(&format!("check: {id}"), &format!("check: {id}")), &[]).unwrap();
    assert!(matches!(
        &p.slos[0].input.sli,
        Sli::Availability { check: Some(c), component: None } if c.to_string() == id
    ));
    let (field, _) = refused(&doc("check: homepage", "check: homepage"));
    assert_eq!(
        field,
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.spec.check"
    );
    let (field, _) = refused(&doc(&format!("check: {id}"), &format!("component: {id}")));
    assert_eq!(
        field,
        "documents[0].spec.indicator.spec.ratioMetric.total.metricSource.spec"
    );
}
