//! The Daraja endpoints, speaking the real wire format.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use chrono::Utc;
use daraja::wire::{
    C2bRegisterRequest, C2bRegisterResponse, C2bSimulateRequest, NumOrString, OAuthResponse, StkCallbackEnvelope,
    StkPushRequest, StkPushResponse, StkQueryRequest, StkQueryResponse,
};
use daraja::{C2bResponseType, Environment, StkTransactionType, paths};
use http::{Method, Request, Response};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::c2b::C2bPay;
use crate::sim::{Sim, bad_field, daraja_error, fresh_receipt, json_response, random_digits, random_token};
use crate::state::{AppState, C2bRegistration, StkRecord, StkState};

/// An early answer (an error body), boxed to keep `Result`s small.
type Refused = Box<Response<Bytes>>;

/// Routes one request. `None` if the path is not a Daraja path.
pub(crate) async fn route(sim: &Sim, req: &Request<Bytes>) -> Option<Response<Bytes>> {
    let path = req.uri().path();
    let post = |f: fn(&Sim, &str, &Request<Bytes>) -> Response<Bytes>| -> Response<Bytes> {
        if req.method() != Method::POST {
            return method_not_allowed();
        }
        match bearer(sim, req) {
            Ok(app) => f(sim, &app, req),
            Err(resp) => *resp,
        }
    };
    Some(match path {
        paths::OAUTH => {
            if req.method() != Method::GET {
                return Some(method_not_allowed());
            }
            oauth(sim, req)
        }
        paths::STK_PUSH => post(stk_push),
        paths::STK_QUERY => post(stk_query),
        paths::C2B_REGISTER_V1 | paths::C2B_REGISTER_V2 => post(c2b_register),
        paths::C2B_SIMULATE | "/mpesa/c2b/v1/simulate" => post(c2b_simulate),
        _ => return None,
    })
}

fn method_not_allowed() -> Response<Bytes> {
    daraja_error("405.001", "Method Not Allowed", None)
}

fn oauth(sim: &Sim, req: &Request<Bytes>) -> Response<Bytes> {
    let grant_ok = req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv == "grant_type=client_credentials"));
    if !grant_ok {
        return daraja_error("400.008.02", "Invalid grant type passed", Some(""));
    }
    let invalid_auth = || daraja_error("400.008.01", "Invalid Authentication passed", Some(""));
    let Some(basic) = header(req, http::header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Basic ").map(str::trim).map(str::to_owned))
    else {
        return invalid_auth();
    };
    let Some((key, secret)) = STANDARD
        .decode(basic)
        .ok()
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.split_once(':').map(|(k, v)| (k.to_owned(), v.to_owned())))
    else {
        return invalid_auth();
    };
    let mut st = sim.state();
    let known = st.config.apps.iter().any(|a| a.consumer_key == key && a.consumer_secret == secret);
    if !known {
        return invalid_auth();
    }
    let token = random_token();
    // A new token invalidates the app's previous one, as Daraja does.
    st.apps.insert(key, AppState { token: Some((token.clone(), Instant::now())) });
    let ttl = st.config.token_ttl_secs;
    let expires_in =
        if st.config.expires_in_as_string { NumOrString::Text(ttl.to_string()) } else { NumOrString::from(ttl) };
    drop(st);
    sim.notify();
    json_response(200, &OAuthResponse { access_token: daraja::wire::Redacted::new(token), expires_in })
}

fn header(req: &Request<Bytes>, name: http::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The consumer key whose current token the request bears.
fn bearer(sim: &Sim, req: &Request<Bytes>) -> Result<String, Refused> {
    let Some(token) = header(req, http::header::AUTHORIZATION)
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(Box::new(daraja_error("404.001.04", "Invalid Authentication Header", None)));
    };
    let st = sim.state();
    let ttl = std::time::Duration::from_secs(st.config.token_ttl_secs);
    st.apps
        .iter()
        .find_map(|(key, app)| match &app.token {
            Some((t, issued)) if t == token && issued.elapsed() < ttl => Some(key.clone()),
            _ => None,
        })
        .ok_or_else(|| Box::new(daraja_error("404.001.03", "Invalid Access Token", None)))
}

