//! End-to-end tests of the simulator over real sockets, driven with the `daraja` crate.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use daraja::{
    AccessToken, ApiError, C2bRegister, C2bRegisterVersion, C2bResponseType, ErrorCode, ResultCode, StkOutcome,
    StkPush, StkQueryOutcome,
};
use daraja_sim::{
    C2bPay, C2bPayStatus, CallbackSink, DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET, DarajaSim, HttpClient, Outcome,
    SANDBOX_PASSKEY, SANDBOX_SHORTCODE, Script, SimApp, SimConfig, SimHandle, SimShortcode, StkState,
};

const WAIT: Duration = Duration::from_secs(10);
const PHONE: &str = "254708374149";

async fn send(req: http::Request<Bytes>) -> http::Response<Bytes> {
    HttpClient::new().send(req, WAIT).await.expect("simulator answers")
}

async fn token(sim: &SimHandle) -> AccessToken {
    let req = daraja::oauth_request(&sim.environment(), DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET).unwrap();
    daraja::parse_oauth_response(&send(req).await).expect("token")
}

fn push(callback_url: &str, phone: &str) -> StkPush {
    StkPush::paybill(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, 10, phone, callback_url, "ACC42")
}

async fn stk(sim: &SimHandle, token: &str, p: &StkPush) -> Result<daraja::StkPushAck, ApiError> {
    let req = daraja::stk_push_request(&sim.environment(), token, p, Utc::now()).unwrap();
    daraja::parse_stk_push_response(&send(req).await)
}

async fn query(sim: &SimHandle, token: &str, checkout: &str) -> Result<StkQueryOutcome, ApiError> {
    let req =
        daraja::stk_query_request(&sim.environment(), token, SANDBOX_SHORTCODE, SANDBOX_PASSKEY, checkout, Utc::now())
            .unwrap();
    daraja::parse_stk_query_response(&send(req).await)
}

#[tokio::test]
async fn oauth_valid_credentials_issue_token() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    assert_eq!(t.expires_in_secs, 3599);
    assert_eq!(sim.current_token(DEFAULT_CONSUMER_KEY).as_deref(), Some(t.token.expose()));
}

#[tokio::test]
async fn oauth_expires_in_as_string_is_sent_as_string() {
    let sim = DarajaSim::spawn(SimConfig { expires_in_as_string: true, ..SimConfig::default() }).await.unwrap();
    let req = daraja::oauth_request(&sim.environment(), DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET).unwrap();
    let resp = send(req).await;
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["expires_in"], "3599");
    assert_eq!(daraja::parse_oauth_response(&resp).unwrap().expires_in_secs, 3599);
}

#[tokio::test]
async fn oauth_wrong_secret_is_rejected() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let req = daraja::oauth_request(&sim.environment(), DEFAULT_CONSUMER_KEY, "nope").unwrap();
    let err = daraja::parse_oauth_response(&send(req).await).unwrap_err();
    assert!(matches!(err, ApiError::Daraja { code: ErrorCode::InvalidAuthenticationType, .. }), "{err:?}");
}

#[tokio::test]
async fn oauth_wrong_grant_type_is_rejected() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let mut req = daraja::oauth_request(&sim.environment(), DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET).unwrap();
    *req.uri_mut() = format!("{}/oauth/v1/generate?grant_type=password", sim.base_url()).parse().unwrap();
    let err = daraja::parse_oauth_response(&send(req).await).unwrap_err();
    assert!(matches!(err, ApiError::Daraja { code: ErrorCode::InvalidGrantType, .. }), "{err:?}");
}

#[tokio::test]
async fn oauth_new_token_invalidates_previous() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    let first = token(&sim).await;
    let second = token(&sim).await;
    assert_ne!(first.token, second.token);
    let err = stk(&sim, first.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap_err();
    assert!(err.is_invalid_token(), "{err:?}");
    stk(&sim, second.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap();
}

#[tokio::test]
async fn stk_push_without_token_is_rejected() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let err = stk(&sim, "made-up", &push("http://127.0.0.1:1/cb", PHONE)).await.unwrap_err();
    assert!(err.is_invalid_token(), "{err:?}");
    sim.expire_tokens();
}

#[tokio::test]
async fn stk_push_wrong_passkey_is_wrong_credentials() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let mut p = push("http://127.0.0.1:1/cb", PHONE);
    p.passkey = daraja::wire::Redacted::new("not-the-passkey");
    let err = stk(&sim, t.token.expose(), &p).await.unwrap_err();
    match err {
        ApiError::Daraja { status, code, message, .. } => {
            assert_eq!((status, code), (500, ErrorCode::ServiceError));
            assert_eq!(message, "Wrong credentials");
        }
        other => panic!("{other:?}"),
    }
    assert!(sim.stk_requests().is_empty());
}

