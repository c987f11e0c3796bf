//! The `tributary` command: `serve` and the admin subcommands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tributary::api::PluginView;
use tributary::db::Role;
use tributary::server::{Host, HostConfig};

// glibc's allocator spent a tenth of the webhook path's CPU in malloc, free and their
// consolidation; mimalloc keeps per-thread pages (docs/decisions.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tributary",
    version,
    about = "Keeps knowledge in sync from the services you use into a searchable index"
)]
struct Cli {
    /// Where Tributary keeps its database, plugins and keys.
    #[arg(
        long,
        env = "TRIBUTARY_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    data_dir: PathBuf,
    /// PostgreSQL URL for scale-out; SQLite under the data dir when unset.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the REST API and run plugins.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "TRIBUTARY_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
        /// Let plugins reach loopback and private networks (development only).
        #[arg(long, env = "TRIBUTARY_ALLOW_PRIVATE_EGRESS")]
        allow_private_egress: bool,
        /// Largest file the host downloads for a plugin (`body.download`), in bytes.
        #[arg(long, env = "TRIBUTARY_MAX_DOWNLOAD_BYTES", default_value_t = 256 << 20)]
        max_download_bytes: usize,
        /// Base URL browsers and providers reach this server at (OAuth redirect URIs);
        /// `http://<addr>` when unset.
        #[arg(long, env = "TRIBUTARY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Where browsers land after connecting an account.
        #[arg(long, env = "TRIBUTARY_FRONTEND_URL")]
        frontend_url: Option<String>,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage organizations.
    Orgs {
        #[command(subcommand)]
        command: OrgsCommand,
    },
    /// API keys and encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage provider plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// The search index.
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
}