fn json_body<T: DeserializeOwned>(req: &Request<Bytes>) -> Result<T, Refused> {
    let is_json =
        header(req, http::header::CONTENT_TYPE).is_some_and(|c| c.to_ascii_lowercase().contains("application/json"));
    if !is_json {
        return Err(Box::new(daraja_error("400.002.02", "Bad Request - Invalid Content-Type", None)));
    }
    serde_json::from_slice(req.body()).map_err(|e| {
        let msg = e.to_string();
        Box::new(match msg.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
            Some(field) => bad_field(field),
            None => daraja_error("400.002.05", "Invalid request payload", None),
        })
    })
}

fn is_shortcode(s: &str) -> bool {
    (5..=7).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

fn app_may_use(sim: &Sim, app: &str, shortcode: &str) -> bool {
    let st = sim.state();
    st.config
        .apps
        .iter()
        .find(|a| a.consumer_key == app)
        .is_some_and(|a| a.shortcodes.is_empty() || a.shortcodes.iter().any(|s| s == shortcode))
}

/// Shortcode known, app allowed, `Timestamp` well-formed and `Password` right.
fn check_credentials(sim: &Sim, app: &str, shortcode: &str, timestamp: &str, password: &str) -> Result<(), Refused> {
    if !is_shortcode(shortcode) {
        return Err(Box::new(bad_field("BusinessShortCode")));
    }
    if daraja::parse_timestamp_eat(timestamp).is_none() {
        return Err(Box::new(bad_field("Timestamp")));
    }
    let passkey = sim.state().passkey(shortcode).map(str::to_owned);
    let Some(passkey) = passkey else {
        return Err(Box::new(daraja_error("500.001.1001", "Merchant does not exist", None)));
    };
    if !app_may_use(sim, app, shortcode) {
        return Err(Box::new(bad_field("BusinessShortCode")));
    }
    if daraja::stk_password(shortcode, &passkey, timestamp) != password {
        return Err(Box::new(daraja_error("500.001.1001", "Wrong credentials", None)));
    }
    Ok(())
}

fn is_http_url(url: &str) -> bool {
    url.parse::<http::Uri>().is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
}

fn stk_push(sim: &Sim, app: &str, req: &Request<Bytes>) -> Response<Bytes> {
    let body: StkPushRequest = match json_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let shortcode = body.business_short_code.to_text();
    if let Err(resp) = check_credentials(sim, app, &shortcode, &body.timestamp, body.password.expose()) {
        return *resp;
    }
    if StkTransactionType::parse(&body.transaction_type).is_none() {
        return bad_field("TransactionType");
    }
    let Some(amount_kes) = body.amount.as_u64().filter(|a| *a >= 1) else {
        return bad_field("Amount");
    };
    let party_a = body.party_a.to_text();
    if !daraja::is_valid_msisdn(&party_a) {
        return bad_field("PartyA");
    }
    let party_b = body.party_b.to_text();
    if party_b.is_empty() || !party_b.bytes().all(|b| b.is_ascii_digit()) {
        return bad_field("PartyB");
    }
    let phone = body.phone_number.to_text();
    if !daraja::is_valid_msisdn(&phone) {
        return bad_field("PhoneNumber");
    }
    if !is_http_url(&body.callback_url) {
        return bad_field("CallBackURL");
    }
    let reference_len = body.account_reference.chars().count();
    if reference_len == 0 || reference_len > 12 {
        return bad_field("AccountReference");
    }
    if body.transaction_desc.as_ref().is_some_and(|d| d.chars().count() > 13) {
        return bad_field("TransactionDesc");
    }

    let now = Utc::now();
    let mut st = sim.state();
    if st.config.lock_subscriber && st.stk.iter().any(|r| r.phone_number == phone && r.is_pending()) {
        return daraja_error(
            "500.001.1001",
            "Unable to lock subscriber, a transaction is already in process for the current subscriber",
            None,
        );
    }
    let seq = st.next_seq();
    let merchant_request_id = format!("{}-{}-{seq}", random_digits(5), random_digits(8));
    let checkout_request_id = format!("ws_CO_{}{}{seq}", daraja::timestamp_eat(now), random_digits(6));
    let script = st.script_for(&phone);
    st.stk.push(StkRecord {
        merchant_request_id: merchant_request_id.clone(),
        checkout_request_id: checkout_request_id.clone(),
        shortcode,
        transaction_type: body.transaction_type.clone(),
        amount_kes,
        party_a,
        party_b,
        phone_number: phone,
        callback_url: body.callback_url.clone(),
        account_reference: body.account_reference.clone(),
        transaction_desc: body.transaction_desc.clone(),
        created_at: now,
        script,
        state: StkState::Pending,
        deliveries: Vec::new(),
        done: false,
    });
    drop(st);
    sim.notify();
    tokio::spawn(run_stk(sim.clone(), checkout_request_id.clone()));

    let accepted = "Success. Request accepted for processing".to_owned();
    json_response(
        200,
        &StkPushResponse {
            merchant_request_id,
            checkout_request_id,
            response_code: "0".into(),
            response_description: accepted.clone(),
            customer_message: accepted,
        },
    )
}

/// Plays an STK request's script: wait, become final, deliver the callback N times.
async fn run_stk(sim: Sim, checkout_request_id: String) {
    let Some(script) = sim.state().stk_mut(&checkout_request_id).map(|r| r.script) else {
        return;
    };
    tokio::time::sleep(script.delay).await;

    let (url, body, gap, timeout) = {
        let mut st = sim.state();
        let receipt = (script.outcome.result_code() == 0).then(|| fresh_receipt(&st));
        let gap = st.config.duplicate_gap;
        let timeout = st.config.callback_timeout;
        let Some(rec) = st.stk_mut(&checkout_request_id) else {
            return;
        };
        let code = script.outcome.result_code();
        let desc = script.outcome.result_desc();
        let envelope = match &receipt {
            Some(receipt) => StkCallbackEnvelope::success(
                &rec.merchant_request_id,
                &rec.checkout_request_id,
                rec.amount_kes.saturating_mul(100),
                receipt,
                &daraja::timestamp_eat(Utc::now()),
                &rec.phone_number,
            ),
            None => StkCallbackEnvelope::failure(&rec.merchant_request_id, &rec.checkout_request_id, code, &desc),
        };
        rec.state = StkState::Completed { result_code: code, result_desc: desc, receipt };
        if script.effective_deliveries() == 0 {
            rec.done = true;
        }
        let body = Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default());
        (rec.callback_url.clone(), body, gap, timeout)
    };
    sim.notify();

    let n = script.effective_deliveries();
    if script.concurrent && n > 1 {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                let (client, url, body) = (sim.client().clone(), url.clone(), body.clone());
                tokio::spawn(async move { client.post_json(&url, body, timeout).await })
            })
            .collect();
        let mut records = Vec::with_capacity(calls.len());
        for call in calls {
            if let Ok(record) = call.await {
                records.push(record);
            }
        }
        if let Some(rec) = sim.state().stk_mut(&checkout_request_id) {
            rec.deliveries.extend(records);
            rec.done = true;
        }
        sim.notify();
        return;
    }
    for i in 0..n {
        if i > 0 {
            tokio::time::sleep(gap).await;
        }
        let record = sim.client().post_json(&url, body.clone(), timeout).await;
        tracing::debug!(checkout_request_id, status = ?record.status, error = ?record.error, "STK callback delivered");
        if let Some(rec) = sim.state().stk_mut(&checkout_request_id) {
            rec.deliveries.push(record);
            rec.done = i + 1 == n;
        }
        sim.notify();
    }
}

