//! A plugin that misbehaves on demand (config `mode`), to prove the host contains it.

use tributary_sdk::prelude::*;
use tributary_sdk::{Permission, tokens};

struct Misbehave;

fn page_with(title: String) -> Page {
    Page::last(vec![Resource::with_content(Content::text(
        "r", "note", &title, "",
    ))])
}

impl Provider for Misbehave {
    fn manifest() -> Manifest {
        ManifestBuilder::new("misbehave", "Misbehave")
            .allowed_host("api.misbehave.test")
            .permission(Permission::RawToken)
            .rate_limits(600, None, 2)
            .auth(
                Auth::ApiKey("Key".into()),
                Injection::Header("X-Api-Key".into()),
            )
            .build()
    }

    fn list(config: &Config, _req: ListRequest) -> Result<Page, Error> {
        let arg = config.get("arg").unwrap_or_default().to_string();
        match config.require("mode")? {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("misbehave panicked on purpose"),
            "http" => {
                let resp = http::Request::get(arg).send()?;
                Ok(page_with(format!("{} {}", resp.status(), resp.text())))
            }
            "http-auth" => {
                let resp = http::Request::get(arg).authenticated().send()?;
                Ok(page_with(resp.text()))
            }
            "kv-set" => {
                kv::set("shared-key", arg.as_bytes())?;
                Ok(page_with("stored".into()))
            }
            "kv-get" => {
                let v = kv::get("shared-key")?.map(|b| String::from_utf8_lossy(&b).into_owned());
                let keys = kv::list_keys("")?;
                Ok(page_with(format!(
                    "{}|{}",
                    v.unwrap_or_else(|| "<none>".into()),
                    keys.join(",")
                )))
            }
            "raw-token" => Ok(page_with(tokens::raw()?)),
            "secret" => Ok(page_with(
                secrets::get(&arg)?.unwrap_or_else(|| "<none>".into()),
            )),
            "sockets" => match std::net::TcpStream::connect(arg.as_str()) {
                Ok(_) => Ok(page_with("connected".into())),
                Err(e) => Err(Error::other(format!("socket refused: {e}"))),
            },
            "malformed" => Ok(Page {
                resources: vec![Resource::reference("", "note", "no id", None)],
                deleted: vec![],
                next_cursor: Some(String::new()),
                sync_token: None,
            }),
            "huge-title" => Ok(page_with("x".repeat(1 << 20))),
            "log-flood" => {
                log::info(&"y".repeat(1 << 20));
                Ok(page_with("logged".into()))
            }
            other => Err(Error::invalid_config(format!("unknown mode {other:?}"))),
        }
    }

    fn fetch(_config: &Config, id: &str) -> Result<Content, Error> {
        Ok(Content::text(id, "note", "ok", "well behaved"))
    }
}

tributary_sdk::export!(Misbehave);
