//! The simulators' own small HTML pages (hosted checkouts, the SMS inbox).

use bytes::Bytes;

use crate::Sim;
use crate::form::esc;

pub(crate) fn html(status: u16, body: &str) -> http::Response<Bytes> {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Bytes::from(body.to_owned()))
        .unwrap_or_else(|_| http::Response::new(Bytes::new()))
}

pub(crate) fn wrap(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width,initial-scale=1\"><title>{t}</title><style>\
         body{{font:16px/1.4 system-ui,sans-serif;max-width:44rem;margin:1rem auto;padding:0 1rem;color:#222}}\
         h1{{font-size:1.2rem}} .sim{{background:#fff3cd;padding:.3rem .6rem;font-size:.85rem}}\
         label{{display:block;margin:.5rem 0}} input{{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}}\
         button{{font:inherit;padding:.6rem 1.2rem;margin:.5rem 0;background:#635bff;color:#fff;border:0;border-radius:4px}}\
         button.link{{background:none;color:#635bff;padding:0}} .amount{{font-size:1.6rem;font-weight:600}}\
         .err{{color:#b00020}} .ok{{color:#0a7d32;font-weight:600}} .hint{{font-size:.85rem;color:#555}}\
         table{{border-collapse:collapse;width:100%;font-size:.9rem}} td,th{{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}}\
         td.msg{{white-space:pre-wrap}}</style></head><body><p class=sim>Simulator: no real money or messages move.</p>\
         <h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

/// Whole units with two decimals: `KES 1,000.00`.
pub(crate) fn money(minor: i64, currency: &str) -> String {
    let whole = minor / 100;
    let mut digits = whole.to_string();
    let mut i = digits.len() as i64 - 3;
    while i > 0 {
        digits.insert(i as usize, ',');
        i -= 3;
    }
    format!("{} {digits}.{:02}", currency.to_ascii_uppercase(), (minor % 100).abs())
}

pub(crate) fn index(sim: &Sim) -> String {
    let st = sim.state();
    let mut body = String::from(
        "<ul><li><a href=\"/inbox\">SMS inbox (Africa's Talking)</a></li></ul><h2>Stripe Checkout Sessions</h2><ul>",
    );
    for s in st.sessions.iter().rev().take(20) {
        body.push_str(&format!(
            "<li><a href=\"/c/pay/{0}\">{0}</a> {1} {2}</li>",
            esc(&s.id),
            money(s.amount_total, &s.currency),
            esc(&s.status)
        ));
    }
    body.push_str("</ul><h2>Paystack transactions</h2><ul>");
    for t in st.transactions.iter().rev().take(20) {
        body.push_str(&format!(
            "<li><a href=\"/checkout/{}\">{}</a> {} {}</li>",
            esc(&t.access_code),
            esc(&t.reference),
            money(t.amount, &t.currency),
            esc(&t.status)
        ));
    }
    body.push_str("</ul>");
    wrap("Provider simulators", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_groups_thousands() {
        assert_eq!(super::money(100_000, "kes"), "KES 1,000.00");
        assert_eq!(super::money(5, "KES"), "KES 0.05");
        assert_eq!(super::money(123_456_789, "KES"), "KES 1,234,567.89");
    }
}
