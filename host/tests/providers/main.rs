//! First-party provider plugins inside the real runtime, each against a fake of its API
//! written from the provider's reference. One test binary: every module links the host
//! once.

#[path = "../common/mod.rs"]
mod common;

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
mod slack;
mod slack_connect;
mod slack_fake;