#[derive(Subcommand)]
enum IndexCommand {
    /// Compare the synced-resources records with the vector store; exit 1 on drift.
    /// Run it with the server stopped when the index is embedded (one process owns it).
    Verify {
        /// Make them agree: delete orphaned points, forget resources without points
        /// and queue a full sync of their integrations to index them again.
        #[arg(long)]
        repair: bool,
    },
    /// Copy the index (every point, its vectors and payload) into a Qdrant server's
    /// collection, so the host can move to `QDRANT_URL` without syncing again. Stop the
    /// server first; running it again after an interruption is safe.
    Migrate {
        /// The Qdrant server's gRPC URL (`http://qdrant:6334`); `QDRANT_API_KEY`,
        /// `QDRANT_SHARDS`, `QDRANT_REPLICATION` and the other `QDRANT_*` settings apply.
        #[arg(long)]
        to: String,
        /// The collection to copy into (default `QDRANT_COLLECTION`, else `tributary`).
        #[arg(long)]
        collection: Option<String>,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Validate a .wasm file and install it into the plugins dir.
    Install {
        /// The plugin file.
        file: PathBuf,
    },
    /// Remove a provider's plugin file (its data is kept).
    Remove {
        /// Provider id.
        id: String,
    },
    /// List loaded plugins and refused files.
    List,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user.
    Create {
        /// Email (unique).
        #[arg(long)]
        email: String,
        /// Make the user a platform admin.
        #[arg(long)]
        admin: bool,
        /// Read a password from the first line of stdin; otherwise a one-time sign-in
        /// link is printed.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        link: LinkBase,
    },
    /// Set a user's password (first line of stdin); their sessions end.
    SetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Print a one-time sign-in link (valid 15 minutes).
    SignInLink {
        /// The user's email.
        #[arg(long)]
        email: String,
        #[command(flatten)]
        link: LinkBase,
    },
}

/// Where printed sign-in links point.
#[derive(clap::Args)]
struct LinkBase {
    /// Base URL the sign-in link points at.
    #[arg(
        long,
        env = "TRIBUTARY_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    public_url: String,
}

#[derive(Subcommand)]
enum OrgsCommand {
    /// Create an organization owned by an existing user.
    Create {
        /// URL slug.
        #[arg(long)]
        slug: String,
        /// Owner's email.
        #[arg(long)]
        owner: String,
    },
    /// Add a member (or change their role).
    AddMember {
        /// Organization slug.
        #[arg(long)]
        slug: String,
        /// Member's email.
        #[arg(long)]
        email: String,
        /// `member` or `admin`.
        #[arg(long, default_value = "member")]
        role: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create an API key for a user; printed once, alone on the last line.
    Create {
        /// The user's email.
        #[arg(long)]
        email: String,
    },
    /// Re-encrypt every stored secret under a new encryption key.
    Rotate,
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Account and key commands. Only key rotation needs the whole host (vault and key
/// ring); the rest touch the database alone, so they do not load plugins.
async fn admin_command(config: &HostConfig, command: Command) -> anyhow::Result<()> {
    if let Command::Keys {
        command: KeysCommand::Rotate,
    } = command
    {
        let (id, n) = Host::open(config).await?.rotate_keys().await?;
        println!("rotated to key {id}; re-encrypted {n} secrets");
        return Ok(());
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let db = &tributary::db::Db::connect(&config.database_url()).await?;
    let user = |email: String| async move {
        db.user_by_email(&email)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no user with email {email}"))
    };
    match command {
        Command::Users {
            command:
                UsersCommand::Create {
                    email,
                    admin,
                    password_stdin,
                    link,
                },
        } => {
            let email = email.trim().to_lowercase();
            if !email.contains('@') || email.len() > 254 {
                anyhow::bail!("{email:?} is not an email address");
            }
            if db.user_by_email(&email).await?.is_some() {
                anyhow::bail!("a user with email {email} exists");
            }
            let u = db.create_user(&email, admin).await?;
            println!(
                "created user {} ({}){}",
                u.email,
                u.id,
                if admin { ", platform admin" } else { "" }
            );
            if password_stdin {
                set_password(db, &u).await?;
            } else {
                print_sign_in_link(db, &u, &link.public_url).await?;
            }
        }
        Command::Users {
            command: UsersCommand::SetPassword { email },
        } => {
            let u = user(email).await?;
            set_password(db, &u).await?;
        }
        Command::Users {
            command: UsersCommand::SignInLink { email, link },
        } => {
            let u = user(email).await?;
            print_sign_in_link(db, &u, &link.public_url).await?;
        }
        Command::Orgs {
            command: OrgsCommand::Create { slug, owner },
        } => {
            if !valid_slug(&slug) {
                anyhow::bail!("slugs are 1..=64 of [a-z0-9-]");
            }
            if db.org_by_slug(&slug).await?.is_some() {
                anyhow::bail!("organization {slug} exists");
            }
            let owner = user(owner).await?;
            let org = db.create_org(&slug, &owner).await?;
            println!("created organization {} owned by {}", org.slug, owner.email);
        }
        Command::Orgs {
            command: OrgsCommand::AddMember { slug, email, role },
        } => {
            let role = match Role::parse(&role) {
                Some(r @ (Role::Member | Role::Admin)) => r,
                _ => anyhow::bail!("role must be `member` or `admin`"),
            };
            let org = db
                .org_by_slug(&slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no organization {slug}"))?;
            let member = user(email).await?;
            db.set_member(&org, &member, role).await?;
            println!("{} is now {} of {}", member.email, role.as_str(), org.slug);
        }
        Command::Keys {
            command: KeysCommand::Create { email },
        } => {
            let u = user(email).await?;
            let key = db.create_api_key(&u).await?;
            println!(
                "API key for {} (shown once; send as `Authorization: Bearer <key>`):",
                u.email
            );
            println!("{key}");
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        }
        | Command::Serve { .. }
        | Command::Index { .. }
        | Command::Plugins { .. } => unreachable!("handled before"),
    }
    Ok(())
}

/// Read the first line of stdin as `user`'s password, check it and store its hash.
async fn set_password(db: &tributary::db::Db, user: &tributary::db::User) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    tributary::api::session::check_password_strength(password)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let phc = tributary::api::session::hash_password(password)?;
    db.set_password_hash(&user.id, Some(&phc)).await?;
    db.delete_sessions_of(&user.id).await?;
    println!("password set for {}", user.email);
    Ok(())
}

/// Print a one-time sign-in link for `user` under `public_url`.
async fn print_sign_in_link(
    db: &tributary::db::Db,
    user: &tributary::db::User,
    public_url: &str,
) -> anyhow::Result<()> {
    let ttl = tributary::api::session::LINK_TTL;
    let token = db
        .create_sign_in_link(&user.id, tributary::db::now_ms() + ttl.as_millis() as i64)
        .await?;
    // The token rides in the fragment: browsers never send it to a server or a log.
    println!(
        "one-time sign-in link for {} (valid {} minutes):",
        user.email,
        ttl.as_secs() / 60
    );
    println!("{}/#/link/{token}", public_url.trim_end_matches('/'));
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let mut config = HostConfig::new(&cli.data_dir);
    config.database_url = cli.database_url;
    config.index = tributary::ingest::IndexConfig::from_env()?;
    match cli.command {
        Command::Serve {
            addr,
            allow_private_egress,
            max_download_bytes,
            public_url,
            frontend_url,
        } => {
            config.allow_private_egress = allow_private_egress;
            config.max_download_bytes = max_download_bytes;
            config.limits = tributary::runtime::Limits::from_env();
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let local = listener.local_addr()?;
            config.public_url = public_url.unwrap_or_else(|| format!("http://{local}"));
            config.frontend_url = frontend_url;
            config.jwt = tributary::jwt::JwtConfig::from_env()?;
            let host = Host::open(&config).await?;
            let data = std::fs::canonicalize(&config.data_dir)?;
            println!("Tributary is serving on http://{local}");
            println!("  data dir:     {}", data.display());
            println!(
                "  database:     {}",
                if config.database_url.is_some() {
                    "PostgreSQL (DATABASE_URL)".to_string()
                } else {
                    data.join("tributary.db").display().to_string()
                }
            );
            println!(
                "  plugins dir:  {} ({} loaded, watched for changes)",
                data.join("plugins").display(),
                host.runtime.plugins().len()
            );
            let keys = if std::env::var_os("TOKEN_ENCRYPTION_KEY").is_some() {
                "TOKEN_ENCRYPTION_KEY".to_string()
            } else {
                data.join("keys.json").display().to_string()
            };
            println!("  encryption:   {keys}");
            println!("  index:        {}", config.index.describe(&data));
            println!("  API docs:     http://{local}/api/openapi.json");
            println!(
                "  first admin:  tributary users create --email you@example.com --admin && tributary keys create --email you@example.com"
            );
            println!("  health:       http://{local}/health");
            host.serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
        }
        Command::Index {
            command: IndexCommand::Verify { repair },
        } => {
            let db = tributary::db::Db::connect(&config.database_url()).await?;
            let ingest = config.index.open(&config.data_dir).await?;
            let report = tributary::ingest::verify(&db, ingest.store().as_ref(), repair).await?;
            for d in &report.drift {
                println!(
                    "integration {}: {} recorded without points, {} points without a record",
                    d.integration_id,
                    d.missing.len(),
                    d.orphaned.len()
                );
            }
            for id in &report.unknown_integrations {
                println!("integration {id}: points of an integration that no longer exists");
            }
            println!(
                "{} integrations, {} indexed resources: {}",
                report.integrations,
                report.resources,
                match (report.clean(), repair) {
                    (true, _) => "records and index agree",
                    (false, true) =>
                        "drift repaired (full syncs queued where resources were missing)",
                    (false, false) => "DRIFT (run with --repair to fix)",
                }
            );
            if !report.clean() && !repair {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Index {
            command: IndexCommand::Migrate { to, collection },
        } => {
            let mut target = tributary::index::ServerConfig::from_env(&to)?;
            if let Some(c) = collection {
                target.collection = c;
            }
            if config.index.server.as_ref().is_some_and(|s| {
                s.url.trim_end_matches('/') == target.url.trim_end_matches('/')
                    && s.collection == target.collection
            }) {
                anyhow::bail!("the target is the index in use (QDRANT_URL and its collection)");
            }
            let from: std::sync::Arc<dyn tributary::index::VectorStore> = match &config.index.server
            {
                Some(s) => std::sync::Arc::new(tributary::index::QdrantStore::open_as_is(s).await?),
                None => std::sync::Arc::new(tributary::index::EdgeStore::open_as_is(
                    &config.data_dir.join("index"),
                )?),
            };
            let into = tributary::index::QdrantStore::open(&target, from.dense_size()).await?;
            eprintln!(
                "copying {} into {}",
                from.describe(),
                tributary::index::VectorStore::describe(&into)
            );
            let mut shown = 0;
            let report = tributary::index::migrate(from.as_ref(), &into, |n| {
                if n >= shown + 10_000 {
                    shown = n;
                    eprintln!("  {n} points copied");
                }
            })
            .await?;
            println!(
                "{} points copied ({} in the source); the collection held {} before and {} now",
                report.copied, report.source_points, report.target_before, report.target_after
            );
            if report.target_after < report.source_points {
                anyhow::bail!("the collection holds fewer points than the source");
            }
            println!(
                "next: start Tributary with QDRANT_URL={} QDRANT_COLLECTION={}",
                tributary::index::redacted(&target.url),
                target.collection
            );
            Ok(())
        }
        command @ (Command::Users { .. } | Command::Orgs { .. } | Command::Keys { .. }) => {
            admin_command(&config, command).await
        }
        Command::Plugins { command } => {
            let host = Host::open(&config).await?;
            match command {
                PluginsCommand::Install { file } => {
                    let bytes = std::fs::read(&file)
                        .with_context(|| format!("reading {}", file.display()))?;
                    let p = host.runtime.install(bytes).await?;
                    println!(
                        "installed {} {} as {}",
                        p.manifest.id, p.manifest.version, p.file_name
                    );
                }
                PluginsCommand::Remove { id } => {
                    if !host.runtime.remove(&id).await? {
                        anyhow::bail!("no plugin `{id}` is installed");
                    }
                    println!("removed {id}; its data is kept");
                }
                PluginsCommand::List => {
                    for p in host.runtime.plugins() {
                        let v = PluginView::new(&p);
                        println!("{:<20} {:<10} {:<24} {}", v.id, v.version, v.file, v.name);
                    }
                    for f in host
                        .runtime
                        .files()
                        .into_iter()
                        .filter(|f| f.status == "refused")
                    {
                        println!("refused {}: {}", f.file_name, f.error.unwrap_or_default());
                    }
                }
            }
            Ok(())
        }
    }
}