#[tokio::test]
async fn stk_push_unknown_shortcode_is_merchant_missing() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let p = StkPush::paybill("600999", SANDBOX_PASSKEY, 10, PHONE, "http://127.0.0.1:1/cb", "A");
    let err = stk(&sim, t.token.expose(), &p).await.unwrap_err();
    assert!(matches!(err, ApiError::Daraja { ref message, .. } if message == "Merchant does not exist"), "{err:?}");
}

#[tokio::test]
async fn stk_push_field_rules_are_enforced_on_the_wire() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let base = push("http://127.0.0.1:1/cb", PHONE).to_wire(Utc::now());
    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("AccountReference", serde_json::json!("THIRTEENCHARS")),
        ("Amount", serde_json::json!(0)),
        ("Amount", serde_json::json!(1.5)),
        ("PartyA", serde_json::json!("0708374149")),
        ("PhoneNumber", serde_json::json!("2547083741")),
        ("TransactionType", serde_json::json!("CustomerPayBill")),
        ("CallBackURL", serde_json::json!("not a url")),
    ];
    for (field, value) in cases {
        let mut body = serde_json::to_value(&base).unwrap();
        body[field] = value;
        let req = http::Request::post(format!("{}/mpesa/stkpush/v1/processrequest", sim.base_url()))
            .header("Authorization", format!("Bearer {}", t.token.expose()))
            .header("Content-Type", "application/json")
            .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        match daraja::parse_stk_push_response(&send(req).await) {
            Err(ApiError::Daraja { status: 400, code: ErrorCode::BadRequest, message, .. }) => {
                assert_eq!(message, format!("Bad Request - Invalid {field}"))
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    // Amount as a string of digits is accepted, as Daraja does.
    let mut body = serde_json::to_value(&base).unwrap();
    body["Amount"] = serde_json::json!("5");
    let req = http::Request::post(format!("{}/mpesa/stkpush/v1/processrequest", sim.base_url()))
        .header("Authorization", format!("Bearer {}", t.token.expose()))
        .header("Content-Type", "application/json")
        .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    daraja::parse_stk_push_response(&send(req).await).unwrap();
}

#[tokio::test]
async fn stk_push_missing_field_names_it() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let mut body = serde_json::to_value(push("http://127.0.0.1:1/cb", PHONE).to_wire(Utc::now())).unwrap();
    body.as_object_mut().unwrap().remove("Password");
    let req = http::Request::post(format!("{}/mpesa/stkpush/v1/processrequest", sim.base_url()))
        .header("Authorization", format!("Bearer {}", t.token.expose()))
        .header("Content-Type", "application/json")
        .body(Bytes::from(serde_json::to_vec(&body).unwrap()))
        .unwrap();
    let err = daraja::parse_stk_push_response(&send(req).await).unwrap_err();
    assert!(
        matches!(err, ApiError::Daraja { ref message, .. } if message == "Bad Request - Invalid Password"),
        "{err:?}"
    );
}

async fn run_outcome(outcome: Outcome) -> (daraja::StkCallback, SimHandle, CallbackSink) {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    sim.set_default_script(Script::new(outcome).delay(Duration::from_millis(20)));
    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/stk/cb"), PHONE)).await.unwrap();
    assert!(ack.checkout_request_id.starts_with("ws_CO_"));
    let got = sink.wait_for("/stk/cb", 1, WAIT).await;
    assert_eq!(got.len(), 1);
    let cb = daraja::parse_stk_callback(&got[0].body).expect("simulator callbacks parse strictly");
    assert_eq!(cb.checkout_request_id, ack.checkout_request_id);
    assert_eq!(cb.merchant_request_id, ack.merchant_request_id);
    (cb, sim, sink)
}

#[tokio::test]
async fn stk_callback_success_is_delivered_with_receipt() {
    let (cb, sim, _sink) = run_outcome(Outcome::Success).await;
    let StkOutcome::Paid(paid) = &cb.outcome else { panic!("{cb:?}") };
    assert_eq!(paid.amount_cents, 1000);
    assert_eq!(paid.phone_number.as_deref(), Some(PHONE));
    assert!(paid.receipt.starts_with("SIM") && paid.receipt.len() == 10, "{}", paid.receipt);
    let rec = sim.wait_stk_done(&cb.checkout_request_id, WAIT).await.unwrap();
    assert_eq!(rec.receipt(), Some(paid.receipt.as_str()));
    assert_eq!(rec.deliveries.len(), 1);
    assert!(rec.deliveries[0].ok());
}

#[tokio::test]
async fn stk_callback_cancelled_is_1032() {
    let (cb, _sim, _sink) = run_outcome(Outcome::Cancelled).await;
    assert_eq!(cb.outcome, StkOutcome::Failed(ResultCode::CancelledByUser));
    assert_eq!(cb.result_desc, "Request cancelled by user");
}

#[tokio::test]
async fn stk_callback_timeout_is_1037() {
    let (cb, _sim, _sink) = run_outcome(Outcome::Timeout).await;
    assert_eq!(cb.outcome, StkOutcome::Failed(ResultCode::Unreachable));
}

#[tokio::test]
async fn stk_callback_insufficient_funds_is_1() {
    let (cb, _sim, _sink) = run_outcome(Outcome::InsufficientFunds).await;
    assert_eq!(cb.outcome, StkOutcome::Failed(ResultCode::InsufficientBalance));
}

#[tokio::test]
async fn stk_callback_scripted_code_is_sent() {
    let (cb, _sim, _sink) = run_outcome(Outcome::Code(2001)).await;
    assert_eq!(cb.outcome, StkOutcome::Failed(ResultCode::InvalidInitiator));
}

#[tokio::test]
async fn stk_no_callback_sends_nothing_but_query_is_final() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    sim.set_script_for("0708374149", Script::new(Outcome::NoCallback).delay(Duration::from_millis(10)));
    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap();
    let rec = sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();
    assert!(rec.deliveries.is_empty());
    assert!(rec.receipt().is_some());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sink.received().is_empty());
    let StkQueryOutcome::Final(res) = query(&sim, t.token.expose(), &ack.checkout_request_id).await.unwrap() else {
        panic!("not final")
    };
    assert_eq!(res.result_code, ResultCode::Success);
}

