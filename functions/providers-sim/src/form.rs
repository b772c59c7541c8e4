//! `application/x-www-form-urlencoded` bodies (Stripe's API and Africa's Talking take them).

use std::collections::BTreeMap;

/// Every `key=value` pair, decoded, in order (a key may repeat).
pub(crate) fn parse(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// The last value of each key.
pub(crate) fn map(body: &[u8]) -> BTreeMap<String, String> {
    parse(body).into_iter().collect()
}

pub(crate) fn encode(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// HTML text escaping for the hosted pages.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parse_decodes_brackets_plus_and_percent() {
        let m = map(b"line_items%5B0%5D%5Bquantity%5D=1&n=a+b%26c&to=%2B254700000001");
        assert_eq!(m["line_items[0][quantity]"], "1");
        assert_eq!(m["n"], "a b&c");
        assert_eq!(m["to"], "+254700000001");
        assert_eq!(encode(&[("a", "x y"), ("b", "+1")]), "a=x+y&b=%2B1");
    }
}
