//! Runners: what they are called, the labels they carry, which command steps they may take,
//! and the check a runner makes on a step before it runs it.
use std::collections::BTreeMap;

use super::{CommandStep, StepKind};
use crate::Invalid;

/// The longest label key or value, and the most labels a runner carries.
const MAX_LABEL: usize = 63;
const MAX_LABELS: usize = 32;

/// A runner's name: 1–64 letters, digits, `-`, `_` or `.`, kept lower-case (so a name finds
/// one runner, however it is typed).
pub fn name(raw: &str) -> Result<String, Invalid> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(Invalid::new(
            "name",
            "a runner's name is 1 to 64 letters, digits, -, _ or . (db-eu-1)",
        ))
    }
}

/// Labels as `key=value` each: keys and values of 1–63 letters, digits, `-`, `_`, `.` or `/`.
pub fn labels(raw: &[String]) -> Result<BTreeMap<String, String>, Invalid> {
    let part = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_LABEL
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    if raw.len() > MAX_LABELS {
        return Err(Invalid::new(
            "labels",
            format!("a runner carries at most {MAX_LABELS} labels"),
        ));
    }
    let mut out = BTreeMap::new();
    for (i, l) in raw.iter().enumerate() {
        let field = format!("labels[{i}]");
        let Some((k, v)) = l.split_once('=') else {
            return Err(Invalid::new(
                field,
                format!("`{l}` is not key=value (env=prod)"),
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if !part(k) || !part(v) {
            return Err(Invalid::new(
                field,
                format!(
                    "`{l}`: keys and values are 1 to {MAX_LABEL} letters, digits, -, _, . or /"
                ),
            ));
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(Invalid::new(
                field,
                format!("the label `{k}` is given twice"),
            ));
        }
    }
    Ok(out)
}

/// Whether a runner with `has` may take a step that needs `needs`: every label the step names,
/// with the same value.
pub fn takes(has: &BTreeMap<String, String>, needs: &BTreeMap<String, String>) -> bool {
    needs.iter().all(|(k, v)| has.get(k) == Some(v))
}

/// The check a runner makes before it runs what it was handed: the step at `index` of the
/// runbook `source` (whose digest it has already checked) is a command step, and the program
/// and variables it was handed are the step's: as many arguments, each written-out one equal
/// to what the step says, the same variable names. It returns the step as the runner read it:
/// its time limit, output limit and shell flag come from there, not from what it was handed.
pub fn check(
    source: &str,
    index: usize,
    argv: &[String],
    env: &[(String, String)],
) -> Result<CommandStep, String> {
    let rb = super::parse(source, None).map_err(|e| format!("the runbook does not read: {e}"))?;
    let Some(StepKind::Command(c)) = rb.steps.get(index).map(|s| &s.kind) else {
        return Err(format!("step {} is not a command step", index + 1));
    };
    if c.run.len() != argv.len() {
        return Err(format!(
            "the step runs {} arguments; {} were handed over",
            c.run.len(),
            argv.len()
        ));
    }
    // Written-out parts must be what the step says: a whole argument, or the text before its
    // first {{ … }} (the program is always written out).
    let fits = |t: &super::template::Template, given: &str| {
        if t.refs().next().is_none() {
            t.literal_prefix() == given
        } else {
            given.starts_with(t.literal_prefix())
        }
    };
    for (i, (t, given)) in c.run.iter().zip(argv).enumerate() {
        if !fits(t, given) {
            return Err(format!(
                "argument {i} is not the step's `{}`",
                t.literal_prefix()
            ));
        }
    }
    let mut want: Vec<&str> = c.env.iter().map(|(k, _)| k.as_str()).collect();
    let mut got: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    want.sort_unstable();
    got.sort_unstable();
    if want != got {
        return Err("the variables handed over are not the step's".into());
    }
    for (k, t) in &c.env {
        if env.iter().any(|(n, v)| n == k && !fits(t, v)) {
            return Err(format!("the variable {k} is not the step's"));
        }
    }
    Ok(c.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "---\nname: restart\n---\n# Restart\n## Restart it\n```klaxon-command\nrun: [systemctl, restart, \"{{ incident.service }}\"]\nenv:\n  MODE: fast\nrunner:\n  env: prod\ntimeout: 30\n```\n";

    fn l(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn labels_are_read_and_refused_in_words() {
        let got = labels(&["env=prod".into(), " region = eu ".into()]).unwrap();
        assert_eq!(got, l(&[("env", "prod"), ("region", "eu")]));
        assert_eq!(labels(&["prod".into()]).unwrap_err().field, "labels[0]");
        assert_eq!(
            labels(&["a=1".into(), "a=2".into()]).unwrap_err().field,
            "labels[1]"
        );
        assert!(labels(&["a b=1".into()]).is_err());
        assert!(name("db eu").is_err());
        assert_eq!(name("DB-eu-1").unwrap(), "db-eu-1");
    }

    #[test]
    fn a_runner_takes_steps_whose_labels_it_carries() {
        let has = l(&[("env", "prod"), ("region", "eu")]);
        assert!(takes(&has, &l(&[])));
        assert!(takes(&has, &l(&[("env", "prod")])));
        assert!(!takes(&has, &l(&[("env", "staging")])));
        assert!(!takes(&has, &l(&[("env", "prod"), ("gpu", "yes")])));
    }

    #[test]
    fn the_check_compares_what_was_handed_with_the_step() {
        let argv = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let env = vec![("MODE".to_owned(), "fast".to_owned())];
        let c = check(SOURCE, 0, &argv(&["systemctl", "restart", "api"]), &env).unwrap();
        assert_eq!(c.timeout_secs, 30);
        assert!(!c.shell);
        // Another program, another arity, other variables or values, or not a command step.
        assert!(check(SOURCE, 0, &argv(&["rm", "restart", "api"]), &env).is_err());
        let other = vec![("MODE".to_owned(), "slow".to_owned())];
        assert!(check(SOURCE, 0, &argv(&["systemctl", "restart", "api"]), &other).is_err());
        assert!(check(SOURCE, 0, &argv(&["systemctl", "restart"]), &env).is_err());
        assert!(check(SOURCE, 0, &argv(&["systemctl", "restart", "api"]), &[]).is_err());
        assert!(check(SOURCE, 1, &argv(&["systemctl"]), &env).is_err());
    }
}

#[cfg(test)]
mod program_tests {
    /// A program filled from an alert would be chosen by whoever sent the alert, and with
    /// `shell: true` it is shell text.
    #[test]
    fn the_program_is_written_out() {
        let e = super::super::parse(
            "---\nname: a\n---\n## One\n```klaxon-command\nrun: [\"{{ incident.title }}\"]\nshell: true\n```\n",
            None,
        )
        .unwrap_err();
        assert_eq!(e.field, "steps[1].command.run[0]");
    }
}
