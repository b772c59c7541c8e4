use super::*;
use http::StatusCode;

fn resp(status: u16, body: &str) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from(body.to_owned()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r
}

#[test]
fn oauth_response_expires_in_number_or_string_is_accepted() {
    for body in [
        r#"{"access_token":"c9SQxWWhmdVRlyh0zh8gZDTkubVF","expires_in":3599}"#,
        r#"{"access_token":"c9SQxWWhmdVRlyh0zh8gZDTkubVF","expires_in":"3599"}"#,
    ] {
        let t = parse_oauth_response(&resp(200, body)).unwrap();
        assert_eq!(t.token.expose(), "c9SQxWWhmdVRlyh0zh8gZDTkubVF");
        assert_eq!(t.expires_in_secs, 3599);
        assert!(!format!("{t:?}").contains("c9SQ"));
    }
}

#[test]
fn oauth_response_bad_expires_in_is_malformed() {
    for body in [
        r#"{"access_token":"x","expires_in":"soon"}"#,
        r#"{"access_token":"x","expires_in":-1}"#,
        r#"{"access_token":"","expires_in":1}"#,
        r#"{"access_token":"x"}"#,
    ] {
        assert!(matches!(parse_oauth_response(&resp(200, body)), Err(ApiError::Malformed { .. })), "{body}");
    }
}

