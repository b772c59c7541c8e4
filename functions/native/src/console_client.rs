//! A client of the consoles' sign-in forms over HTTP (the operator console's
//! `/c/{realm}/login`, the platform console's `/platform/login`): what the benchmarks and the
//! end-to-end suites sign in with. It is not the server side (that is `konnekted_core::web`).
//!
//! A sign-in is two requests: `GET` the form (a pre-session cookie and the CSRF token bound to
//! it), then `POST` it back with the fields. The client must not follow redirects: the session
//! cookie comes with the 303.

use std::fmt;

/// The full `Set-Cookie` header (attributes included) of the cookie `name`, if `r` sets it.
pub fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&prefix))
        .map(str::to_owned)
}

/// `name=value` of a `Set-Cookie` header: what a `Cookie` header sends back.
pub fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or("").to_owned()
}

/// The value of the page's hidden `csrf` field.
pub fn csrf_field(html: &str) -> Option<String> {
    const FIELD: &str = r#"name="csrf" value=""#;
    let rest = &html[html.find(FIELD)? + FIELD.len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The consoles' cookie names: the pre-session one the form sets, the session one a sign-in sets.
#[derive(Debug, Clone, Copy)]
pub struct Cookies {
    pub pre: &'static str,
    pub session: &'static str,
}

/// The operator console's (`/c/{realm}/login`).
pub const OPERATOR: Cookies = Cookies { pre: "kc_pre", session: "kc_session" };
/// The platform console's (`/platform/login`).
pub const PLATFORM: Cookies = Cookies { pre: "kp_pre", session: "kp_session" };

/// What the form's `POST` answered.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub status: u16,
    /// The session's full `Set-Cookie` header; `None` when the sign-in was refused.
    pub session: Option<String>,
}

impl SignedIn {
    /// The session's `name=value`, for a `Cookie` header.
    pub fn cookie(&self) -> Option<String> {
        self.session.as_deref().map(cookie_pair)
    }
}

#[derive(Debug)]
pub enum SignInError {
    Http(reqwest::Error),
    /// The form's `GET` did not answer 200.
    FormStatus(u16),
    /// The form set no pre-session cookie.
    NoPreSession,
    /// The form has no CSRF field.
    NoCsrf,
}

impl fmt::Display for SignInError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignInError::Http(e) => write!(f, "sign-in request: {e}"),
            SignInError::FormStatus(s) => write!(f, "the sign-in form answered {s}"),
            SignInError::NoPreSession => f.write_str("the sign-in form set no pre-session cookie"),
            SignInError::NoCsrf => f.write_str("the sign-in form has no csrf field"),
        }
    }
}

impl std::error::Error for SignInError {}

impl From<reqwest::Error> for SignInError {
    fn from(e: reqwest::Error) -> Self {
        SignInError::Http(e)
    }
}

/// Opens the sign-in form at `url` and posts `fields` back with its CSRF token.
pub async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    cookies: Cookies,
    fields: &[(&str, &str)],
) -> Result<SignedIn, SignInError> {
    let r = http.get(url).send().await?;
    if r.status() != 200 {
        return Err(SignInError::FormStatus(r.status().as_u16()));
    }
    let pre = set_cookie(&r, cookies.pre).ok_or(SignInError::NoPreSession)?;
    let csrf = csrf_field(&r.text().await?).ok_or(SignInError::NoCsrf)?;
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let r = http.post(url).header("cookie", cookie_pair(&pre)).form(&form).send().await?;
    Ok(SignedIn { status: r.status().as_u16(), session: set_cookie(&r, cookies.session) })
}

/// Signs `login` in to the operator console of `realm` at `base`.
pub async fn operator_sign_in(
    http: &reqwest::Client,
    base: &str,
    realm: &str,
    login: &str,
    password: &str,
) -> Result<SignedIn, SignInError> {
    let url = format!("{base}/c/{realm}/login");
    sign_in(http, &url, OPERATOR, &[("login", login), ("password", password)]).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_field_reads_the_hidden_value_and_none_without_one() {
        let html = r#"<form><input type="hidden" name="csrf" value="abc123"><input name="login"></form>"#;
        assert_eq!(csrf_field(html).as_deref(), Some("abc123"));
        assert_eq!(csrf_field("<form></form>"), None);
        assert_eq!(csrf_field(r#"name="csrf" value="unterminated"#), None);
    }

    #[test]
    fn cookie_pair_drops_the_attributes() {
        assert_eq!(cookie_pair("kc_session=xyz; HttpOnly; Secure; SameSite=Strict"), "kc_session=xyz");
        assert_eq!(cookie_pair("kc_pre=1"), "kc_pre=1");
    }
}