fn stk_query(sim: &Sim, app: &str, req: &Request<Bytes>) -> Response<Bytes> {
    let body: StkQueryRequest = match json_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let shortcode = body.business_short_code.to_text();
    if let Err(resp) = check_credentials(sim, app, &shortcode, &body.timestamp, body.password.expose()) {
        return *resp;
    }
    let mut st = sim.state();
    let Some(rec) = st.stk_mut(&body.checkout_request_id).filter(|r| r.shortcode == shortcode).map(|r| r.clone())
    else {
        return bad_field("CheckoutRequestID");
    };
    drop(st);
    match rec.state {
        StkState::Pending => {
            daraja_error("500.001.1001", "The transaction is being processed", Some(&rec.checkout_request_id))
        }
        StkState::Completed { result_code, result_desc, .. } => json_response(
            200,
            &StkQueryResponse {
                response_code: "0".into(),
                // Daraja's own spelling.
                response_description: "The service request has been accepted successsfully".into(),
                merchant_request_id: rec.merchant_request_id,
                checkout_request_id: rec.checkout_request_id,
                result_code: NumOrString::Text(result_code.to_string()),
                result_desc,
            },
        ),
    }
}

fn originator_id() -> String {
    format!("{}-{}-{}", random_digits(4), random_digits(4), random_digits(8))
}

