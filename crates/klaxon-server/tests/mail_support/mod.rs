//! A mail server on loopback that records every message, for tests of e-mail pages
//! (`mod mail_support;`).
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One message as the mail server got it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message (headers and body) as sent, dot-unstuffed.
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        head.split("\r\n")
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    }

    /// The body, with quoted-printable undone when the message used it.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        if self.header("Content-Transfer-Encoding").as_deref() != Some("quoted-printable") {
            return body.to_owned();
        }
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    }
}

/// How the mail server answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SmtpMode {
    Accept,
    /// 451 after the message: "try again later".
    DeferMessage,
    /// 550 at RCPT: no such mailbox.
    RejectRecipient,
    /// Connections are taken but never greeted.
    SilentGreeting,
    /// The message is taken, and never confirmed.
    SilentAfterMessage,
}

/// A mail server on 127.0.0.1 speaking just enough SMTP: greeting, EHLO/HELO, MAIL FROM,
/// RCPT TO, DATA … ".", RSET, NOOP, QUIT.
#[derive(Clone)]
pub struct MockSmtp {
    pub port: u16,
    got: Arc<Mutex<Vec<Mail>>>,
    mode: Arc<Mutex<SmtpMode>>,
}

impl MockSmtp {
    pub async fn spawn() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(SmtpMode::Accept));
        let (g, m) = (got.clone(), mode.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(session(stream, g.clone(), m.clone()));
            }
        });
        Self { port, got, mode }
    }

    pub fn set(&self, mode: SmtpMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.got.lock().unwrap().clone()
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    got: Arc<Mutex<Vec<Mail>>>,
    mode: Arc<Mutex<SmtpMode>>,
) {
    if *mode.lock().unwrap() == SmtpMode::SilentGreeting {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        return;
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let say = async |w: &mut tokio::net::tcp::OwnedWriteHalf, s: &str| {
        w.write_all(s.as_bytes()).await.unwrap();
    };
    say(&mut write, "220 mock.test ESMTP ready\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        let mode = *mode.lock().unwrap();
        if upper.starts_with("EHLO") {
            say(
                &mut write,
                "250-mock.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
            )
            .await;
        } else if upper.starts_with("HELO") {
            say(&mut write, "250 mock.test\r\n").await;
        } else if upper.starts_with("MAIL FROM:") {
            from = angle(&cmd);
            to.clear();
            say(&mut write, "250 OK\r\n").await;
        } else if upper.starts_with("RCPT TO:") {
            if mode == SmtpMode::RejectRecipient {
                say(&mut write, "550 5.1.1 no such mailbox\r\n").await;
            } else {
                to.push(angle(&cmd));
                say(&mut write, "250 OK\r\n").await;
            }
        } else if upper == "DATA" {
            say(&mut write, "354 end with <CRLF>.<CRLF>\r\n").await;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            if mode == SmtpMode::DeferMessage {
                say(&mut write, "451 4.3.0 try again later\r\n").await;
                continue;
            }
            got.lock().unwrap().push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            if mode == SmtpMode::SilentAfterMessage {
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                return;
            }
            say(&mut write, "250 2.0.0 queued\r\n").await;
        } else if upper == "RSET" || upper == "NOOP" {
            say(&mut write, "250 OK\r\n").await;
        } else if upper == "QUIT" {
            say(&mut write, "221 bye\r\n").await;
            return;
        } else {
            say(&mut write, "502 5.5.2 not implemented\r\n").await;
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn angle(cmd: &str) -> String {
    let start = cmd.find('<').unwrap() + 1;
    let end = cmd[start..].find('>').unwrap() + start;
    cmd[start..end].to_owned()
}