#[tokio::test]
async fn stk_query_pending_then_final() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    sim.set_default_script(Script::new(Outcome::Cancelled).delay(Duration::from_millis(400)));
    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap();
    assert_eq!(
        query(&sim, t.token.expose(), &ack.checkout_request_id).await.unwrap(),
        StkQueryOutcome::Pending { message: "The transaction is being processed".into() }
    );
    sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();
    let StkQueryOutcome::Final(res) = query(&sim, t.token.expose(), &ack.checkout_request_id).await.unwrap() else {
        panic!("not final")
    };
    assert_eq!(res.result_code, ResultCode::CancelledByUser);
    assert_eq!(res.checkout_request_id, ack.checkout_request_id);
}

#[tokio::test]
async fn stk_query_unknown_checkout_id_is_bad_request() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let err = query(&sim, t.token.expose(), "ws_CO_nope").await.unwrap_err();
    assert!(matches!(err, ApiError::Daraja { code: ErrorCode::BadRequest, .. }), "{err:?}");
}

#[tokio::test]
async fn stk_push_second_while_pending_is_subscriber_locked() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    sim.set_default_script(Script::new(Outcome::Success).delay(Duration::from_secs(30)));
    let t = token(&sim).await;
    stk(&sim, t.token.expose(), &push("http://127.0.0.1:1/cb", PHONE)).await.unwrap();
    let err = stk(&sim, t.token.expose(), &push("http://127.0.0.1:1/cb", PHONE)).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    // Another phone is not locked.
    stk(&sim, t.token.expose(), &push("http://127.0.0.1:1/cb", "254700000002")).await.unwrap();
}

#[tokio::test]
async fn stk_duplicates_knob_delivers_n_times() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    sim.set_default_script(Script::new(Outcome::Success).delay(Duration::from_millis(10)).deliveries(3));
    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap();
    let got = sink.wait_for("/cb", 3, WAIT).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|r| r.body == got[0].body), "duplicates are byte-identical");
    let rec = sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();
    assert_eq!(rec.deliveries.len(), 3);
}

#[tokio::test]
async fn stk_callback_receiver_down_is_recorded() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    sim.set_default_script(Script::new(Outcome::Success).delay(Duration::from_millis(10)));
    let t = token(&sim).await;
    // Port 1 on loopback: connection refused.
    let ack = stk(&sim, t.token.expose(), &push("http://127.0.0.1:1/cb", PHONE)).await.unwrap();
    let rec = sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();
    assert_eq!(rec.deliveries.len(), 1);
    assert!(rec.deliveries[0].error.is_some());
    assert!(matches!(rec.state, StkState::Completed { result_code: 0, .. }));
}

