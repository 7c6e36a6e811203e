//! When an X.509 certificate expires, read from its DER bytes.
//!
//! The HTTP client hands over the server's certificate as DER; no crate in the build reads
//! X.509, and only one field is wanted, so this walks the few DER elements in front of it:
//! `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber,
//! signature, issuer, validity SEQUENCE { notBefore, notAfter }, … }, … }` (RFC 5280 §4.1).
use jiff::Timestamp;

/// One DER element: its tag, its contents, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// The certificate's `notAfter`, or `None` when the bytes are not a certificate.
pub fn not_after(der: &[u8]) -> Option<Timestamp> {
    let (tag, cert, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] EXPLICIT version, present from v2 on.
    if rest.first() == Some(&0xa0) {
        rest = element(rest)?.2;
    }
    for _ in 0..3 {
        rest = element(rest)?.2; // serialNumber, signature, issuer
    }
    let (tag, validity, _) = element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    let text = std::str::from_utf8(time).ok()?;
    let text = text.strip_suffix('Z')?;
    let full = match tag {
        // YYMMDDHHMMSS: 50–99 are 19xx, 00–49 are 20xx (RFC 5280 §4.1.2.5.1).
        UTC_TIME if text.len() == 12 => {
            let yy: u32 = text[..2].parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        GENERALIZED_TIME if text.len() == 14 => text.to_owned(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    );
    iso.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if body.len() < 0x80 {
            out.push(body.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(body);
        out
    }

    fn cert(version: bool, not_after: (u8, &str), issuer_len: usize) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(tlv(0xa0, &tlv(0x02, &[2])));
        }
        tbs.extend(tlv(0x02, &[0x01, 0x23]));
        tbs.extend(tlv(SEQUENCE, &tlv(0x06, &[0x2a, 0x86])));
        tbs.extend(tlv(SEQUENCE, &vec![0x41; issuer_len]));
        let mut validity = tlv(UTC_TIME, b"260101000000Z");
        validity.extend(tlv(not_after.0, not_after.1.as_bytes()));
        tbs.extend(tlv(SEQUENCE, &validity));
        tbs.extend(tlv(SEQUENCE, b"subject"));
        let mut c = tlv(SEQUENCE, &tbs);
        c.extend(tlv(SEQUENCE, b"sigalg"));
        tlv(SEQUENCE, &c)
    }

    #[test]
    fn reads_not_after_in_both_time_forms() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let c = cert(true, (UTC_TIME, "270315120000Z"), 10);
        assert_eq!(not_after(&c), Some(t("2027-03-15T12:00:00Z")));
        // A long issuer (long-form lengths) and no version field.
        let c = cert(false, (GENERALIZED_TIME, "20510101000001Z"), 300);
        assert_eq!(not_after(&c), Some(t("2051-01-01T00:00:01Z")));
        let c = cert(true, (UTC_TIME, "991231235959Z"), 3);
        assert_eq!(not_after(&c), Some(t("1999-12-31T23:59:59Z")));
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(b"\x30\x05abc"), None);
        let mut c = cert(true, (UTC_TIME, "270315120000Z"), 10);
        c.truncate(c.len() - 20);
        assert_eq!(not_after(&c), None);
        assert_eq!(not_after(&cert(true, (UTC_TIME, "2703151200Z"), 1)), None);
    }
}
