//! Runners: the admin commands (`klaxon runners …`) and the runner itself (`klaxon runner`),
//! which runs on the operator's host, connects outbound only, asks for command steps, checks
//! each against the runbook version it belongs to, runs it without a shell unless the step
//! says so, within its time and output limits, renews its hold while it runs, and reports the
//! exit code and output.
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use klaxon_domain::runbook::runner;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::services_cli::urlencode;
use super::{Client, ClientArgs, print_or};

#[derive(Subcommand)]
pub enum RunnersCommand {
    /// Runners, their labels, when each was last seen and the runbook versions it may run.
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Register a runner (admins); prints its token once.
    Register {
        name: String,
        /// A label, KEY=VALUE (env=prod); repeat for more.
        #[arg(short, long = "label")]
        labels: Vec<String>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Remove a runner: its token stops working.
    Delete {
        runner: String,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Let a runner run a runbook version's command steps (the latest without --version).
    Enable {
        runner: String,
        runbook: String,
        #[arg(long)]
        version: Option<i32>,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Stop a runner from running a runbook version.
    Disable {
        runner: String,
        runbook: String,
        #[arg(long)]
        version: i32,
        #[command(flatten)]
        client: ClientArgs,
    },
}

fn runners_text(v: &Value) -> String {
    let mut out = String::new();
    for r in v.as_array().into_iter().flatten() {
        let labels: Vec<String> = r["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect();
        out += &format!(
            "{}  {}  [{}]  last seen {}\n",
            r["id"].as_str().unwrap_or(""),
            r["name"].as_str().unwrap_or(""),
            labels.join(", "),
            r["last_seen_at"].as_str().unwrap_or("never"),
        );
        for g in r["enabled"].as_array().into_iter().flatten() {
            out += &format!(
                "    runs {} version {} ({})\n",
                g["runbook"].as_str().unwrap_or(""),
                g["version"],
                &g["digest"].as_str().unwrap_or("")
                    [..12.min(g["digest"].as_str().unwrap_or("").len())]
            );
        }
    }
    out.trim_end().to_owned()
}

pub async fn runners(cmd: RunnersCommand) -> anyhow::Result<()> {
    match cmd {
        RunnersCommand::List { client } => {
            let v = Client::new(&client)?.get("/api/v1/runners").await?;
            print_or(&client, &v, runners_text)
        }
        RunnersCommand::Register {
            name,
            labels,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    "/api/v1/runners",
                    Some(json!({"name": name, "labels": labels})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "registered runner {} ({})\ntoken (shown once): {}\nstart it with: klaxon runner --server URL --token TOKEN",
                    v["runner"]["name"].as_str().unwrap_or(""),
                    v["runner"]["id"].as_str().unwrap_or(""),
                    v["token"].as_str().unwrap_or("")
                )
            })
        }
        RunnersCommand::Delete { runner, client } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!("/api/v1/runners/{}", urlencode(&runner)),
                    None,
                )
                .await?;
            println!("removed runner {runner}");
            Ok(())
        }
        RunnersCommand::Enable {
            runner,
            runbook,
            version,
            client,
        } => {
            let v = Client::new(&client)?
                .send(
                    Method::POST,
                    &format!("/api/v1/runners/{}/enabled", urlencode(&runner)),
                    Some(json!({"runbook": runbook, "version": version})),
                )
                .await?;
            print_or(&client, &v, |v| {
                format!(
                    "{runner} may run {} version {} (digest {})",
                    v["runbook"].as_str().unwrap_or(""),
                    v["version"],
                    v["digest"].as_str().unwrap_or("")
                )
            })
        }
        RunnersCommand::Disable {
            runner,
            runbook,
            version,
            client,
        } => {
            Client::new(&client)?
                .send(
                    Method::DELETE,
                    &format!(
                        "/api/v1/runners/{}/enabled/{}/{version}",
                        urlencode(&runner),
                        urlencode(&runbook)
                    ),
                    None,
                )
                .await?;
            println!("{runner} no longer runs {runbook} version {version}");
            Ok(())
        }
    }
}

/// `klaxon runner`: the runner process.
#[derive(Args)]
pub struct RunnerArgs {
    /// Klaxon's URL.
    #[arg(long, env = "KLAXON_URL")]
    server: String,
    /// The runner's token (from `klaxon runners register`), not a person's API token.
    #[arg(long, env = "KLAXON_RUNNER_TOKEN", hide_env_values = true)]
    token: String,
    /// Only runbook versions with these digests (SHA-256, hex; repeat for more), whatever the
    /// server enables: the host's own allow-list.
    #[arg(long = "trust")]
    trust: Vec<String>,
    /// Take one step (or none, after one wait) and exit: for scripts and tests.
    #[arg(long)]
    once: bool,
    /// Seconds to wait for work per request (0–30).
    #[arg(long, default_value_t = 25)]
    wait: u32,
    /// Allow a plain-HTTP server that is not on this host (steps carry filled secrets).
    #[arg(long)]
    insecure_http: bool,
}

