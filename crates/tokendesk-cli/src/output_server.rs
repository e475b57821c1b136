//! Printing what the team server's commands answer: sessions, staff, API tokens.

use tokendesk_core::api::{ApiTokenInfo, NewApiToken, StaffMember, WhoAmI};

use crate::output::{Out, or_dash, print_json, table};
use crate::stdio::{errln, outln};

impl Out {
    pub fn signed_in(&self, server: &url::Url, who: &WhoAmI) {
        // The session's token stays in the keyring; it is never printed.
        let shown = WhoAmI {
            token: None,
            ..who.clone()
        };
        if self.json {
            print_json(&shown);
        } else {
            outln!(
                "Signed in to {server} as {} ({}), until {}",
                who.name,
                who.role,
                or_dash(who.expires_at.as_deref())
            );
        }
    }

    pub fn staff(&self, list: &[StaffMember]) {
        if self.json {
            return print_json(&list);
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|m| {
                vec![
                    m.email.clone(),
                    m.role.to_string(),
                    m.added_at.to_rfc3339(),
                    m.added_by.clone(),
                ]
            })
            .collect();
        table(&["EMAIL", "ROLE", "ADDED", "BY"], &rows);
    }

    pub fn staff_member(&self, m: &StaffMember) {
        if self.json {
            print_json(m);
        } else {
            outln!("{} is staff with the role {}", m.email, m.role);
        }
    }

    pub fn api_tokens(&self, list: &[ApiTokenInfo]) {
        if self.json {
            return print_json(&list);
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.role.to_string(),
                    t.created_at.to_rfc3339(),
                    t.last_used_at.map_or("-".into(), |t| t.to_rfc3339()),
                    t.revoked_at.map_or("-".into(), |t| t.to_rfc3339()),
                ]
            })
            .collect();
        table(&["NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"], &rows);
    }

    /// The one time an API token is shown.
    pub fn new_api_token(&self, t: &NewApiToken) {
        if self.json {
            print_json(t);
        } else {
            outln!("{}", t.token);
            errln!(
                "API token {} ({}) made. It is shown this once: keep it in your automation's \
                 secret store and give it as TOKENDESK_TOKEN.",
                t.name,
                t.role
            );
        }
    }
}
