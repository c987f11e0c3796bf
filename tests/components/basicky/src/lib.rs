//! A basic-auth provider for the connect tests: `check` asks `/whoami`, with the
//! credentials the host injects as HTTP Basic.

use serde::Deserialize;
use tributary_sdk::prelude::*;

#[derive(Default)]
struct Basicky;

#[derive(Deserialize)]
struct WhoAmI {
    user: String,
}

impl Provider for Basicky {
    fn manifest() -> Manifest {
        ManifestBuilder::new("basicky", "Basicky")
            .auth(Auth::Basic, Injection::Basic)
            .allowed_host("api.basicky.test")
            .build()
    }

    fn check(&mut self, _config: &Config) -> Result<Account, Error> {
        let who: WhoAmI = http::Request::get("https://api.basicky.test/whoami")
            .authenticated()
            .send()?
            .error_for_status()?
            .json()?;
        Ok(Account {
            id: who.user.clone(),
            name: who.user,
            email: None,
        })
    }

    fn list(&mut self, _config: &Config, _req: ListRequest) -> Result<Page, Error> {
        Ok(Page::last(vec![]))
    }

    fn fetch(&mut self, _config: &Config, id: &str) -> Result<Content, Error> {
        Err(Error::not_found(id))
    }
}

tributary_sdk::export!(Basicky);
