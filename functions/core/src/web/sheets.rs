//! Printable voucher sheets: A4 (50 per page, 5 x 10) and 58 / 80 mm thermal rolls, as
//! print-ready HTML with a QR code per voucher (an inline SVG drawn on the server) that opens the
//! captive portal with the code filled in (`/h/{realm}?code=...`). Each voucher carries the
//! tenant's name, the package, its price and validity. Codes are derived again from the batch on
//! every call, so any batch can be reprinted from the key.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use qrcode::{Color, EcLevel, QrCode};

use super::fmt;

/// Vouchers per A4 page.
pub const A4_PER_PAGE: usize = 50;

/// The paper a sheet is laid out for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    A4,
    Thermal58,
    Thermal80,
}

impl Layout {
    /// `a4`, `58` or `80`.
    pub fn parse(s: &str) -> Option<Layout> {
        match s {
            "a4" | "A4" => Some(Layout::A4),
            "58" | "58mm" => Some(Layout::Thermal58),
            "80" | "80mm" => Some(Layout::Thermal80),
            _ => None,
        }
    }
}

/// What is printed: the batch's facts and its codes (serial, code).
#[derive(Debug, Clone)]
pub struct Sheet<'a> {
    pub tenant_name: &'a str,
    /// Absolute portal address without the query, e.g. `https://pay.example.net/h/acme`.
    pub portal_url: &'a str,
    pub batch_id: u32,
    pub package: &'a str,
    /// "1 h · 2 Mbps" and the like.
    pub gives: &'a str,
    pub price_cents: i64,
    /// "Use by 3 Jan 2027", or empty.
    pub validity: &'a str,
    pub agent: &'a str,
    pub codes: &'a [(u32, String)],
}

/// The QR code of `text` as a compact inline SVG (one path, runs of dark modules merged).
pub fn qr_svg(text: &str, size_mm: f32) -> String {
    let Ok(code) = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) else {
        return String::new();
    };
    let w = code.width();
    let colors = code.to_colors();
    let quiet = 2;
    let mut d = String::with_capacity(w * w / 2);
    for y in 0..w {
        let mut x = 0;
        while x < w {
            if colors[y * w + x] == Color::Dark {
                let start = x;
                while x < w && colors[y * w + x] == Color::Dark {
                    x += 1;
                }
                d.push_str(&format!("M{} {}h{}v1H{}z", start + quiet, y + quiet, x - start, start + quiet));
            } else {
                x += 1;
            }
        }
    }
    let n = w + 2 * quiet;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {n} {n}" width="{size_mm}mm" height="{size_mm}mm" shape-rendering="crispEdges" role="img" aria-label="QR"><path fill="#fff" d="M0 0h{n}v{n}H0z"/><path d="{d}"/></svg>"##
    )
}

const CSS_COMMON: &str = "*{box-sizing:border-box}body{margin:0;font:10pt/1.25 system-ui,Arial,sans-serif;color:#000;background:#fff}\
.v{border:1px dashed #888;padding:2mm;display:flex;gap:2mm;align-items:center;overflow:hidden;break-inside:avoid}\
.v .t{flex:1;min-width:0}.v .n{font-weight:700;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}\
.v .c{font:700 11pt/1.2 monospace;letter-spacing:.04em;white-space:nowrap}.v .s{font-size:7pt;color:#333}\
.v .p{font-weight:700}@media screen{body{background:#eee}.page,.roll{background:#fff;margin:8px auto}}";

const CSS_A4: &str = "@page{size:A4;margin:6mm}.page{width:198mm;display:grid;grid-template-columns:repeat(5,1fr);\
grid-auto-rows:28.5mm;break-after:page}.page:last-child{break-after:auto}.v{font-size:7pt}.v .c{font-size:8.5pt}\
.v{flex-direction:column;justify-content:center;gap:.5mm;text-align:center}";

const CSS_58: &str =
    "@page{size:58mm auto;margin:2mm}.roll{width:54mm}.v{flex-direction:column;text-align:center;border-width:0 0 1px}";
const CSS_80: &str = "@page{size:80mm auto;margin:2mm}.roll{width:76mm}.v{border-width:0 0 1px}";

