//! One message catalogue for every page, in English and Swahili. Templates use keys
//! (`cx.t("portal.balance")`), never sentences. Each area keeps its messages in its own file
//! (`common`, `captive`, `portal`, `console`), each a list sorted by key; the tests check the
//! lists are sorted, unique across files, translated, and that both languages use the same
//! `{placeholders}`.

mod captive;
mod common;
mod console;
mod console_sms;
mod portal;
mod sms;

/// A page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Sw,
}

/// `(key, English, Swahili)`.
pub type Message = (&'static str, &'static str, &'static str);

const CATALOGUES: &[&[Message]] =
    &[common::MESSAGES, captive::MESSAGES, portal::MESSAGES, console::MESSAGES, console_sms::MESSAGES, sms::MESSAGES];

impl Lang {
    /// `en` / `sw` (also `en-KE`, `sw-KE`, any case).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "sw" => Some(Lang::Sw),
            _ => None,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Sw => "sw",
        }
    }

    /// The other language (for the switch on every page).
    pub fn other(self) -> Lang {
        match self {
            Lang::En => Lang::Sw,
            Lang::Sw => Lang::En,
        }
    }

    /// The language's own name, as the switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Sw => "Kiswahili",
        }
    }

    /// The user's explicit choice (query `?lang=`, then cookie), else the first of `Accept-Language`
    /// we speak (by q-value), else the tenant's default.
    pub fn negotiate(
        explicit: Option<&str>,
        cookie: Option<&str>,
        accept_language: Option<&str>,
        default: Lang,
    ) -> Lang {
        if let Some(l) = explicit.and_then(Lang::from_tag).or_else(|| cookie.and_then(Lang::from_tag)) {
            return l;
        }
        let mut best: Option<(f32, Lang)> = None;
        for part in accept_language.unwrap_or("").split(',') {
            let mut it = part.split(';');
            let Some(lang) = it.next().and_then(Lang::from_tag) else { continue };
            let q =
                it.find_map(|p| p.trim().strip_prefix("q=")).and_then(|q| q.trim().parse::<f32>().ok()).unwrap_or(1.0);
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(default, |(_, l)| l)
    }

    /// The message for `key`; the key itself when it is missing (visible, never a panic).
    pub fn t(self, key: &'static str) -> &'static str {
        for cat in CATALOGUES {
            if let Ok(i) = cat.binary_search_by(|m| m.0.cmp(key)) {
                let (_, en, sw) = cat[i];
                return match self {
                    Lang::En => en,
                    Lang::Sw => sw,
                };
            }
        }
        key
    }

    /// The message for `key` with `{name}` placeholders filled in.
    pub fn tf(self, key: &'static str, args: &[(&str, &str)]) -> String {
        let mut s = self.t(key).to_owned();
        for (k, v) in args {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

/// Whether `key` is in the catalogue (for tests of templates).
pub fn has_key(key: &str) -> bool {
    CATALOGUES.iter().any(|c| c.binary_search_by(|m| m.0.cmp(key)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn placeholders(s: &str) -> BTreeSet<&str> {
        s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(k, _)| k)).collect()
    }

    #[test]
    fn catalogues_are_sorted_unique_translated_and_agree_on_placeholders() {
        let mut seen = BTreeSet::new();
        for cat in CATALOGUES {
            for w in cat.windows(2) {
                assert!(w[0].0 < w[1].0, "catalogue not sorted at {} / {}", w[0].0, w[1].0);
            }
            for (k, en, sw) in *cat {
                assert!(seen.insert(*k), "{k} is in two catalogues");
                assert!(!en.trim().is_empty() && !sw.trim().is_empty(), "{k} lacks a translation");
                assert_eq!(placeholders(en), placeholders(sw), "{k}: placeholders differ between en and sw");
            }
        }
    }

    #[test]
    fn negotiate_prefers_choice_then_cookie_then_header_then_default() {
        assert_eq!(Lang::negotiate(Some("sw"), Some("en"), Some("en"), Lang::En), Lang::Sw);
        assert_eq!(Lang::negotiate(None, Some("sw"), Some("en"), Lang::En), Lang::Sw);
        assert_eq!(Lang::negotiate(None, None, Some("fr-FR, sw-KE;q=0.8, en;q=0.5"), Lang::En), Lang::Sw);
        assert_eq!(Lang::negotiate(None, None, Some("en-GB,en;q=0.9,sw;q=0.8"), Lang::Sw), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Some("fr"), Lang::Sw), Lang::Sw);
        assert_eq!(Lang::negotiate(Some("xx"), None, None, Lang::En), Lang::En);
        assert_eq!(Lang::negotiate(None, None, Some("sw;q=0"), Lang::En), Lang::En);
    }

    #[test]
    fn t_falls_back_to_the_key_and_tf_fills_placeholders() {
        assert_eq!(Lang::En.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::En.tf("common.support_call", &[("phone", "0712 000 000")]), "Need help? Call 0712 000 000");
        assert!(has_key("common.support_call"));
    }
}