#[test]
fn oauth_response_error_body_is_typed() {
    let r = resp(400, r#"{"requestId":"","errorCode":"400.008.02","errorMessage":"Invalid grant type passed"}"#);
    assert_eq!(
        parse_oauth_response(&r),
        Err(ApiError::Daraja {
            status: 400,
            code: ErrorCode::InvalidGrantType,
            message: "Invalid grant type passed".into(),
            request_id: None,
        })
    );
    assert_eq!(
        parse_oauth_response(&resp(400, "")),
        Err(ApiError::UnexpectedStatus { status: 400, body: String::new() })
    );
}

#[test]
fn stk_push_response_doc_sample_is_ack() {
    let r = resp(
        200,
        r#"{"MerchantRequestID":"2654-4b64-97ff-b827b542881d3130","CheckoutRequestID":"ws_CO_1007202409152617172396192","ResponseCode":"0","ResponseDescription":"Success. Request accepted for processing","CustomerMessage":"Success. Request accepted for processing"}"#,
    );
    let ack = parse_stk_push_response(&r).unwrap();
    assert_eq!(ack.checkout_request_id, "ws_CO_1007202409152617172396192");
    assert_eq!(ack.merchant_request_id, "2654-4b64-97ff-b827b542881d3130");
}

#[test]
fn stk_push_response_invalid_token_is_detected() {
    let r = resp(404, r#"{"requestId":"abc","errorCode":"404.001.03","errorMessage":"Invalid Access Token"}"#);
    let e = parse_stk_push_response(&r).unwrap_err();
    assert!(e.is_invalid_token());
    assert!(!e.is_transient());
}

#[test]
fn stk_push_response_subscriber_locked_is_transient() {
    let r = resp(
        500,
        r#"{"requestId":"r","errorCode":"500.001.1001","errorMessage":"Unable to lock subscriber, a transaction is already in process for the current subscriber"}"#,
    );
    assert!(parse_stk_push_response(&r).unwrap_err().is_transient());
}

#[test]
fn stk_push_response_non_zero_code_is_rejected() {
    let r = resp(
        200,
        r#"{"MerchantRequestID":"m","CheckoutRequestID":"c","ResponseCode":"1","ResponseDescription":"nope"}"#,
    );
    assert_eq!(
        parse_stk_push_response(&r),
        Err(ApiError::Rejected { response_code: "1".into(), description: "nope".into() })
    );
}

#[test]
fn stk_query_being_processed_is_pending() {
    let r = resp(
        500,
        r#"{"requestId":"ws_CO_1","errorCode":"500.001.1001","errorMessage":"The transaction is being processed"}"#,
    );
    assert_eq!(
        parse_stk_query_response(&r),
        Ok(StkQueryOutcome::Pending { message: "The transaction is being processed".into() })
    );
}

#[test]
fn stk_query_other_service_error_is_error() {
    let r = resp(500, r#"{"requestId":"x","errorCode":"500.001.1001","errorMessage":"Wrong credentials"}"#);
    assert!(matches!(parse_stk_query_response(&r), Err(ApiError::Daraja { code: ErrorCode::ServiceError, .. })));
}

#[test]
fn stk_query_doc_sample_is_final_success() {
    let r = resp(
        200,
        r#"{"ResponseCode":"0","ResponseDescription":"The service request has been accepted successsfully","MerchantRequestID":"22205-34066-1","CheckoutRequestID":"ws_CO_13012021093521236557","ResultCode":"0","ResultDesc":"The service request is processed successfully."}"#,
    );
    let StkQueryOutcome::Final(res) = parse_stk_query_response(&r).unwrap() else { panic!() };
    assert_eq!(res.result_code, ResultCode::Success);
    assert_eq!(res.checkout_request_id, "ws_CO_13012021093521236557");
}

#[test]
fn stk_query_failure_code_string_or_number_is_mapped() {
    for code in [r#""1032""#, "1032"] {
        let r = resp(
            200,
            &format!(
                r#"{{"ResponseCode":"0","ResponseDescription":"ok","MerchantRequestID":"m","CheckoutRequestID":"c","ResultCode":{code},"ResultDesc":"Request cancelled by user"}}"#
            ),
        );
        let StkQueryOutcome::Final(res) = parse_stk_query_response(&r).unwrap() else { panic!() };
        assert_eq!(res.result_code, ResultCode::CancelledByUser);
    }
}

#[test]
fn stk_query_unexpected_html_is_unexpected_status() {
    let r = resp(502, "<html>Bad Gateway</html>");
    let e = parse_stk_query_response(&r).unwrap_err();
    assert!(matches!(e, ApiError::UnexpectedStatus { status: 502, .. }));
    assert!(e.is_transient());
}

#[test]
fn c2b_register_response_misspelt_field_is_read() {
    let r = resp(
        200,
        r#"{"OriginatorCoversationID":"6e86-45dd-91ac-fd5d4178ab523408729","ResponseCode":"0","ResponseDescription":"Success"}"#,
    );
    let ack = parse_c2b_register_response(&r).unwrap();
    assert_eq!(ack.originator_conversation_id, "6e86-45dd-91ac-fd5d4178ab523408729");
}

#[test]
fn c2b_register_response_already_registered_is_service_error() {
    let r = resp(500, r#"{"requestId":"x","errorCode":"500.001.1001","errorMessage":"Urls are already registered"}"#);
    assert!(matches!(parse_c2b_register_response(&r), Err(ApiError::Daraja { code: ErrorCode::ServiceError, .. })));
}

#[test]
fn access_token_refresh_is_before_expiry() {
    use chrono::TimeZone;
    let t = AccessToken { token: Redacted::new("x"), expires_in_secs: 3599 };
    let at = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(t.expires_at(at), at + Duration::seconds(3599));
    assert_eq!(t.refresh_at(at, 60), at + Duration::seconds(3539));
    assert_eq!(t.refresh_at(at, 9999), at);
}

#[test]
fn oauth_wire_body_debug_hides_the_token_and_the_wire_still_carries_it() {
    let body = r#"{"access_token":"c9SQxWWhmdVRlyh0zh8gZDTkubVF","expires_in":3599}"#;
    let wire: OAuthResponse = serde_json::from_str(body).expect("oauth body");
    assert!(!format!("{wire:?} {wire:#?}").contains("c9SQ"));
    assert_eq!(serde_json::to_value(&wire).expect("json")["access_token"], "c9SQxWWhmdVRlyh0zh8gZDTkubVF");
}

#[test]
fn redacted_compares_by_value() {
    assert_eq!(Redacted::new("k3y"), Redacted::new("k3y"));
    assert_ne!(Redacted::new("k3y"), Redacted::new("k3z"));
    assert_ne!(Redacted::new("k3y"), Redacted::new("k3"));
}
