//! Who may do what: roles, and the parsed forms of user input about people and credentials.
use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Invalid;
use crate::incident::Refusal;

/// What a user or API token may do. Each role includes everything of the roles below it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Acknowledges, resolves and runs incidents.
    Responder,
    /// Manages users, tokens and configuration.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Responder, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// Whether this role is enough for something that needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Invalid::new("role", "must be one of: admin, responder, viewer"))
    }
}

/// An e-mail address, trimmed and lower-cased; also the login name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_lowercase();
        let bad = |reason: &str| Err(Invalid::new("email", reason));
        if s.is_empty() {
            return bad("must not be empty");
        }
        if s.len() > 254 {
            return bad("must be at most 254 characters");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return bad("must look like name@example.com");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return bad("must look like name@example.com");
        }
        let domain_ok = !domain.is_empty()
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !domain_ok {
            return bad("has an invalid domain");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("must not contain spaces or control characters");
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a trimmed, non-empty, single-line piece of text of at most `max` characters.
fn short_text(raw: &str, field: &str, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(Invalid::new(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// A person's name as shown to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        short_text(raw, "name", 100).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The label of an API token, so its owner knows which script uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        short_text(raw, "name", 100).map(Self)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password that meets the policy (OWASP ASVS 2.1: length, not composition rules).
/// Deliberately has no `Debug` that shows it, and no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(Invalid::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        if let Some(why) = too_easy(raw) {
            return Err(Invalid::new("password", why));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Why a long-enough password is still easy to guess, or `None`. The estimator knows the
/// passwords most used in public breaches, common words and names, keyboard rows, repeats,
/// sequences and dates, and how they are combined (ASVS 2.1.7). A password it expects to need
/// fewer than 10^8 guesses (a score below 3 of 4) is refused.
fn too_easy(raw: &str) -> Option<String> {
    use zxcvbn::feedback::Warning;
    let estimate = zxcvbn::zxcvbn(raw, &[]);
    if u8::from(estimate.score()) >= 3 {
        return None;
    }
    let why = match estimate.feedback().and_then(|f| f.warning()) {
        Some(Warning::ThisIsATop10Password | Warning::ThisIsATop100Password) => {
            "is one of the most used passwords"
        }
        Some(Warning::ThisIsACommonPassword) => "is a commonly used password, found in breaches",
        Some(Warning::ThisIsSimilarToACommonlyUsedPassword) => {
            "is a commonly used password with small changes, found in breaches"
        }
        Some(Warning::RepeatsLikeAaaAreEasyToGuess)
        | Some(Warning::RepeatsLikeAbcAbcAreOnlySlightlyHarderToGuess) => {
            "repeats the same characters, which is easy to guess"
        }
        Some(Warning::StraightRowsOfKeysAreEasyToGuess)
        | Some(Warning::ShortKeyboardPatternsAreEasyToGuess) => {
            "follows the keyboard, which is easy to guess"
        }
        Some(Warning::SequencesLikeAbcAreEasyToGuess) => {
            "is a sequence (like abc or 6543), which is easy to guess"
        }
        Some(Warning::RecentYearsAreEasyToGuess | Warning::DatesAreOftenEasyToGuess) => {
            "leans on a date or a year, which is easy to guess"
        }
        Some(
            Warning::AWordByItselfIsEasyToGuess
            | Warning::NamesAndSurnamesByThemselvesAreEasyToGuess
            | Warning::CommonNamesAndSurnamesAreEasyToGuess,
        ) => "is a common word or name, which is easy to guess",
        None => "is too easy to guess",
    };
    Some(format!(
        "{why}; a few unrelated words together make a strong password that is easy to remember"
    ))
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// What an admin changes about a user; a field left `None` stays as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub name: Option<DisplayName>,
    pub email: Option<EmailAddress>,
    pub role: Option<Role>,
    /// `Some(false)` deactivates: no login, no tokens, no pages; `Some(true)` reactivates.
    pub active: Option<bool>,
    /// A canonical IANA zone name (see `clock::zone_name`).
    pub time_zone: Option<String>,
}

/// Where a user stands when a change to them is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStanding {
    pub role: Role,
    pub active: bool,
    /// Active admins other than this user.
    pub other_admins: u64,
    /// What would page this user, by name ("schedule Primary"): a deactivated user there
    /// would leave a hole in someone's on-call.
    pub duties: Vec<String>,
    /// The person making the change is this user.
    pub by_self: bool,
}

/// Decides whether `patch` may be applied: nobody locks the organisation out of its last
/// admin, deactivates themselves, or deactivates someone who is still relied on to be paged.
pub fn check_user_change(s: &UserStanding, patch: &UserPatch) -> Result<(), Refusal> {
    let deactivating = s.active && patch.active == Some(false);
    if deactivating && s.by_self {
        return Err(Refusal::Forbidden("you cannot deactivate yourself".into()));
    }
    if s.active && s.role == Role::Admin && s.other_admins == 0 {
        if patch.role.is_some_and(|r| r != Role::Admin) {
            return Err(Refusal::conflict(
                "role",
                "belongs to the last active admin; make someone else an admin first",
            ));
        }
        if deactivating {
            return Err(Refusal::conflict(
                "active",
                "this is the last active admin; make someone else an admin first",
            ));
        }
    }
    if deactivating && !s.duties.is_empty() {
        return Err(Refusal::conflict(
            "active",
            format!(
                "this user is still paged by {}; take them off first",
                s.duties.join(", ")
            ),
        ));
    }
    Ok(())
}

/// How long a web session lives: an absolute limit and an idle limit (ASVS 3.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub absolute: SignedDuration,
    pub idle: SignedDuration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            absolute: SignedDuration::from_hours(12),
            idle: SignedDuration::from_mins(30),
        }
    }
}

