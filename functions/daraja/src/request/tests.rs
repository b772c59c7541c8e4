use super::*;
use chrono::TimeZone;

const PASSKEY: &str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919";

fn now() -> DateTime<Utc> {
    // 09:24:08 in Nairobi.
    Utc.with_ymd_and_hms(2021, 6, 28, 6, 24, 8).unwrap()
}

fn push() -> StkPush {
    StkPush::paybill("174379", PASSKEY, 10, "254708374149", "https://pay.example.com/stk/cb", "ACC123")
}

fn json(req: &Request<Bytes>) -> serde_json::Value {
    serde_json::from_slice(req.body()).unwrap()
}

#[test]
fn oauth_request_has_basic_auth_and_grant_type() {
    let req = oauth_request(&Environment::Sandbox, "key", "secret").unwrap();
    assert_eq!(req.method(), Method::GET);
    assert_eq!(req.uri(), "https://sandbox.safaricom.co.ke/oauth/v1/generate?grant_type=client_credentials");
    assert_eq!(req.headers()[header::AUTHORIZATION], "Basic a2V5OnNlY3JldA==");
    assert!(req.body().is_empty());
}

#[test]
fn oauth_request_key_with_colon_is_rejected() {
    assert!(oauth_request(&Environment::Sandbox, "a:b", "s").is_err());
}

#[test]
fn stk_push_request_matches_doc_shape() {
    let req = stk_push_request(&Environment::Production, "tok", &push(), now()).unwrap();
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.uri(), "https://api.safaricom.co.ke/mpesa/stkpush/v1/processrequest");
    assert_eq!(req.headers()[header::AUTHORIZATION], "Bearer tok");
    assert_eq!(req.headers()[header::CONTENT_TYPE], "application/json");
    let body = json(&req);
    assert_eq!(body["BusinessShortCode"], "174379");
    assert_eq!(body["Timestamp"], "20210628092408");
    assert_eq!(
        body["Password"],
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4"
    );
    assert_eq!(body["TransactionType"], "CustomerPayBillOnline");
    assert_eq!(body["Amount"], 10);
    assert_eq!(body["PartyA"], "254708374149");
    assert_eq!(body["PartyB"], "174379");
    assert_eq!(body["PhoneNumber"], "254708374149");
    assert_eq!(body["CallBackURL"], "https://pay.example.com/stk/cb");
    assert_eq!(body["AccountReference"], "ACC123");
    assert_eq!(body["TransactionDesc"], "Payment");
}

#[test]
fn stk_push_request_field_rules_are_enforced() {
    type Mutation = fn(&mut StkPush);
    let cases: [(&str, Mutation); 8] = [
        ("Amount", |p| p.amount_kes = 0),
        ("AccountReference", |p| p.account_reference = "ABCDEFGHIJKLM".into()),
        ("AccountReference", |p| p.account_reference.clear()),
        ("TransactionDesc", |p| p.transaction_desc = Some("fourteen chars".into())),
        ("PartyA", |p| p.party_a = "0708374149".into()),
        ("PhoneNumber", |p| p.phone_number = "25470837414".into()),
        ("BusinessShortCode", |p| p.shortcode = "1743".into()),
        ("CallBackURL", |p| p.callback_url = "/relative".into()),
    ];
    for (field, mutate) in cases {
        let mut p = push();
        mutate(&mut p);
        match stk_push_request(&Environment::Sandbox, "tok", &p, now()) {
            Err(BuildError::InvalidField { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn stk_push_debug_redacts_passkey() {
    assert!(!format!("{:?}", push()).contains(PASSKEY));
}

#[test]
fn stk_wire_body_debug_hides_the_password_that_carries_the_passkey() {
    let wire = push().to_wire(now());
    let password = wire.password.expose().to_owned();
    assert_eq!(password, stk_password(&push().shortcode, PASSKEY, &wire.timestamp));
    let shown = format!("{wire:?}");
    assert!(!shown.contains(&password) && shown.contains("<redacted>"), "{shown}");
    assert_eq!(serde_json::to_value(&wire).expect("json")["Password"], password.as_str(), "the wire still carries it");
}

#[test]
fn stk_query_request_has_password_and_checkout_id() {
    let env = Environment::Custom("http://127.0.0.1:7070/".into());
    let req = stk_query_request(&env, "tok", "174379", PASSKEY, "ws_CO_1", now()).unwrap();
    assert_eq!(req.uri(), "http://127.0.0.1:7070/mpesa/stkpushquery/v1/query");
    let body = json(&req);
    assert_eq!(body["CheckoutRequestID"], "ws_CO_1");
    assert_eq!(body["Password"], stk_password("174379", PASSKEY, "20210628092408"));
    assert!(stk_query_request(&env, "tok", "174379", PASSKEY, " ", now()).is_err());
}

#[test]
fn c2b_register_request_uses_chosen_version() {
    let reg = C2bRegister {
        shortcode: "600984".into(),
        response_type: C2bResponseType::Completed,
        confirmation_url: "https://pay.example.com/c2b/confirm".into(),
        validation_url: Some("https://pay.example.com/c2b/validate".into()),
    };
    let v1 = c2b_register_request(&Environment::Sandbox, "t", C2bRegisterVersion::V1, &reg).unwrap();
    assert_eq!(v1.uri().path(), "/mpesa/c2b/v1/registerurl");
    let v2 = c2b_register_request(&Environment::Sandbox, "t", C2bRegisterVersion::V2, &reg).unwrap();
    assert_eq!(v2.uri().path(), "/mpesa/c2b/v2/registerurl");
    let body = json(&v2);
    assert_eq!(body["ShortCode"], "600984");
    assert_eq!(body["ResponseType"], "Completed");
    assert_eq!(body["ValidationURL"], "https://pay.example.com/c2b/validate");
}

#[test]
fn c2b_register_request_forbidden_url_is_rejected() {
    let reg = C2bRegister {
        shortcode: "600984".into(),
        response_type: C2bResponseType::Cancelled,
        confirmation_url: "https://pay.example.com/mpesa/confirm".into(),
        validation_url: None,
    };
    assert_eq!(
        c2b_register_request(&Environment::Production, "t", C2bRegisterVersion::V2, &reg).unwrap_err(),
        BuildError::UrlRule(UrlRuleViolation::ForbiddenWord("mpesa"))
    );
}

#[test]
fn c2b_simulate_request_production_is_refused() {
    let sim = C2bSimulate {
        shortcode: "600984".into(),
        command: StkTransactionType::PayBill,
        amount_kes: 1,
        msisdn: "254708374149".into(),
        bill_ref_number: Some("TestRef".into()),
    };
    assert!(c2b_simulate_request(&Environment::Production, "t", &sim).is_err());
    let req = c2b_simulate_request(&Environment::Sandbox, "t", &sim).unwrap();
    let body = json(&req);
    assert_eq!(body["CommandID"], "CustomerPayBillOnline");
    assert_eq!(body["BillRefNumber"], "TestRef");
    assert_eq!(body["Amount"], 1);
}
