//! Sending one e-mail over SMTP as `[smtp]` says, for every capability that mails (pages,
//! status page subscribers).
use std::time::Duration;

use klaxon_domain::contact::Delivery;

use crate::shared::config::SmtpSettings;

/// Connects to the mail server as `[smtp]` says: TLS from the start, STARTTLS (required, never
/// skipped when the server does not offer it), or plain; then logs in if a user is set.
async fn smtp_connect(
    host: &str,
    smtp: &SmtpSettings,
    timeout: Duration,
) -> Result<lettre::transport::smtp::client::AsyncSmtpConnection, lettre::transport::smtp::Error> {
    use crate::shared::config::SmtpTls;
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    let hello = ClientId::default();
    let implicit = match smtp.tls {
        SmtpTls::Tls => Some(TlsParameters::new(host.to_owned())?),
        _ => None,
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        (host, smtp.port()),
        Some(timeout),
        &hello,
        implicit,
        None,
    )
    .await?;
    if smtp.tls == SmtpTls::Starttls {
        conn.starttls(TlsParameters::new(host.to_owned())?, &hello)
            .await?;
    }
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        conn.auth(
            &[Mechanism::Plain, Mechanism::Login],
            &Credentials::new(user.clone(), password.clone()),
        )
        .await?;
    }
    Ok(conn)
}

/// Until the message itself is written, nothing can have been delivered: a failure may be
/// retried, unless the server refused for good (5xx) or the setup is wrong.
fn smtp_before_data(e: &lettre::transport::smtp::Error) -> Delivery {
    if e.is_permanent() || e.is_client() {
        Delivery::Failed(format!("the mail server refused it: {e}"))
    } else {
        Delivery::Retry(format!("the mail server did not take it: {e}"))
    }
}

/// Sends `message` in two stages: up to `DATA` (connect, TLS, login, sender, recipient) a
/// failure or timeout is retried, since nothing was handed over; once the message is written,
/// only the server's answer says whether it took it: 2xx sent, 4xx retried, 5xx failed, no
/// answer in time failed (it may have arrived, so it is not resent).
pub async fn send(
    smtp: &SmtpSettings,
    host: &str,
    message: &lettre::Message,
    wait: Duration,
) -> Delivery {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
    use lettre::transport::smtp::extension::{Extension, MailParameter};
    use tokio::time::timeout;
    let envelope = message.envelope().clone();
    let ms = wait.as_millis();
    let mut conn = match timeout(wait, smtp_connect(host, smtp, wait)).await {
        Err(_) => {
            return Delivery::Retry(format!(
                "the mail server did not answer within {ms} ms (nothing was sent)"
            ));
        }
        Ok(Err(e)) => return smtp_before_data(&e),
        Ok(Ok(c)) => c,
    };
    let utf8 = envelope
        .to()
        .iter()
        .any(|a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii())
        && conn.server_info().supports_feature(Extension::SmtpUtfEight);
    let params = if utf8 {
        vec![MailParameter::SmtpUtfEight]
    } else {
        vec![]
    };
    let handover = async {
        conn.command(Mail::new(envelope.from().cloned(), params))
            .await?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), vec![])).await?;
        }
        conn.command(Data).await
    };
    match timeout(wait, handover).await {
        Err(_) => {
            return Delivery::Retry(format!(
                "the mail server did not answer within {ms} ms (before the message was sent)"
            ));
        }
        Ok(Err(e)) => return smtp_before_data(&e),
        Ok(Ok(_)) => {}
    }
    let outcome = match timeout(wait, conn.message(&message.formatted())).await {
        Err(_) => Delivery::Failed(format!(
            "the mail server did not confirm within {ms} ms; it may or may not have taken the \
             message, so it is not resent"
        )),
        Ok(Ok(_)) => Delivery::Sent,
        Ok(Err(e)) if e.is_transient() => {
            Delivery::Retry(format!("the mail server deferred it: {e}"))
        }
        Ok(Err(e)) if e.is_permanent() => {
            Delivery::Failed(format!("the mail server refused it: {e}"))
        }
        Ok(Err(e)) => Delivery::Failed(format!("outcome unknown: {e}")),
    };
    if outcome == Delivery::Sent {
        // Polite, not needed: the message is the server's already.
        let _ = timeout(Duration::from_secs(1), conn.quit()).await;
    }
    outcome
}
