use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

const DOC_PAYMENT: &str = r#"{"TransactionType":"Pay Bill","TransID":"RKL51ZDR4F","TransTime":"20231121121325",
 "TransAmount":"5.00","BusinessShortCode":"600966","BillRefNumber":"Sample Transaction",
 "InvoiceNumber":"","OrgAccountBalance":"25.00","ThirdPartyTransID":"",
 "MSISDN":"2547 ***** 126","FirstName":"NICHOLAS","MiddleName":"","LastName":""}"#;

fn err(body: &str) -> CallbackError {
    parse_c2b_payment(body.as_bytes()).unwrap_err()
}

#[test]
fn c2b_payment_doc_sample_parses() {
    let p = parse_c2b_payment(DOC_PAYMENT.as_bytes()).unwrap();
    assert_eq!(p.transaction_type, C2bTransactionType::PayBill);
    assert_eq!(p.trans_id, "RKL51ZDR4F");
    assert_eq!(p.trans_time, Utc.with_ymd_and_hms(2023, 11, 21, 9, 13, 25).unwrap());
    assert_eq!(p.amount_cents, 500);
    assert_eq!(p.business_short_code, "600966");
    assert_eq!(p.bill_ref_number, "Sample Transaction");
    assert_eq!(p.normalized_bill_ref(), "SAMPLETRANSACTION");
    assert_eq!(p.org_account_balance_cents, Some(2500));
    assert_eq!(p.msisdn, C2bMsisdn::Masked("2547 ***** 126".into()));
    assert_eq!(p.msisdn.as_sent(), Some("2547 ***** 126"));
    assert_eq!(p.payer_name(), "NICHOLAS");
}

#[test]
fn msisdn_as_sent_is_the_text_for_every_kind_but_absent() {
    assert_eq!(C2bMsisdn::classify("  ").as_sent(), None);
    assert_eq!(C2bMsisdn::classify(" 254708374149 ").as_sent(), Some("254708374149"));
    let hash = "AB".repeat(32);
    assert_eq!(C2bMsisdn::classify(&hash).as_sent(), Some(hash.to_ascii_lowercase().as_str()));
    assert_eq!(C2bMsisdn::classify("+254 7xx").as_sent(), Some("+254 7xx"));
}

