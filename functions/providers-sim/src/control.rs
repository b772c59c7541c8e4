//! `/__sim/...`: configuration and inspection over HTTP (JSON).

use bytes::Bytes;
use http::{Method, Request, Response};
use serde::Deserialize;
use serde_json::json;

use crate::{PaystackAccount, Sim, SmsAccount, StripeAccount, json, paystack, stripe};

fn body<T: for<'de> Deserialize<'de>>(req: &Request<Bytes>) -> Result<T, Response<Bytes>> {
    serde_json::from_slice(req.body()).map_err(|e| json(400, &json!({"error": e.to_string()})))
}

pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let path = req.uri().path().trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let ok = |v: serde_json::Value| json(200, &v);
    match (req.method(), segs.as_slice()) {
        (&Method::GET, ["health"]) => ok(json!({"ok": true})),
        (&Method::GET, ["config"]) => json(200, &sim.state().config),
        (&Method::POST, ["stripe", "accounts"]) => match body::<StripeAccount>(req) {
            Ok(a) => {
                let mut st = sim.state();
                st.config.stripe.retain(|x| x.secret_key != a.secret_key);
                st.config.stripe.push(a);
                ok(json!({"ok": true}))
            }
            Err(r) => r,
        },
        (&Method::POST, ["paystack", "accounts"]) => match body::<PaystackAccount>(req) {
            Ok(a) => {
                let mut st = sim.state();
                st.config.paystack.retain(|x| x.secret_key != a.secret_key);
                st.config.paystack.push(a);
                ok(json!({"ok": true}))
            }
            Err(r) => r,
        },
        (&Method::POST, ["sms", "accounts"]) => match body::<SmsAccount>(req) {
            Ok(a) => {
                let mut st = sim.state();
                st.config.sms.retain(|x| x.username != a.username);
                st.config.sms.push(a);
                ok(json!({"ok": true}))
            }
            Err(r) => r,
        },
        (&Method::POST, ["sms", "numbers"]) => {
            #[derive(Deserialize)]
            struct N {
                number: String,
                status_code: u16,
            }
            match body::<N>(req) {
                Ok(n) => {
                    sim.state().config.number_status.insert(n.number, n.status_code);
                    ok(json!({"ok": true}))
                }
                Err(r) => r,
            }
        }
        (&Method::GET, ["stripe"]) => json(200, &sim.state().sessions),
        (&Method::GET, ["paystack"]) => json(200, &sim.state().transactions),
        (&Method::GET, ["sms"]) => {
            let st = sim.state();
            json(200, &json!({"messages": st.messages, "reports": st.reports}))
        }
        (&Method::GET, ["deliveries"]) => json(200, &sim.state().deliveries),
        (&Method::POST, ["stripe", "sessions", id, "pay"]) => {
            match stripe::pay(sim, id, "4242424242424242", "payer@example.com") {
                Ok(s) => json(200, &s),
                Err(e) => json(409, &json!({"error": e})),
            }
        }
        (&Method::POST, ["stripe", "sessions", id, "dispute"]) => {
            #[derive(Deserialize, Default)]
            struct D {
                reason: Option<String>,
            }
            let d: D = if req.body().is_empty() {
                D::default()
            } else {
                match body(req) {
                    Ok(d) => d,
                    Err(r) => return r,
                }
            };
            match stripe::dispute(sim, id, d.reason.as_deref().unwrap_or("fraudulent")) {
                Ok(v) => json(200, &v),
                Err(e) => json(409, &json!({"error": e})),
            }
        }
        (&Method::POST, ["paystack", "transactions", reference, "pay"]) => {
            let channel = req.uri().query().and_then(|q| q.strip_prefix("channel=")).unwrap_or("card");
            match paystack::pay(sim, reference, channel, None) {
                Ok(t) => json(200, &t),
                Err(e) => json(409, &json!({"error": e})),
            }
        }
        _ => json(404, &json!({"error": "no such control route"})),
    }
}
