//! How the contact method form asks for each kind: the address box's label, input type (so a
//! phone keyboard comes up for a number, an e-mail one for an address), example and hint, and
//! the links that switch the kind without JavaScript.
use klaxon_domain::contact::ContactKind;

/// The address box of the contact method form, for one kind.
pub struct KindForm {
    pub kind: &'static str,
    /// The kind in words: "E-mail", "SMS", …
    pub name: &'static str,
    pub label: &'static str,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub placeholder: &'static str,
    pub hint: &'static str,
}

pub fn kind_form(kind: ContactKind) -> KindForm {
    let (name, label, input_type, autocomplete, placeholder, hint) = match kind {
        ContactKind::Email => (
            "E-mail",
            "E-mail address",
            "email",
            "email",
            "ada@example.com",
            "Pages arrive as e-mail with a one-click acknowledge link.",
        ),
        ContactKind::Sms => (
            "SMS",
            "Mobile number",
            "tel",
            "tel",
            "+14155550123",
            "In international form: + and the country code, then the number.",
        ),
        ContactKind::Voice => (
            "Voice call",
            "Phone number",
            "tel",
            "tel",
            "+14155550123",
            "In international form: + and the country code, then the number. Klaxon calls and reads the page out.",
        ),
        ContactKind::Webhook => (
            "Webhook",
            "Webhook URL",
            "url",
            "off",
            "https://example.com/klaxon",
            "Klaxon POSTs each page as JSON, signed with a secret shown once when you add it.",
        ),
        ContactKind::Slack => (
            "Slack",
            "Slack incoming-webhook URL",
            "url",
            "off",
            "https://hooks.slack.com/services/…",
            "From a Slack app's Incoming Webhooks page.",
        ),
        ContactKind::Teams => (
            "Microsoft Teams",
            "Microsoft Teams incoming-webhook URL",
            "url",
            "off",
            "https://….webhook.office.com/…",
            "From the channel's Workflows or Incoming Webhook connector.",
        ),
        ContactKind::Mattermost => (
            "Mattermost",
            "Mattermost incoming-webhook URL",
            "url",
            "off",
            "https://mattermost.example.com/hooks/…",
            "From Mattermost's Integrations → Incoming Webhooks.",
        ),
    };
    KindForm {
        kind: kind.as_str(),
        name,
        label,
        input_type,
        autocomplete,
        placeholder,
        hint,
    }
}

/// A kind the add form can switch to: a link, so the form's box changes without JavaScript.
pub struct KindChoice {
    pub name: &'static str,
    pub href: String,
    pub current: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_asks_for_its_own_address() {
        assert_eq!(kind_form(ContactKind::Email).input_type, "email");
        assert_eq!(kind_form(ContactKind::Email).label, "E-mail address");
        assert_eq!(kind_form(ContactKind::Sms).input_type, "tel");
        assert_eq!(kind_form(ContactKind::Voice).input_type, "tel");
        for k in [
            ContactKind::Webhook,
            ContactKind::Slack,
            ContactKind::Teams,
            ContactKind::Mattermost,
        ] {
            assert_eq!(kind_form(k).input_type, "url", "{k}");
            assert!(k.is_url());
        }
    }
}
