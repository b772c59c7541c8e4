//! `/__sim/...`: scripting and inspection over HTTP (for tests in other languages and by hand).

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{Method, Request, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::c2b::C2bPayBody;
use crate::config::{Outcome, Script};
use crate::sim::{Sim, json_response};

pub(crate) const PREFIX: &str = "/__sim";

fn problem(status: u16, message: &str) -> Response<Bytes> {
    json_response(status, &json!({ "error": message }))
}

/// Routes a `/__sim/...` request.
pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/');
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => json_response(200, &json!({ "ok": true })),
        (&Method::GET, ["outcome"]) => {
            let st = sim.state();
            let overrides: BTreeMap<_, _> = st.overrides.iter().collect();
            json_response(200, &json!({ "default": st.config.default_script, "overrides": overrides }))
        }
        (&Method::POST, ["outcome"]) => set_outcome(sim, req.body()),
        (&Method::DELETE, ["outcome", phone]) => {
            let removed = sim.state().overrides.remove(*phone).is_some();
            json_response(200, &json!({ "phone": phone, "removed": removed }))
        }
        (&Method::GET, ["stk"]) => json_response(200, &sim.state().stk),
        (&Method::GET, ["stk", id]) => match sim.state().stk.iter().find(|r| r.checkout_request_id == *id) {
            Some(rec) => json_response(200, rec),
            None => problem(404, "no such CheckoutRequestID"),
        },
        (&Method::GET, ["c2b"]) => {
            #[derive(Serialize)]
            struct View<'a> {
                registrations: BTreeMap<&'a String, &'a crate::C2bRegistration>,
                payments: &'a [crate::C2bPayResult],
            }
            let st = sim.state();
            json_response(
                200,
                &View { registrations: st.c2b_registrations.iter().collect(), payments: &st.c2b_payments },
            )
        }
        (&Method::POST, ["c2b", "pay"]) => {
            let body: C2bPayBody = match serde_json::from_slice(req.body()) {
                Ok(b) => b,
                Err(e) => return problem(400, &e.to_string()),
            };
            let pay = match body.into_pay() {
                Ok(p) => p,
                Err(e) => return problem(400, &e),
            };
            let result = crate::c2b::pay(sim, pay).await;
            json_response(200, &result)
        }
        (&Method::POST, ["reset"]) => {
            sim.reset();
            json_response(200, &json!({ "reset": true }))
        }
        _ => problem(404, "unknown simulator control path"),
    }
}

/// `{"phone":"2547...","outcome":"cancelled","delay_ms":200,"deliveries":1}`; without `phone` it
/// sets the default. Fields left out keep their current value.
fn set_outcome(sim: &Sim, body: &[u8]) -> Response<Bytes> {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return problem(400, "expected a JSON object"),
        Err(e) => return problem(400, &e.to_string()),
    };
    let phone = match v.get("phone") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match daraja::normalize_msisdn(s) {
            Some(p) => Some(p),
            None => return problem(400, "phone is not a Kenyan mobile number"),
        },
        Some(_) => return problem(400, "phone must be a string"),
    };
    let mut st = sim.state();
    let mut script: Script = match &phone {
        Some(p) => st.script_for(p),
        None => st.config.default_script,
    };
    match v.get("outcome") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => match Outcome::parse(s) {
            Some(o) => script.outcome = o,
            None => return problem(400, "unknown outcome"),
        },
        Some(Value::Number(n)) => match n.as_i64().and_then(|c| Outcome::parse(&c.to_string())) {
            Some(o) => script.outcome = o,
            None => return problem(400, "outcome code must be an integer"),
        },
        Some(_) => return problem(400, "outcome must be a string or a number"),
    }
    if let Some(d) = v.get("delay_ms").filter(|d| !d.is_null()) {
        match d.as_u64() {
            Some(ms) => script.delay = std::time::Duration::from_millis(ms),
            None => return problem(400, "delay_ms must be a non-negative integer"),
        }
    }
    if let Some(d) = v.get("deliveries").filter(|d| !d.is_null()) {
        match d.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) => script.deliveries = n,
            None => return problem(400, "deliveries must be a non-negative integer"),
        }
    }
    if let Some(c) = v.get("concurrent").filter(|c| !c.is_null()) {
        match c.as_bool() {
            Some(b) => script.concurrent = b,
            None => return problem(400, "concurrent must be a boolean"),
        }
    }
    match &phone {
        Some(p) => {
            st.overrides.insert(p.clone(), script);
        }
        None => st.config.default_script = script,
    }
    drop(st);
    json_response(200, &json!({ "phone": phone, "script": script }))
}
