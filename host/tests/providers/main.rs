//! First-party provider plugins inside the real runtime, each against a fake of its API
//! written from the provider's reference; and the web UI and sign-in, in a real browser
//! against the same fakes. One test binary: every module links the host once.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod calendar_fake;
mod discord;
mod discord_connect;
mod discord_fake;
mod drive_fake;
mod gcalendar;
mod gdrive;
mod gdrive_connect;
mod gdrive_sync;
mod github;
mod github_connect;
mod github_fake;
mod github_repo;
mod gitlab;
mod gitlab_fake;
mod gmail;
mod gmail_connect;
mod gmail_fake;
mod google_all;
mod google_oauth;
mod jwt_sign_in;
mod openapi;
mod sign_in;
mod slack;
mod slack_connect;
mod slack_fake;
mod ui_admin;
mod ui_person;
