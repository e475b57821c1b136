//! Prints the admin API's OpenAPI document, as the server serves it at /api/v1/openapi.json.
//! `scripts/openapi` writes it to docs/openapi.json (and `--check` compares).

fn main() {
    print!("{}", tokendesk_server::api::openapi::document_json());
}
