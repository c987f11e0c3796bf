//! The `tributary` command: `serve` and the admin subcommands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tributary::api::PluginView;
use tributary::server::{Host, HostConfig};

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
    },
    /// Manage provider plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
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
    match cli.command {
        Command::Serve {
            addr,
            allow_private_egress,
        } => {
            config.allow_private_egress = allow_private_egress;
            let host = Host::open(&config).await?;
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            let local = listener.local_addr()?;
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
            println!(
                "  admin token:  {} (send as `Authorization: Bearer …` to /api/admin/*)",
                data.join("admin-token").display()
            );
            println!("  health:       http://{local}/health");
            host.serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
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