impl SessionPolicy {
    /// A session created at `created` and last used at `last_seen` is still valid at `now`.
    pub fn is_live(&self, created: Timestamp, last_seen: Timestamp, now: Timestamp) -> bool {
        now.duration_since(created) < self.absolute && now.duration_since(last_seen) < self.idle
    }
}

/// Failed password checks allowed per window before further attempts are refused. Counting
/// failures (not attempts) keeps a user who types right from being locked out by someone
/// else's guessing only up to the window's end; and the tight limit is per account *and* client
/// address, so a flood from one address locks that address out of the account, not the owner
/// elsewhere (ASVS 2.2.1). The account-wide limit is much higher and stops a guesser spread over
/// many addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub window: SignedDuration,
    pub per_account_and_address: u64,
    pub per_account: u64,
    pub per_address: u64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        // ASVS 2.2.1 allows at most 100 failures an hour per account: 25 per 15 minutes.
        Self {
            window: SignedDuration::from_mins(15),
            per_account_and_address: 10,
            per_account: 25,
            per_address: 50,
        }
    }
}

/// Failures counted so far in the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub account_and_address: u64,
    pub account: u64,
    pub address: u64,
}

impl LoginThrottle {
    /// Start of the window that counts at `now`.
    pub fn since(&self, now: Timestamp) -> Timestamp {
        now.saturating_sub(self.window).unwrap_or(now)
    }