struct Agent {
    http: reqwest::Client,
    base: String,
    token: String,
    trust: Vec<String>,
}

impl Agent {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if status == StatusCode::UNAUTHORIZED {
            bail!(
                "the server refused the runner token: {}",
                v["error"]["message"]
            );
        }
        Ok((status, v))
    }
}

pub async fn run(args: RunnerArgs) -> anyhow::Result<()> {
    let url = reqwest::Url::parse(&args.server).context("--server is not a URL")?;
    let host = url.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback());
    if url.scheme() != "https" && !loopback && !args.insecure_http {
        bail!(
            "--server is plain HTTP: steps carry filled secrets and the token goes with every \
             call; use https://, or say --insecure-http"
        );
    }
    let agent = Agent {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(u64::from(args.wait) + 30))
            .build()?,
        base: args.server.trim_end_matches('/').to_owned(),
        token: args.token,
        trust: args.trust.iter().map(|d| d.to_ascii_lowercase()).collect(),
    };
    eprintln!("klaxon runner: asking {} for work", agent.base);
    loop {
        let (status, a) = match agent
            .post(
                "/api/v1/runner/claim",
                json!({"wait_secs": args.wait.min(30)}),
            )
            .await
        {
            Ok(x) => x,
            Err(e) if args.once => return Err(e),
            Err(e) => {
                eprintln!("klaxon runner: {e:#}; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if status == StatusCode::OK {
            take(&agent, &a).await?;
        } else if status != StatusCode::NO_CONTENT {
            eprintln!(
                "klaxon runner: {status}: {}",
                a["error"]["message"].as_str().unwrap_or("no details")
            );
            if !args.once {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
        if args.once {
            return Ok(());
        }
    }
}

/// Checks, runs and reports one step.
async fn take(agent: &Agent, a: &Value) -> anyhow::Result<()> {
    let run = a["run_id"].as_str().unwrap_or_default().to_owned();
    let step = a["step"].as_u64().unwrap_or_default();
    let at = format!("/api/v1/runner/runs/{run}/steps/{step}");
    eprintln!(
        "klaxon runner: incident #{}: {} version {}, step {}: {}",
        a["incident_number"],
        a["runbook"].as_str().unwrap_or(""),
        a["version"],
        step + 1,
        a["title"].as_str().unwrap_or("")
    );
    let renew = Duration::from_secs(a["renew_secs"].as_u64().unwrap_or(15).clamp(1, 30));
    let report = match check(agent, a) {
        Ok((argv, env, c)) => execute(agent, &at, &argv, &env, &c, renew).await,
        Err(why) => {
            eprintln!("klaxon runner: refused: {why}");
            json!({"error": why})
        }
    };
    // Sent until it is taken or refused for good: the command ran, and how it ended must not
    // be lost to a network hiccup.
    let mut pause = Duration::from_secs(1);
    for _ in 0..12 {
        match agent.post(&format!("{at}/report"), report.clone()).await {
            Ok((status, _)) if status.is_success() => return Ok(()),
            Ok((status, v)) if status.is_client_error() => {
                eprintln!(
                    "klaxon runner: the report was refused ({status}): {}",
                    v["error"]["message"].as_str().unwrap_or("no details")
                );
                return Ok(());
            }
            Ok((status, _)) => eprintln!("klaxon runner: the report got {status}; again"),
            Err(e) => eprintln!("klaxon runner: could not report: {e:#}; again"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
    eprintln!("klaxon runner: gave up reporting; the step will show its outcome as unknown");
    Ok(())
}

type Checked = (
    Vec<String>,
    Vec<(String, String)>,
    klaxon_domain::runbook::CommandStep,
);

/// The step as the runner reads it from the version's source, after checking the source's
/// digest (and the host's allow-list) and that what was handed over is that step's.
fn check(agent: &Agent, a: &Value) -> Result<Checked, String> {
    let source = a["source"].as_str().unwrap_or_default();
    let digest = a["digest"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let actual = klaxon_server::shared::crypto::hex(&klaxon_server::shared::crypto::sha256(
        source.as_bytes(),
    ));
    if actual != digest {
        return Err(format!(
            "the runbook's digest is {actual}, not the enabled {digest}: not run"
        ));
    }
    if !agent.trust.is_empty() && !agent.trust.contains(&digest) {
        return Err(format!(
            "version {digest} is not on this host's --trust list: not run"
        ));
    }
    let argv: Vec<String> = serde_json::from_value(a["argv"].clone()).map_err(|e| e.to_string())?;
    let env: Vec<(String, String)> =
        serde_json::from_value(a["env"].clone()).map_err(|e| e.to_string())?;
    let index = a["step"].as_u64().unwrap_or(u64::MAX) as usize;
    let c = runner::check(source, index, &argv, &env)?;
    Ok((argv, env, c))
}

/// Variables a command keeps from the runner's own environment; the rest (the runner's token
/// among them) it never sees.
const KEPT_ENV: [&str; 8] = [
    "PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "TMPDIR",
];
/// The most output a report carries (what Klaxon keeps of a step).
const REPORT_OUTPUT: usize = 4 * 1024 * 1024;
/// Without a renewal taken for this long the hold is as good as gone: stop the command rather
/// than let it run on while the step is marked unknown (and perhaps retried elsewhere).
const HOLD: Duration = Duration::from_secs(45);

/// Stops the command and everything it started (its process group).
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status()
            .await;
    }
    let _ = child.kill().await;
}

/// Runs the command within its limits, renewing the hold; the report to send.
async fn execute(
    agent: &Agent,
    at: &str,
    argv: &[String],
    env: &[(String, String)],
    c: &klaxon_domain::runbook::CommandStep,
    renew_every: Duration,
) -> Value {
    let Some((program, rest)) = argv.split_first() else {
        return json!({"error": "the step names no program"});
    };
    // Without a shell the program gets each argument as it is; with one (the step says so),
    // `sh -c SCRIPT klaxon ARGS…` keeps the arguments out of the script text as $1….
    let mut cmd = if c.shell {
        let mut s = tokio::process::Command::new("sh");
        s.arg("-c").arg(program).arg("klaxon").args(rest);
        s
    } else {
        let mut s = tokio::process::Command::new(program);
        s.args(rest);
        s
    };
    cmd.env_clear();
    for k in KEPT_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return json!({"error": format!("{program} did not start: {e}")}),
    };
    let limit = (c.output_limit as usize).min(REPORT_OUTPUT);
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let mut output = Vec::new();
    let mut truncated = false;
    let mut keep = |buf: &[u8], output: &mut Vec<u8>| {
        let room = limit.saturating_sub(output.len());
        output.extend_from_slice(&buf[..buf.len().min(room)]);
        if buf.len() > room {
            truncated = true;
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(c.timeout_secs.into());
    let mut renew = tokio::time::interval(renew_every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    renew.tick().await;
    let mut renewed = tokio::time::Instant::now();
    let (mut ob, mut eb) = (vec![0u8; 8192], vec![0u8; 8192]);
    let mut timed_out = false;
    let mut status = None;
    // After the program exits, what it left running may hold the pipes open: read on briefly.
    let mut drain_until: Option<tokio::time::Instant> = None;
    loop {
        if out.is_none() && err.is_none() && status.is_some() {
            break;
        }
        let drained = async {
            match drain_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            n = async { match out.as_mut() { Some(o) => o.read(&mut ob).await, None => std::future::pending().await } } => {
                match n { Ok(0) | Err(_) => out = None, Ok(n) => keep(&ob[..n], &mut output) }
            }
            n = async { match err.as_mut() { Some(e) => e.read(&mut eb).await, None => std::future::pending().await } } => {
                match n { Ok(0) | Err(_) => err = None, Ok(n) => keep(&eb[..n], &mut output) }
            }
            s = child.wait(), if status.is_none() => {
                status = Some(s.ok());
                drain_until = Some(tokio::time::Instant::now() + Duration::from_secs(1));
            }
            _ = drained => break,
            _ = tokio::time::sleep_until(deadline), if status.is_none() => {
                timed_out = true;
                stop(&mut child).await;
                break;
            }
            _ = renew.tick(), if status.is_none() => {
                let path = format!("{at}/renew");
                let call = agent.post(&path, json!({}));
                match tokio::time::timeout(Duration::from_secs(10), call).await {
                    Ok(Ok((s, _))) if s.is_success() => renewed = tokio::time::Instant::now(),
                    Ok(Ok((s, _))) if s == StatusCode::CONFLICT || s == StatusCode::NOT_FOUND => {
                        // Aborted, or given up on: stop, and say so.
                        stop(&mut child).await;
                        eprintln!("klaxon runner: the step was stopped on the server; killed");
                        return json!({"error": "stopped: the run was aborted, or the step given up on, on the server"});
                    }
                    Ok(Ok((s, _))) => eprintln!("klaxon runner: renewing got {s}"),
                    Ok(Err(e)) => {
                        // A refused token (the runner was removed) ends everything.
                        eprintln!("klaxon runner: could not renew: {e:#}");
                        if e.to_string().contains("refused the runner token") {
                            stop(&mut child).await;
                            return json!({"error": "stopped: the runner's token was refused"});
                        }
                    }
                    Err(_) => eprintln!("klaxon runner: renewing took over 10 s"),
                }
                if renewed.elapsed() > HOLD {
                    stop(&mut child).await;
                    eprintln!("klaxon runner: no renewal taken for {} s; killed", HOLD.as_secs());
                    return json!({"error": "stopped: the runner lost touch with Klaxon while it ran"});
                }
            }
        }
    }
    let code = status.flatten().and_then(|s| s.code());
    eprintln!(
        "klaxon runner: ended: exit code {}{}",
        code.map_or("none".to_owned(), |c| c.to_string()),
        if timed_out { " (time limit)" } else { "" }
    );
    json!({
        "exit_code": code,
        "output": String::from_utf8_lossy(&output),
        "truncated": truncated,
        "timed_out": timed_out,
    })
}