fn voucher(s: &Sheet<'_>, code: &str, qr_mm: f32) -> Markup {
    let url = format!("{}?code={}", s.portal_url, code);
    html! {
        div.v {
            (PreEscaped(qr_svg(&url, qr_mm)))
            div.t {
                div.n { (s.tenant_name) }
                div { (s.package) " · " span.p { (fmt::kes(s.price_cents)) } }
                div.c { (code) }
                div.s { (s.gives) @if !s.validity.is_empty() { " · " (s.validity) } }
            }
        }
    }
}

/// The sheet as a complete HTML document, ready to print.
pub fn render(layout: Layout, s: &Sheet<'_>) -> String {
    let (css, title) = match layout {
        Layout::A4 => (CSS_A4, "A4"),
        Layout::Thermal58 => (CSS_58, "58 mm"),
        Layout::Thermal80 => (CSS_80, "80 mm"),
    };
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (s.tenant_name) " · batch " (s.batch_id) " · " (title) }
                style { (PreEscaped(CSS_COMMON)) (PreEscaped(css)) }
            }
            body {
                @match layout {
                    Layout::A4 => {
                        @for page in s.codes.chunks(A4_PER_PAGE) {
                            div.page {
                                @for (_, code) in page { (voucher(s, code, 14.0)) }
                            }
                        }
                    }
                    Layout::Thermal58 => {
                        div.roll { @for (_, code) in s.codes { (voucher(s, code, 30.0)) } }
                    }
                    Layout::Thermal80 => {
                        div.roll { @for (_, code) in s.codes { (voucher(s, code, 24.0)) } }
                    }
                }
            }
        }
    };
    doc.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(codes: &[(u32, String)]) -> Sheet<'_> {
        Sheet {
            tenant_name: "Acme <Wi-Fi>",
            portal_url: "https://pay.example.net/h/acme",
            batch_id: 7,
            package: "1 hour",
            gives: "1 h · 2 Mbps",
            price_cents: 2000,
            validity: "Use by 3 Jan 2027",
            agent: "Mama Mboga",
            codes,
        }
    }

    fn codes(n: u32) -> Vec<(u32, String)> {
        (0..n).map(|i| (i, format!("ABCD-EFGH-{:04}", i))).collect()
    }

    #[test]
    fn a4_puts_fifty_vouchers_on_each_page_with_price_package_and_validity() {
        let c = codes(120);
        let h = render(Layout::A4, &sheet(&c));
        assert_eq!(h.matches(r#"<div class="page">"#).count(), 3, "120 codes = 50 + 50 + 20");
        assert_eq!(h.matches(r#"<div class="v">"#).count(), 120);
        assert_eq!(h.matches("<svg").count(), 120, "one QR per voucher");
        assert!(h.contains("ABCD-EFGH-0119") && h.contains("KES 20") && h.contains("Use by 3 Jan 2027"));
        assert!(h.contains("Acme &lt;Wi-Fi&gt;"), "the tenant's name is escaped");
        assert!(h.contains("size:A4"));
    }

    #[test]
    fn thermal_layouts_are_sized_for_the_roll() {
        let c = codes(3);
        assert!(render(Layout::Thermal58, &sheet(&c)).contains("size:58mm auto"));
        assert!(render(Layout::Thermal80, &sheet(&c)).contains("size:80mm auto"));
        assert_eq!(Layout::parse("58"), Some(Layout::Thermal58));
        assert_eq!(Layout::parse("letter"), None);
    }

    #[test]
    fn qr_svg_encodes_the_portal_url_as_a_square_of_modules() {
        let svg = qr_svg("https://pay.example.net/h/acme?code=ABCD-EFGH-JKMN", 20.0);
        assert!(svg.starts_with("<svg") && svg.contains("viewBox=\"0 0 ") && svg.contains("M2 2h7"), "{svg}");
        // Same text, same code; another text, another code.
        assert_eq!(svg, qr_svg("https://pay.example.net/h/acme?code=ABCD-EFGH-JKMN", 20.0));
        assert_ne!(svg, qr_svg("https://pay.example.net/h/acme?code=ABCD-EFGH-JKMP", 20.0));
    }
}