#[tokio::test]
async fn tenants_with_own_apps_and_shortcodes_are_isolated() {
    let config = SimConfig::empty()
        .app(SimApp::new("key-a", "secret-a").with_shortcodes(&["600100"]))
        .app(SimApp::new("key-b", "secret-b").with_shortcodes(&["600200"]))
        .shortcode(SimShortcode::new("600100", "passkey-a"))
        .shortcode(SimShortcode::new("600200", "passkey-b"));
    let sim = DarajaSim::spawn(config).await.unwrap();
    let env = sim.environment();
    let tok = |k: &'static str, s: &'static str| {
        let env = env.clone();
        async move {
            daraja::parse_oauth_response(&send(daraja::oauth_request(&env, k, s).unwrap()).await)
                .unwrap()
                .token
                .expose()
                .to_owned()
        }
    };
    let (ta, tb) = (tok("key-a", "secret-a").await, tok("key-b", "secret-b").await);
    // Both tokens stay valid: invalidation is per app.
    let pa = StkPush::paybill("600100", "passkey-a", 5, PHONE, "http://127.0.0.1:1/cb", "A1");
    stk(&sim, &ta, &pa).await.unwrap();
    let pb = StkPush::paybill("600200", "passkey-b", 5, "254700000002", "http://127.0.0.1:1/cb", "B1");
    stk(&sim, &tb, &pb).await.unwrap();
    // App A may not use B's shortcode.
    let cross = StkPush::paybill("600200", "passkey-b", 5, "254700000003", "http://127.0.0.1:1/cb", "X");
    assert!(stk(&sim, &ta, &cross).await.is_err());
}

