//! SECURITY §B.13: the receiver's request parsing (hyper's HTTP/1, the Host and
//! X-Requested-With checks, content types, the body cap, the code's extraction) on fuzzed
//! bytes. Pass: no panic, no hang, and a code reaches the sink only from a POST to /auth/code
//! that carries X-Requested-With, with the code as the body gave it (trimmed, non-empty).
//!
//! The first byte picks the input's shape: odd, the rest is the raw connection (the client
//! then closes its side); even, the rest is the body of a well-formed POST (`Connection:
//! close`) whose content type the byte also picks, so most inputs get past the HTTP framing
//! into the code's parsing.
#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tokendesk_core::receiver::{CodeSink, ReceivedUser, RedeemError, RedeemFuture, serve_bytes};
use tokendesk_core::secret::AuthCode;

/// Records what reached it; every other code is "redeemed".
#[derive(Default)]
struct Sink {
    codes: Mutex<Vec<String>>,
}

impl CodeSink for Sink {
    fn redeem(&self, code: AuthCode) -> RedeemFuture<'_> {
        let value = code.secret().to_owned();
        let odd = value.len() % 2 == 1;
        self.codes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(value);
        Box::pin(async move {
            if odd {
                Err(RedeemError::Rejected {
                    code: "invalid_grant".into(),
                    message: "Bad Request".into(),
                })
            } else {
                Ok(ReceivedUser {
                    sub: "1".into(),
                    email: None,
                    email_verified: None,
                    name: None,
                    given_name: None,
                    family_name: None,
                    picture: None,
                    locale: None,
                    hd: None,
                })
            }
        })
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
});

const BOUND: &str = "127.0.0.1:8400";
const TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "text/plain",
    "APPLICATION/X-WWW-FORM-URLENCODED",
];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let request = if mode % 2 == 1 {
        rest.to_vec()
    } else {
        let content_type = TYPES[usize::from(mode / 2) % TYPES.len()];
        let mut r = format!(
            "POST /auth/code HTTP/1.1\r\nHost: {BOUND}\r\nX-Requested-With: fuzz\r\n\
             Connection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            rest.len()
        )
        .into_bytes();
        r.extend_from_slice(rest);
        r
    };
    let sink = Arc::new(Sink::default());
    let bound: SocketAddr = BOUND.parse().expect("address");
    let response = RUNTIME.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            serve_bytes(
                bound,
                Arc::clone(&sink) as Arc<dyn CodeSink>,
                &request,
                mode % 2 == 1,
            ),
        )
        .await
        .expect("the receiver answers or closes a finished connection promptly")
    });
    let codes = sink.codes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if mode % 2 == 0 {
        assert!(
            response.starts_with(b"HTTP/1.1 "),
            "a well-formed POST gets an HTTP answer"
        );
    }
    if !codes.is_empty() {
        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
        assert!(text.contains("/auth/code"), "a code came from another path");
        assert!(
            text.contains("x-requested-with"),
            "a code was taken without X-Requested-With"
        );
        for code in &codes {
            assert!(
                !code.is_empty() && code.trim() == code,
                "the code was trimmed: {code:?}"
            );
        }
    }
});
