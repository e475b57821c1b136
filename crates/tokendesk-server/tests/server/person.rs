//! The person at the emulator's consent page, for tests of a browser sign-in (the server's
//! and the command line's, which include this file by path).

/// The person at the emulator's consent page: signs in as `email` and allows. Returns where
/// the provider sends the browser (the app's loopback redirect).
pub async fn play_the_person(http: &reqwest::Client, url: &str, email: &str) -> String {
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200, "the consent page");
    let html = page.text().await.unwrap();
    let form = google_emulator::person::consent_form(&html, &[("new_email", email)]);
    let origin = {
        let u = reqwest::Url::parse(url).unwrap();
        format!("{}://{}", u.scheme(), u.host_str().unwrap()) + &format!(":{}", u.port().unwrap())
    };
    let answer = http
        .post(format!("{origin}/o/oauth2/v2/auth"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        302,
        "{}",
        answer.text().await.unwrap_or_default()
    );
    answer.headers()["location"].to_str().unwrap().to_owned()
}