fn register(
    sim: &SimHandle,
    shortcode: &str,
    confirm: &str,
    validate: Option<&str>,
    rt: C2bResponseType,
) -> http::Request<Bytes> {
    let _ = sim;
    daraja::c2b_register_request(
        &sim.environment(),
        &sim.current_token(DEFAULT_CONSUMER_KEY).unwrap(),
        C2bRegisterVersion::V1,
        &C2bRegister {
            shortcode: shortcode.into(),
            response_type: rt,
            confirmation_url: confirm.into(),
            validation_url: validate.map(str::to_owned),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn c2b_register_then_pay_calls_validation_then_confirmation() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    token(&sim).await;
    let req = register(
        &sim,
        SANDBOX_SHORTCODE,
        &sink.url("/c2b/confirm"),
        Some(&sink.url("/c2b/validate")),
        C2bResponseType::Completed,
    );
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    assert_eq!(sim.c2b_registration(SANDBOX_SHORTCODE).unwrap().api_version, "v1");
    sink.reply("/c2b/validate", 200, r#"{"ResultCode":"0","ResultDesc":"Accepted","ThirdPartyTransID":"INV-9"}"#);

    let result = sim.c2b_pay(C2bPay::paybill(SANDBOX_SHORTCODE, 150, " acc 42 ", PHONE)).await;
    assert_eq!(result.status, C2bPayStatus::Completed);
    let v = daraja::parse_c2b_payment(&sink.received_on("/c2b/validate")[0].body).unwrap();
    assert_eq!(v.org_account_balance_cents, None, "blank in validation");
    let c = daraja::parse_c2b_payment(&sink.received_on("/c2b/confirm")[0].body).unwrap();
    assert_eq!(c.trans_id, result.trans_id);
    assert_eq!(c.amount_cents, 15_000);
    assert_eq!(c.normalized_bill_ref(), "ACC42");
    assert_eq!(c.third_party_trans_id, "INV-9");
    assert_eq!(c.org_account_balance_cents, Some(15_000));
    assert!(matches!(c.msisdn, daraja::C2bMsisdn::Masked(_)));
}

#[tokio::test]
async fn c2b_validation_reject_stops_confirmation() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    token(&sim).await;
    let req = register(
        &sim,
        SANDBOX_SHORTCODE,
        &sink.url("/c2b/confirm"),
        Some(&sink.url("/c2b/validate")),
        C2bResponseType::Completed,
    );
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    sink.reply("/c2b/validate", 200, r#"{"ResultCode":"C2B00012","ResultDesc":"Rejected"}"#);
    let result = sim.c2b_pay(C2bPay::paybill(SANDBOX_SHORTCODE, 10, "nobody", PHONE)).await;
    assert_eq!(result.status, C2bPayStatus::Rejected { result_code: "C2B00012".into() });
    assert!(result.confirmation.is_none());
    assert!(sink.received_on("/c2b/confirm").is_empty());
}

#[tokio::test]
async fn c2b_validation_silent_with_cancelled_type_cancels() {
    let sim =
        DarajaSim::spawn(SimConfig { c2b_validation_timeout: Duration::from_millis(100), ..SimConfig::default() })
            .await
            .unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    token(&sim).await;
    let req = register(
        &sim,
        SANDBOX_SHORTCODE,
        &sink.url("/c2b/confirm"),
        Some(&sink.url("/c2b/validate")),
        C2bResponseType::Cancelled,
    );
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    sink.reply_after("/c2b/validate", 200, r#"{"ResultCode":"0","ResultDesc":"Accepted"}"#, Duration::from_secs(2));
    let result = sim.c2b_pay(C2bPay::paybill(SANDBOX_SHORTCODE, 10, "x", PHONE)).await;
    assert!(matches!(result.status, C2bPayStatus::Cancelled { .. }), "{result:?}");
    assert!(sink.received_on("/c2b/confirm").is_empty());
}

#[tokio::test]
async fn c2b_validation_silent_with_completed_type_still_confirms() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    token(&sim).await;
    let req = register(
        &sim,
        SANDBOX_SHORTCODE,
        &sink.url("/c2b/confirm"),
        Some(&sink.url("/c2b/validate")),
        C2bResponseType::Completed,
    );
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    sink.reply("/c2b/validate", 500, "oops");
    let result = sim.c2b_pay(C2bPay::paybill(SANDBOX_SHORTCODE, 10, "x", PHONE)).await;
    assert_eq!(result.status, C2bPayStatus::Completed);
    assert_eq!(sink.received_on("/c2b/confirm").len(), 1);
}

#[tokio::test]
async fn c2b_register_forbidden_url_is_rejected() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let t = token(&sim).await;
    let body = serde_json::json!({
        "ShortCode": SANDBOX_SHORTCODE, "ResponseType": "Completed",
        "ConfirmationURL": "http://127.0.0.1:9/mpesa/confirm", "ValidationURL": "http://127.0.0.1:9/validate"
    });
    let req = http::Request::post(format!("{}/mpesa/c2b/v2/registerurl", sim.base_url()))
        .header("Authorization", format!("Bearer {}", t.token.expose()))
        .header("Content-Type", "application/json")
        .body(Bytes::from(body.to_string()))
        .unwrap();
    let err = daraja::parse_c2b_register_response(&send(req).await).unwrap_err();
    assert!(
        matches!(err, ApiError::Daraja { ref message, .. } if message == "Bad Request - Invalid ConfirmationURL"),
        "{err:?}"
    );
}

#[tokio::test]
async fn c2b_register_once_knob_refuses_second_registration() {
    let sim = DarajaSim::spawn(SimConfig { c2b_register_once: true, ..SimConfig::default() }).await.unwrap();
    token(&sim).await;
    let req = register(&sim, SANDBOX_SHORTCODE, "http://127.0.0.1:9/c", None, C2bResponseType::Completed);
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    let req = register(&sim, SANDBOX_SHORTCODE, "http://127.0.0.1:9/d", None, C2bResponseType::Completed);
    let err = daraja::parse_c2b_register_response(&send(req).await).unwrap_err();
    assert!(matches!(err, ApiError::Daraja { ref message, .. } if message == "Urls are already registered"), "{err:?}");
}

#[tokio::test]
async fn c2b_simulate_endpoint_confirms_asynchronously() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    let t = token(&sim).await;
    let req = register(&sim, SANDBOX_SHORTCODE, &sink.url("/c2b/confirm"), None, C2bResponseType::Completed);
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    let req = daraja::c2b_simulate_request(
        &sim.environment(),
        t.token.expose(),
        &daraja::C2bSimulate {
            shortcode: SANDBOX_SHORTCODE.into(),
            command: daraja::StkTransactionType::PayBill,
            amount_kes: 7,
            msisdn: PHONE.into(),
            bill_ref_number: Some("TestRef".into()),
        },
    )
    .unwrap();
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    let got = sink.wait_for("/c2b/confirm", 1, WAIT).await;
    let c = daraja::parse_c2b_payment(&got[0].body).unwrap();
    assert_eq!((c.amount_cents, c.bill_ref_number.as_str()), (700, "TestRef"));
}

#[tokio::test]
async fn control_api_scripts_outcome_and_lists_requests() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    let client = HttpClient::new();
    let post = |path: &str, body: serde_json::Value| {
        http::Request::post(format!("{}{path}", sim.base_url()))
            .header("Content-Type", "application/json")
            .body(Bytes::from(body.to_string()))
            .unwrap()
    };
    let resp = client
        .send(
            post(
                "/__sim/outcome",
                serde_json::json!({"phone":"254700000001","outcome":"cancelled","delay_ms":20,"deliveries":2}),
            ),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let bad = client.send(post("/__sim/outcome", serde_json::json!({"outcome":"maybe"})), WAIT).await.unwrap();
    assert_eq!(bad.status(), 400);

    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/cb"), "254700000001")).await.unwrap();
    assert_eq!(sink.wait_for("/cb", 2, WAIT).await.len(), 2);
    sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();

    let list = client
        .send(http::Request::get(format!("{}/__sim/stk", sim.base_url())).body(Bytes::new()).unwrap(), WAIT)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(list.body()).unwrap();
    assert_eq!(v[0]["checkout_request_id"], ack.checkout_request_id.as_str());
    assert_eq!(v[0]["state"], "completed");
    assert_eq!(v[0]["result_code"], 1032);
    assert_eq!(v[0]["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(v[0]["deliveries"][0]["status"], 200);

    let pay = client
        .send(post("/__sim/c2b/pay", serde_json::json!({"shortcode": SANDBOX_SHORTCODE, "amount": "5.00", "bill_ref": "A1", "msisdn": PHONE, "first_name": "JANE"})), WAIT)
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(pay.body()).unwrap();
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["amount_cents"], 500);
}

#[tokio::test]
async fn unknown_path_is_resource_not_found() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let resp = sim.handle(http::Request::get("/mpesa/nothing").body(Bytes::new()).unwrap()).await;
    assert_eq!(resp.status(), 404);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["errorCode"], "404.001.01");
    let resp = sim.handle(http::Request::get("/mpesa/stkpush/v1/processrequest").body(Bytes::new()).unwrap()).await;
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn stk_concurrent_duplicates_arrive_together() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let sink = CallbackSink::spawn().await.unwrap();
    sink.reply_after("/cb", 200, r#"{"ResultCode":0,"ResultDesc":"Accepted"}"#, Duration::from_millis(300));
    sim.set_default_script(
        Script::new(Outcome::Success).delay(Duration::from_millis(10)).deliveries(4).concurrent(true),
    );
    let t = token(&sim).await;
    let ack = stk(&sim, t.token.expose(), &push(&sink.url("/cb"), PHONE)).await.unwrap();
    let rec = sim.wait_stk_done(&ack.checkout_request_id, WAIT).await.unwrap();
    assert_eq!(rec.deliveries.len(), 4);
    // Each receiver answer takes 300 ms; sequential delivery would need 1.2 s in all.
    let got = sink.received_on("/cb");
    let spread = got.iter().map(|r| r.at).max().unwrap() - got.iter().map(|r| r.at).min().unwrap();
    assert!(spread < chrono::Duration::milliseconds(250), "{spread:?}");
}

#[tokio::test]
async fn c2b_confirmation_deliveries_knob_repeats_confirmation() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    sim.configure(|c| c.c2b_confirmation_deliveries = 2);
    let sink = CallbackSink::spawn().await.unwrap();
    token(&sim).await;
    let req = register(&sim, SANDBOX_SHORTCODE, &sink.url("/c2b/confirm"), None, C2bResponseType::Completed);
    daraja::parse_c2b_register_response(&send(req).await).unwrap();
    let result = sim.c2b_pay(C2bPay::paybill(SANDBOX_SHORTCODE, 10, "x", PHONE)).await;
    assert!(result.confirmation.as_ref().unwrap().ok());
    assert_eq!(result.duplicate_confirmations.len(), 1);
    let got = sink.received_on("/c2b/confirm");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
}

#[tokio::test]
async fn control_api_concurrent_flag_is_stored() {
    let sim = DarajaSim::spawn(SimConfig::default()).await.unwrap();
    let req = http::Request::post("/__sim/outcome")
        .header("Content-Type", "application/json")
        .body(Bytes::from(r#"{"outcome":"success","deliveries":3,"concurrent":true}"#))
        .unwrap();
    let resp = sim.handle(req).await;
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(v["script"]["concurrent"], true);
    assert_eq!(v["script"]["deliveries"], 3);
}
