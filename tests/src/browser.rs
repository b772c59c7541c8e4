//! A browser without JavaScript for the page suites: a cookie jar that follows no redirect by
//! itself (every 303 is asserted by the test), and the one reader of form fields they share.

use std::collections::BTreeMap;
use std::time::Duration;

pub struct Browser {
    pub http: reqwest::Client,
    /// Cookies by name, as the last `Set-Cookie` for each left them (a cleared one is removed).
    pub cookies: BTreeMap<String, String>,
}

/// What a page answered.
pub struct Got {
    pub status: u16,
    pub location: String,
    pub csp: String,
    pub body: String,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        Browser { http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    /// Reads an answer to a request made through `http` (cookies kept, body read).
    pub async fn take(&mut self, r: reqwest::Response) -> Got {
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or("");
            let pair = v.split(';').next().unwrap_or("");
            if let Some((k, val)) = pair.split_once('=') {
                if val.is_empty() || v.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), val.to_owned());
                }
            }
        }
        let h = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let (location, csp) = (h("location"), h("content-security-policy"));
        let status = r.status().as_u16();
        Got { status, location, csp, body: r.text().await.unwrap_or_default() }
    }

    pub async fn get(&mut self, url: &str) -> Got {
        let r = self.http.get(url).header("cookie", self.cookie_header()).send().await.expect("GET");
        self.take(r).await
    }

    pub async fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Got {
        let r = self.http.post(url).header("cookie", self.cookie_header()).form(form).send().await.expect("POST");
        self.take(r).await
    }
}

/// The value of `<input name="{name}" value="...">` in a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!(r#"name="{name}" value=""#))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}
