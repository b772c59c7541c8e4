//! Form bodies (`application/x-www-form-urlencoded`) and the error summary every form shows.

use bytes::Bytes;
use http::Request;
use maud::{Markup, html};

use super::PageCtx;
use crate::api::Query;

/// The largest form body a page accepts; anything longer is refused before parsing.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// A parsed form; field access as for query strings.
pub type Form = Query;

/// Parses a form body; `None` when it is too large or not UTF-8.
pub fn parse(req: &Request<Bytes>) -> Option<Form> {
    if req.body().len() > MAX_FORM_BYTES {
        return None;
    }
    let s = std::str::from_utf8(req.body()).ok()?;
    Some(Query::parse(Some(s)))
}

/// One problem with what was typed: the field's `id` (for the link) and the catalogue key of the
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// The GOV.UK-style error summary at the top of a form, linking to each field.
pub fn error_summary(cx: &PageCtx, errors: &[FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" tabindex="-1" {
                h2 { (cx.t("form.there_is_a_problem")) }
                ul {
                    @for e in errors {
                        li { a href={ "#" (e.field) } { (e.message) } }
                    }
                }
            }
        }
    }
}

/// The message for `field`, shown above the input, if any.
pub fn field_error<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors.iter().find(|e| e.field == field).map(|e| e.message.as_str())
}
