//! An OAuth 2.0 provider for the OAuth tests: its manifest declares the fake
//! authorization server, `check` asks `/me`, `list` asks `/items`, both with the
//! host-injected bearer token.

use serde::Deserialize;
use tributary_sdk::prelude::*;
use tributary_sdk::{ClientAuth, Oauth2};

#[derive(Default)]
struct Oauthy;

#[derive(Deserialize)]
struct Me {
    id: String,
    name: String,
}

impl Provider for Oauthy {
    fn manifest() -> Manifest {
        let oauth = Oauth2 {
            authorize_url: "https://auth.oauthy.test/authorize".into(),
            token_url: "https://auth.oauthy.test/token".into(),
            revoke_url: None,
            scopes: vec!["read".into(), "profile".into()],
            pkce: true,
            client_auth: ClientAuth::Basic,
            extra_params: vec![("access_type".into(), "offline".into())],
            scope_param: None,
            scope_separator: None,
            token_pointer: None,
        };
        ManifestBuilder::new("oauthy", "OAuthy")
            .auth(Auth::Oauth2(oauth), Injection::Bearer)
            .allowed_host("api.oauthy.test")
            .build()
    }

    fn check(&mut self, _config: &Config) -> Result<Account, Error> {
        let me: Me = http::Request::get("https://api.oauthy.test/me")
            .authenticated()
            .send()?
            .error_for_status()?
            .json()?;
        Ok(Account {
            id: me.id,
            name: me.name,
            email: None,
        })
    }

    fn list(&mut self, _config: &Config, _req: ListRequest) -> Result<Page, Error> {
        let items: Vec<String> = http::Request::get("https://api.oauthy.test/items")
            .authenticated()
            .send()?
            .error_for_status()?
            .json()?;
        let resources = items
            .iter()
            .map(|t| Resource::with_content(Content::text(t, "item", t, t)))
            .collect();
        Ok(Page::last(resources))
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        Err(Error::not_found(id))
    }
}

tributary_sdk::export!(Oauthy);
