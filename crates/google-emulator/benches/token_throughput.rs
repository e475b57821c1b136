//! Token-endpoint throughput over loopback with 16 concurrent clients: requests/s and latency
//! percentiles for refresh grants and for code exchanges (each signs an RS256 ID token).
//! Reports numbers; it passes or fails nothing. `cargo bench -p google-emulator`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use google_emulator::{Emulator, MintCode, UserSpec};

const CLIENTS: usize = 16;
const DURATION: Duration = Duration::from_secs(5);

struct Report {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
}

impl Report {
    fn print(mut self) {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        let pct = |p: f64| self.latencies[((n as f64 * p) as usize).min(n - 1)];
        println!(
            "{:<22} {:>7} requests in {:>5.2} s = {:>7.0} req/s | p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms | errors {}",
            self.name,
            n,
            self.elapsed.as_secs_f64(),
            n as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.latencies[n - 1].as_secs_f64() * 1e3,
            self.errors,
        );
    }
}

fn mint(emu: &Emulator, i: usize) -> String {
    let req = MintCode {
        user: UserSpec {
            email: format!("bench{i}@example.com"),
            ..UserSpec::default()
        },
        ..MintCode::default()
    };
    emu.mint_code(&req).unwrap().0
}

async fn run<F, Fut>(name: &'static str, make: F) -> Report
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let make = Arc::new(make);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let make = Arc::clone(&make);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            let mut i = 0;
            while start.elapsed() < DURATION {
                let t = Instant::now();
                if !make(c, i).await {
                    errors += 1;
                }
                lat.push(t.elapsed());
                i += 1;
            }
            (lat, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        latencies.extend(l);
        errors += e;
    }
    Report {
        name,
        latencies,
        elapsed: start.elapsed(),
        errors,
    }
}

/// The ceiling: how fast this machine signs RS256 (every token response signs an ID token).
fn raw_sign_rate() {
    use aws_lc_rs::signature::RSA_PKCS1_SHA256;
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let mut sig = vec![0u8; pair.public_modulus_len()];
    let msg = [7u8; 700];
    let n = 2_000;
    let start = Instant::now();
    for _ in 0..n {
        pair.sign(&RSA_PKCS1_SHA256, &rng, &msg, &mut sig).unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "raw RSA-2048 signing on one thread: {:.0} signatures/s ({:.3} ms each)",
        n as f64 / secs,
        secs * 1e3 / n as f64
    );
}

fn main() {
    raw_sign_rate();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let emu = Arc::new(Emulator::builder().start().await.unwrap());
        let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(CLIENTS).build().unwrap();
        let url = format!("{}/token", emu.base_url());
        let web = emu.web_client().clone();
        println!("token endpoint, {CLIENTS} concurrent clients over loopback, {DURATION:?} each, {} cores", std::thread::available_parallelism().map_or(0, |n| n.get()));

        // One refresh token per client, as `refresh --all` would hold.
        let mut refresh_tokens = Vec::new();
        for c in 0..CLIENTS {
            let code = mint(&emu, c);
            let r: serde_json::Value = http
                .post(&url)
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", ""),
                    ("client_id", web.client_id.as_str()),
                    ("client_secret", web.client_secret.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            refresh_tokens.push(r["refresh_token"].as_str().unwrap().to_owned());
        }
        let refresh_tokens = Arc::new(refresh_tokens);

        let (h, u, w) = (http.clone(), url.clone(), web.clone());
        run("refresh_token grant", move |c, _| {
            let (h, u, w, rts) = (h.clone(), u.clone(), w.clone(), Arc::clone(&refresh_tokens));
            async move {
                let r = h
                    .post(&u)
                    .form(&[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", rts[c].as_str()),
                        ("client_id", w.client_id.as_str()),
                        ("client_secret", w.client_secret.as_str()),
                    ])
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await
        .print();

        let (h, u, w, e) = (http.clone(), url.clone(), web.clone(), Arc::clone(&emu));
        run("authorization_code", move |c, i| {
            let (h, u, w) = (h.clone(), u.clone(), w.clone());
            // Codes are minted in-process so only /token is measured.
            let code = mint(&e, c * 1_000_000 + i);
            async move {
                let r = h
                    .post(&u)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", ""),
                        ("client_id", w.client_id.as_str()),
                        ("client_secret", w.client_secret.as_str()),
                    ])
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        })
        .await
        .print();
    });
}