#[test]
fn c2b_payment_validation_blank_balance_is_none() {
    let p = parse_c2b_payment(DOC_PAYMENT.replace(r#""25.00""#, r#""""#).as_bytes()).unwrap();
    assert_eq!(p.org_account_balance_cents, None);
}

#[test]
fn c2b_payment_hashed_msisdn_is_classified() {
    let hash = "94c392c3b1b7e9b8c3e1f0f0a1b2c3d4e5f60718293a4b5c6d7e8f905c68a88a";
    assert_eq!(hash.len(), 64);
    let p = parse_c2b_payment(DOC_PAYMENT.replace("2547 ***** 126", hash).as_bytes()).unwrap();
    assert_eq!(p.msisdn, C2bMsisdn::Hashed(hash.into()));
    let p = parse_c2b_payment(DOC_PAYMENT.replace("2547 ***** 126", "254708374149").as_bytes()).unwrap();
    assert_eq!(p.msisdn, C2bMsisdn::Plain("254708374149".into()));
    let p = parse_c2b_payment(DOC_PAYMENT.replace("2547 ***** 126", "").as_bytes()).unwrap();
    assert_eq!(p.msisdn, C2bMsisdn::Absent);
}

#[test]
fn c2b_payment_whole_and_numeric_amounts_are_accepted() {
    let p = parse_c2b_payment(DOC_PAYMENT.replace(r#""5.00""#, r#""10""#).as_bytes()).unwrap();
    assert_eq!(p.amount_cents, 1000);
    let p = parse_c2b_payment(DOC_PAYMENT.replace(r#""5.00""#, "12.5").as_bytes()).unwrap();
    assert_eq!(p.amount_cents, 1250);
}

#[test]
fn c2b_payment_bad_amount_is_rejected() {
    for (text, reason) in [
        (r#""0.00""#, AmountError::Zero),
        (r#""-5.00""#, AmountError::Negative),
        (r#""5,00""#, AmountError::NotDecimal),
        (r#""""#, AmountError::Empty),
    ] {
        match err(&DOC_PAYMENT.replace(r#""5.00""#, text)) {
            CallbackError::InvalidAmount { field, reason: r, .. } => {
                assert_eq!((field.as_str(), r), ("TransAmount", reason), "{text}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn c2b_payment_missing_required_fields_are_named() {
    for field in ["TransID", "TransTime", "TransAmount", "BusinessShortCode"] {
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(DOC_PAYMENT).unwrap();
        let mut obj = obj;
        obj.remove(field);
        let body = serde_json::to_string(&obj).unwrap();
        assert_eq!(err(&body), CallbackError::MissingField { field: field.into() });
    }
}

#[test]
fn c2b_payment_optional_fields_may_be_absent_or_null() {
    let p = parse_c2b_payment(
        br#"{"TransID":"RKL51ZDR4F","TransTime":"20231121121325","TransAmount":"5.00","BusinessShortCode":"600966","BillRefNumber":null}"#,
    )
    .unwrap();
    assert_eq!(p.bill_ref_number, "");
    assert_eq!(p.transaction_type, C2bTransactionType::Other(String::new()));
    assert_eq!(p.msisdn, C2bMsisdn::Absent);
}

#[test]
fn c2b_payment_bad_values_are_rejected() {
    assert!(matches!(
        err(&DOC_PAYMENT.replace("20231121121325", "2023-11-21")),
        CallbackError::InvalidValue { reason: "not YYYYMMDDHHmmss", .. }
    ));
    assert!(matches!(err(&DOC_PAYMENT.replace(r#""600966""#, r#""60 966""#)), CallbackError::InvalidValue { .. }));
    assert!(matches!(err(&DOC_PAYMENT.replace(r#""RKL51ZDR4F""#, r#""""#)), CallbackError::InvalidValue { .. }));
    assert_eq!(
        err(&DOC_PAYMENT.replace(r#""NICHOLAS""#, r#"{"a":1}"#)),
        CallbackError::WrongType { field: "FirstName".into(), expected: "string or number", found: "object" }
    );
    assert_eq!(err(&DOC_PAYMENT[..40]), CallbackError::Truncated);
    assert_eq!(err(r#""x""#), CallbackError::WrongType { field: "(body)".into(), expected: "object", found: "string" });
}

#[test]
fn c2b_payment_buy_goods_type_is_recognised() {
    let p = parse_c2b_payment(DOC_PAYMENT.replace("Pay Bill", "Buy Goods").as_bytes()).unwrap();
    assert_eq!(p.transaction_type, C2bTransactionType::BuyGoods);
}

#[test]
fn c2b_validation_response_wire_forms_match_docs() {
    assert_eq!(&C2bValidationResponse::accept().body()[..], br#"{"ResultCode":"0","ResultDesc":"Accepted"}"#);
    assert_eq!(
        &C2bValidationResponse::reject(C2bRejectCode::InvalidAccountNumber).body()[..],
        br#"{"ResultCode":"C2B00012","ResultDesc":"Rejected"}"#
    );
    let accept = C2bValidationResponse::Accept { third_party_trans_id: Some("T1".into()) };
    assert_eq!(&accept.body()[..], br#"{"ResultCode":"0","ResultDesc":"Accepted","ThirdPartyTransID":"T1"}"#);
    let resp = accept.into_http();
    assert_eq!(resp.headers()[http::header::CONTENT_TYPE], "application/json");
}

#[test]
fn c2b_validation_response_parse_roundtrips() {
    for code in [
        C2bRejectCode::InvalidMsisdn,
        C2bRejectCode::InvalidAccountNumber,
        C2bRejectCode::InvalidAmount,
        C2bRejectCode::InvalidKycDetails,
        C2bRejectCode::InvalidShortcode,
        C2bRejectCode::OtherError,
    ] {
        let r = C2bValidationResponse::reject(code);
        assert_eq!(C2bValidationResponse::parse(&r.body()), Ok(r));
    }
    assert_eq!(
        C2bValidationResponse::parse(br#"{"ResultCode":0,"ResultDesc":"x"}"#),
        Ok(C2bValidationResponse::accept())
    );
    assert!(C2bValidationResponse::parse(br#"{"ResultCode":"1","ResultDesc":"x"}"#).is_err());
}

#[test]
fn c2b_confirmation_ack_is_numeric_zero() {
    assert_eq!(&c2b_confirmation_ack().body()[..], br#"{"ResultCode":0,"ResultDesc":"Success"}"#);
}

#[test]
fn c2b_url_production_rules_are_applied() {
    assert!(is_url_allowed_for_c2b("https://pay.konnekted.co.ke/c2b/confirm/abc123"));
    let cases = [
        ("http://pay.konnekted.co.ke/c2b/confirm", UrlRuleViolation::HttpsRequired),
        ("https://pay.konnekted.co.ke/mpesa/confirm", UrlRuleViolation::ForbiddenWord("mpesa")),
        ("https://pay.konnekted.co.ke/M-PESA/confirm", UrlRuleViolation::ForbiddenWord("m-pesa")),
        ("https://safaricom.example.com/x", UrlRuleViolation::ForbiddenWord("safaricom")),
        ("https://pay.example.com/confirm?x=1&query=2", UrlRuleViolation::ForbiddenWord("query")),
        ("https://pay.example.com/Exec", UrlRuleViolation::ForbiddenWord("exec")),
        ("https://pay.example.com/run.exe", UrlRuleViolation::ForbiddenWord("exe")),
        ("https://pay.example.com/CMD", UrlRuleViolation::ForbiddenWord("cmd")),
        ("https://pay.example.com/mySQL", UrlRuleViolation::ForbiddenWord("sql")),
        ("https://abcd.ngrok.io/confirm", UrlRuleViolation::ForbiddenService("ngrok")),
        ("https://mockbin.org/bin/1", UrlRuleViolation::ForbiddenService("mockbin")),
        ("https://127.0.0.1/confirm", UrlRuleViolation::NotPublic("127.0.0.1".into())),
        ("https://192.168.88.1/confirm", UrlRuleViolation::NotPublic("192.168.88.1".into())),
        ("https://localhost/confirm", UrlRuleViolation::NotPublic("localhost".into())),
        ("ftp://pay.example.com/x", UrlRuleViolation::Scheme("ftp".into())),
        ("/c2b/confirm", UrlRuleViolation::NotAUrl),
        ("not a url", UrlRuleViolation::NotAUrl),
    ];
    for (url, want) in cases {
        assert_eq!(check_c2b_url(url, &Environment::Production), Err(want), "{url}");
    }
}

#[test]
fn c2b_url_sandbox_allows_http_but_not_private() {
    assert_eq!(check_c2b_url("http://pay.example.com/c2b/confirm", &Environment::Sandbox), Ok(()));
    assert!(check_c2b_url("http://10.0.0.1/c2b/confirm", &Environment::Sandbox).is_err());
}

#[test]
fn c2b_url_custom_allows_loopback_but_keeps_word_rules() {
    let sim = Environment::Custom("http://127.0.0.1:7070".into());
    assert_eq!(check_c2b_url("http://127.0.0.1:9000/c2b/confirm", &sim), Ok(()));
    assert!(check_c2b_url("http://127.0.0.1:9000/mpesa/confirm", &sim).is_err());
}

proptest! {
    #[test]
    fn c2b_payment_arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_c2b_payment(&body);
    }

    #[test]
    fn c2b_url_arbitrary_text_never_panics(url in "\\PC{0,80}") {
        let _ = check_c2b_url(&url, &Environment::Production);
    }
}

proptest! {
    #[test]
    fn c2b_payment_notification_roundtrips(
        cents in 1u64..10_000_000_000,
        trans_id in "[A-Z0-9]{10}",
        bill_ref in "[ -~]{0,20}",
        secs in 0i64..4_102_444_800,
    ) {
        let when = DateTime::<Utc>::from_timestamp(secs, 0).unwrap();
        let n = crate::wire::C2bNotification {
            transaction_type: "Pay Bill".into(),
            trans_id: trans_id.clone(),
            trans_time: crate::timestamp_eat(when),
            trans_amount: crate::cents_to_decimal(cents),
            business_short_code: "600966".into(),
            bill_ref_number: bill_ref.clone(),
            invoice_number: String::new(),
            org_account_balance: String::new(),
            third_party_trans_id: String::new(),
            msisdn: "2547 ***** 126".into(),
            first_name: "A".into(),
            middle_name: String::new(),
            last_name: String::new(),
        };
        let p = parse_c2b_payment(&serde_json::to_vec(&n).unwrap()).unwrap();
        prop_assert_eq!(p.amount_cents, cents);
        prop_assert_eq!(p.trans_id, trans_id);
        prop_assert_eq!(p.trans_time, when);
        prop_assert_eq!(p.bill_ref_number, bill_ref);
    }
}
