//! A plugin that misbehaves on demand (config `mode`), to prove the host contains it.

use tributary_sdk::prelude::*;
use tributary_sdk::{Permission, tokens};

#[derive(Default)]
struct Misbehave;

/// One resource (named after the cursor) and a next cursor.
fn next_page(req: &ListRequest, next: String) -> Page {
    let id = format!("item-{}", req.cursor.as_deref().unwrap_or("start"));
    let mut page = Page::last(vec![Resource::with_content(Content::text(
        &id,
        "note",
        &id,
        "endless body",
    ))]);
    page.next_cursor = Some(next);
    page
}

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    // A frame the optimiser cannot fold into a loop.
    let frame = std::hint::black_box([n; 16]);
    recurse(frame[(n % 16) as usize] + 1) + frame[0]
}

fn page_with(title: String) -> Page {
    Page::last(vec![Resource::with_content(Content::text(
        "r", "note", &title, "",
    ))])
}

impl Provider for Misbehave {
    fn manifest() -> Manifest {
        ManifestBuilder::new("misbehave", "Misbehave")
            .allowed_host("api.misbehave.test")
            .allowed_host("config:host")
            .permission(Permission::RawToken)
            .rate_limits(600, None, 2)
            .auth(
                Auth::ApiKey("Key".into()),
                Injection::Header("X-Api-Key".into()),
            )
            .build()
    }

    fn list(&mut self, config: &Config, req: ListRequest) -> Result<Page, Error> {
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
            // A walk that never ends: the cursor it was given, given back.
            "same-cursor" => Ok(next_page(&req, req.cursor.clone().unwrap_or("c0".into()))),
            // A walk that never ends: a new cursor on every page, one new resource each.
            "endless" => {
                let n: u64 = req
                    .cursor
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                Ok(next_page(&req, (n + 1).to_string()))
            }
            "log-storm" => {
                let line = "z".repeat(1024);
                for _ in 0..100_000 {
                    log::info(&line);
                }
                Ok(page_with("stormed".into()))
            }
            "kv-fill" => {
                let value = vec![7u8; 1 << 20];
                let mut stored = 0;
                let refusal = loop {
                    match kv::set(&format!("blob-{stored}"), &value) {
                        Ok(()) => stored += 1,
                        Err(e) => break e.to_string(),
                    }
                    if stored >= 1000 {
                        break "never refused".into();
                    }
                };
                Ok(page_with(format!("{stored}|{refusal}")))
            }
            // Lists "asked"; its fetch answers for "someone-else".
            "wrong-id" => Ok(Page::last(vec![Resource::reference(
                "asked", "note", "asked", None,
            )])),
            // Five resources, one with a 100 KB id.
            "big-id" => Ok(Page::last(
                ["a", "b", &"x".repeat(100_000), "c", "d"]
                    .iter()
                    .map(|id| Resource::with_content(Content::text(id, "note", id, "fine body")))
                    .collect(),
            )),
            // The same id twice in one page (and once more among the deleted).
            "dup-ids" => {
                let mut page = Page::last(
                    ["dup", "dup", "solo"]
                        .iter()
                        .enumerate()
                        .map(|(i, id)| {
                            Resource::with_content(Content::text(
                                id,
                                "note",
                                id,
                                &format!("body {i}"),
                            ))
                        })
                        .collect(),
                );
                page.deleted = vec!["gone".into(), "gone".into(), "dup".into()];
                Ok(page)
            }
            "recurse" => Ok(page_with(recurse(std::hint::black_box(1)).to_string())),
            "oob" => {
                // Far past the end of linear memory.
                let p = std::hint::black_box(0xFFFF_FFF0usize) as *const u64;
                Ok(page_with(unsafe { p.read_volatile() }.to_string()))
            }
            "unreachable" => core::arch::wasm32::unreachable(),
            "div0" => {
                let d = std::hint::black_box(arg.len() as u32);
                Ok(page_with((100 / d).to_string()))
            }
            "one" => Ok(page_with("one page".into())),
            // Three references; fetching the middle one crashes the plugin.
            "fetch-trap" => Ok(Page::last(
                ["ok1", "boom", "ok2"]
                    .iter()
                    .map(|id| Resource::reference(id, "note", id, None))
                    .collect(),
            )),
            "retry-zero" => Err(Error::rate_limited(Some(0), "slow down, for no time")),
            "retry-forever" => Err(Error::rate_limited(Some(u64::MAX), "slow down, for ever")),
            other => Err(Error::invalid_config(format!("unknown mode {other:?}"))),
        }
    }

    fn fetch(&mut self, config: &Config, id: &str) -> Result<Content, Error> {
        if config.get("mode") == Some("fetch-trap") && id == "boom" {
            panic!("misbehave crashed fetching {id}");
        }
        if config.get("mode") == Some("wrong-id") {
            return Ok(Content::text(
                "someone-else",
                "note",
                "intruder",
                "not what was asked",
            ));
        }
        Ok(Content::text(id, "note", "ok", "well behaved"))
    }
}

tributary_sdk::export!(Misbehave);