    pub fn blocked(&self, f: Failures) -> bool {
        f.account_and_address >= self.per_account_and_address
            || f.account >= self.per_account
            || f.address >= self.per_address
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_and_patterned_passwords_are_refused_with_a_reason() {
        for (weak, why) in [
            ("password1234", "commonly used"),
            ("            ", "repeats"),
            ("aaaaaaaaaaaaaaaa", "repeats"),
            ("qwertyuiopasdf", "breaches"),
            ("123456789012", "sequence"),
            ("iloveyou1234", "commonly used"),
            ("Password1234", "commonly used"),
        ] {
            let e = NewPassword::parse(weak).expect_err(weak);
            assert_eq!(e.field, "password");
            assert!(e.reason.contains(why), "{weak:?}: {}", e.reason);
        }
        for strong in [
            "correct horse battery",
            "correct horse battery staple",
            "my own long password",
            "a much longer passphrase",
            "temporary password 1",
            "Tr0ub4dor&3-velvet-kiwi",
        ] {
            assert!(NewPassword::parse(strong).is_ok(), "{strong:?} is refused");
        }
    }

    #[test]
    fn roles_are_ordered_by_power() {
        assert!(Role::Admin.allows(Role::Responder));
        assert!(Role::Responder.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!(!Role::Responder.allows(Role::Admin));
        assert_eq!("responder".parse::<Role>().unwrap(), Role::Responder);
        assert_eq!("root".parse::<Role>().unwrap_err().field, "role");
    }

    #[test]
    fn email_is_normalised_and_checked() {
        assert_eq!(
            EmailAddress::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@exa mple.com",
            "ada@-x.com",
            "a@b..c",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert_eq!(err.field, "email", "{bad}");
        }
    }

    #[test]
    fn password_policy_is_length_only() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("correct horse battery").is_ok());
        assert!(NewPassword::parse(&"x".repeat(129)).is_err());
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse battery").unwrap()),
            "NewPassword(***)"
        );
    }

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let p = SessionPolicy::default();
        let t0: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let at = |mins: i64| t0.checked_add(SignedDuration::from_mins(mins)).unwrap();
        assert!(p.is_live(t0, at(0), at(29)));
        assert!(!p.is_live(t0, at(0), at(30)));
        assert!(p.is_live(t0, at(700), at(719)));
        assert!(!p.is_live(t0, at(719), at(720)));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(DisplayName::parse("   ").is_err());
        assert!(TokenName::parse(&"n".repeat(101)).is_err());
        assert!(TokenName::parse("ci\u{7}").is_err());
    }

    fn standing(role: Role, other_admins: u64) -> UserStanding {
        UserStanding {
            role,
            active: true,
            other_admins,
            duties: vec![],
            by_self: false,
        }
    }

    #[test]
    fn the_last_admin_stays_an_active_admin() {
        let demote = UserPatch {
            role: Some(Role::Responder),
            ..UserPatch::default()
        };
        let deactivate = UserPatch {
            active: Some(false),
            ..UserPatch::default()
        };
        let last = standing(Role::Admin, 0);
        assert!(
            matches!(check_user_change(&last, &demote), Err(Refusal::Conflict { field, .. }) if field == "role")
        );
        assert!(
            matches!(check_user_change(&last, &deactivate), Err(Refusal::Conflict { field, .. }) if field == "active")
        );
        // Renaming the last admin, or keeping the role, is fine.
        let keep = UserPatch {
            role: Some(Role::Admin),
            name: Some(DisplayName::parse("Root").unwrap()),
            ..UserPatch::default()
        };
        assert_eq!(check_user_change(&last, &keep), Ok(()));
        // With another admin both are allowed.
        assert_eq!(
            check_user_change(&standing(Role::Admin, 1), &demote),
            Ok(())
        );
        assert_eq!(
            check_user_change(&standing(Role::Admin, 1), &deactivate),
            Ok(())
        );
        // A deactivated admin is not counted on: changing them locks nobody out.
        let inactive = UserStanding {
            active: false,
            ..standing(Role::Admin, 0)
        };
        assert_eq!(check_user_change(&inactive, &demote), Ok(()));
    }

    #[test]
    fn nobody_deactivates_themselves_or_someone_on_call() {
        let deactivate = UserPatch {
            active: Some(false),
            ..UserPatch::default()
        };
        let me = UserStanding {
            by_self: true,
            ..standing(Role::Admin, 3)
        };
        assert!(matches!(
            check_user_change(&me, &deactivate),
            Err(Refusal::Forbidden(_))
        ));
        let on_call = UserStanding {
            duties: vec!["schedule Primary".into(), "escalation policy Web".into()],
            ..standing(Role::Responder, 1)
        };
        match check_user_change(&on_call, &deactivate) {
            Err(Refusal::Conflict { field, reason }) => {
                assert_eq!(field, "active");
                assert!(
                    reason.contains("schedule Primary, escalation policy Web"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Reactivating, or changing an on-call user's name, is fine.
        let back = UserPatch {
            active: Some(true),
            ..UserPatch::default()
        };
        assert_eq!(check_user_change(&on_call, &back), Ok(()));
    }
}