fn c2b_register(sim: &Sim, app: &str, req: &Request<Bytes>) -> Response<Bytes> {
    let body: C2bRegisterRequest = match json_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let shortcode = body.short_code.to_text();
    if !is_shortcode(&shortcode) {
        return bad_field("ShortCode");
    }
    if sim.state().passkey(&shortcode).is_none() {
        return daraja_error("500.001.1001", "Merchant does not exist", None);
    }
    if !app_may_use(sim, app, &shortcode) {
        return bad_field("ShortCode");
    }
    if C2bResponseType::parse(&body.response_type).is_none() {
        return bad_field("ResponseType");
    }
    // The simulator is a Custom environment: http and loopback are fine, the word rules apply.
    let env = Environment::Custom(sim.base_url().to_owned());
    if daraja::check_c2b_url(&body.confirmation_url, &env).is_err() {
        return bad_field("ConfirmationURL");
    }
    if let Some(v) = &body.validation_url
        && daraja::check_c2b_url(v, &env).is_err()
    {
        return bad_field("ValidationURL");
    }
    let api_version = if req.uri().path() == paths::C2B_REGISTER_V1 { "v1" } else { "v2" };
    let mut st = sim.state();
    if st.config.c2b_register_once && st.c2b_registrations.contains_key(&shortcode) {
        return daraja_error("500.001.1001", "Urls are already registered", None);
    }
    st.c2b_registrations.insert(
        shortcode.clone(),
        C2bRegistration {
            shortcode,
            response_type: body.response_type,
            confirmation_url: body.confirmation_url,
            validation_url: body.validation_url.filter(|v| !v.is_empty()),
            api_version: api_version.into(),
        },
    );
    drop(st);
    sim.notify();
    json_response(
        200,
        &C2bRegisterResponse {
            originator_conversation_id: originator_id(),
            response_code: "0".into(),
            response_description: "Success".into(),
        },
    )
}

fn c2b_simulate(sim: &Sim, app: &str, req: &Request<Bytes>) -> Response<Bytes> {
    let body: C2bSimulateRequest = match json_body(req) {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let shortcode = body.short_code.to_text();
    if !is_shortcode(&shortcode) || !app_may_use(sim, app, &shortcode) {
        return bad_field("ShortCode");
    }
    if sim.state().passkey(&shortcode).is_none() {
        return daraja_error("500.001.1001", "Merchant does not exist", None);
    }
    let Some(command) = StkTransactionType::parse(&body.command_id) else {
        return bad_field("CommandID");
    };
    let Some(amount_kes) = body.amount.as_u64().filter(|a| *a >= 1) else {
        return bad_field("Amount");
    };
    let msisdn = body.msisdn.to_text();
    if !daraja::is_valid_msisdn(&msisdn) {
        return bad_field("Msisdn");
    }
    let pay = C2bPay {
        shortcode,
        amount_cents: amount_kes.saturating_mul(100),
        bill_ref: body.bill_ref_number.unwrap_or_default(),
        msisdn,
        first_name: "JOHN".into(),
        middle_name: String::new(),
        last_name: "DOE".into(),
        buy_goods: command == StkTransactionType::BuyGoods,
    };
    let sim2 = sim.clone();
    tokio::spawn(async move {
        crate::c2b::pay(&sim2, pay).await;
    });
    json_response(
        200,
        &C2bRegisterResponse {
            originator_conversation_id: originator_id(),
            response_code: "0".into(),
            response_description: "Accept the service request successfully.".into(),
        },
    )
}
