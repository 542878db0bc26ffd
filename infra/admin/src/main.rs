//! `carpool-admin`: operator command for pre-configured data and people's requests that come by
//! mail. Works against the embedded store of a local data directory (with `carpool-local`
//! stopped: the store is one process's at a time) or against the DynamoDB table of a deployment
//! (credentials and endpoint from the usual AWS environment, e.g. `AWS_PROFILE`,
//! `AWS_ENDPOINT_URL`; `user delete` and `user export` also need the account function's
//! variables, see the README).

use carpool::clock::{Clock, SystemClock};
use carpool::config::{AuthConfig, LambdaConfig};
use carpool::documents::local::LocalDocuments;
use carpool::domain::campus::Campus;
use carpool::domain::email::Email;
use carpool::driver::Documents;
use carpool::http::{AppState, Ports};
use carpool::mail::outbox::OutboxMailer;
use carpool::push::local::LocalPusher;
use carpool::repo::accounts;
use carpool::repo::campuses;
use carpool::seal::KeyRing;
use carpool::store::dynamo::DynamoStore;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::Store;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(version, about = "Manage campus carpool operator data")]
struct Args {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// Which store, and for a local one what `carpool-local` would know of it.
#[derive(clap::Args)]
struct StoreArgs {
    /// Use the embedded store in this data directory (as `carpool-local --data-dir`).
    #[arg(long, conflicts_with = "table")]
    data_dir: Option<PathBuf>,
    /// Use this DynamoDB table.
    #[arg(long, env = "CARPOOL_TABLE")]
    table: Option<String>,
    /// The app's address in mail links of a local data directory (as `carpool-local --app-url`).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    app_url: String,
}

#[derive(Subcommand)]
enum Command {
    /// Campuses: the only way they are created (registration never creates one).
    #[command(subcommand)]
    Campus(CampusCommand),
    /// Users: the campus-admin role (driver reviews, suspensions and audit of their own campus)
    /// is granted and revoked only here.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Make the account with this email an admin of its campus.
    GrantAdmin { email: String },
    /// Take the admin role away.
    RevokeAdmin { email: String },
    /// Delete the account as `POST /api/auth/account/delete` does (a request that came by mail,
    /// its sender checked): at once, for good, with the confirmation mail.
    Delete { email: String },
    /// Write everything stored about the account, as `GET /api/auth/account/export` does.
    Export {
        email: String,
        /// Where to write the JSON document.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum CampusCommand {
    /// List all campuses as JSON.
    List,
    /// Add one campus; fails if its id or a domain is taken.
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// A mail domain of the campus (repeat for several; the first is primary).
        #[arg(long = "domain", required = true)]
        domains: Vec<String>,
        /// Also admit subdomains such as cs.<domain>.
        #[arg(long)]
        allow_subdomains: bool,
        /// IANA time zone, e.g. America/New_York.
        #[arg(long)]
        time_zone: String,
    },
    /// Add every campus of a JSON file (format of infra/campuses.json) that is not there yet.
    Load { file: PathBuf },
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carpool-admin: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Args { store, command } = args;
    match command {
        Command::Campus(command) => campus(open_store(&store).await?.as_ref(), command).await,
        Command::User(UserCommand::GrantAdmin { email }) => set_admin(&store, &email, true).await,
        Command::User(UserCommand::RevokeAdmin { email }) => set_admin(&store, &email, false).await,
        Command::User(UserCommand::Delete { email }) => delete(&store, &email).await,
        Command::User(UserCommand::Export { email, out }) => export(&store, &email, &out).await,
    }
}

async fn set_admin(store: &StoreArgs, email: &str, admin: bool) -> Result<(), Box<dyn std::error::Error>> {
    let email = Email::parse(email)?;
    let id = accounts::set_admin(open_store(store).await?.as_ref(), &email, admin)
        .await?
        .ok_or(format!("no account has the email {email}"))?;
    let verb = if admin { "granted to" } else { "revoked from" };
    println!("admin role {verb} {email} (user {id})");
    Ok(())
}

/// A deletion requested by mail (its sender checked), as the API runs it.
async fn delete(store: &StoreArgs, email: &str) -> Result<(), Box<dyn std::error::Error>> {
    let email = Email::parse(email)?;
    let (state, local) = open_state(store).await?;
    let id =
        state.account.delete_by_operator(&email).await?.ok_or(format!("no account has the email {email}"))?;
    if local {
        // No carpool-local is running (it holds the store): the confirmation goes out now.
        state.mail.deliver_due().await?;
    }
    println!("deleted the account of {email} (user {id}); a confirmation was mailed to the address");
    Ok(())
}

/// An export requested by mail, written to `out`.
async fn export(store: &StoreArgs, email: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let email = Email::parse(email)?;
    let (state, _) = open_state(store).await?;
    let bytes = state
        .account
        .export_by_operator(&email, out)
        .await?
        .ok_or(format!("no account has the email {email}"))?;
    println!("wrote the export of {email} to {} ({bytes} bytes)", out.display());
    Ok(())
}

async fn campus(store: &dyn Store, command: CampusCommand) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        CampusCommand::List => {
            let all = campuses::list(store).await?;
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        CampusCommand::Add { id, name, domains, allow_subdomains, time_zone } => {
            let campus = Campus {
                id,
                name,
                domains: domains.iter().map(|d| d.trim().to_lowercase()).collect(),
                allow_subdomains,
                time_zone,
            };
            campus.validate()?;
            campuses::add(store, &campus).await?;
            println!("added campus {}", campus.id);
        }
        CampusCommand::Load { file } => {
            let list = campuses::parse_list(&std::fs::read_to_string(&file)?)?;
            let added = campuses::seed(store, &list).await?;
            println!("added {added} of {} campuses from {}", list.len(), file.display());
        }
    }
    Ok(())
}

async fn open_store(args: &StoreArgs) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
    let clock = Arc::new(SystemClock);
    match (&args.data_dir, &args.table) {
        (Some(dir), _) => Ok(Arc::new(EmbeddedStore::open(dir, clock)?)),
        (None, Some(table)) => {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            Ok(Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone(), clock)))
        }
        (None, None) => Err("choose a store: --data-dir DIR or --table NAME (or CARPOOL_TABLE)".into()),
    }
}

/// The use cases over the chosen store, for the commands that run them whole: locally as
/// `carpool-local` wires them (its key ring, photos and outbox in the data directory), or a
/// deployment's from the environment. Also answers whether it is local.
async fn open_state(args: &StoreArgs) -> Result<(AppState, bool), Box<dyn std::error::Error>> {
    let Some(dir) = &args.data_dir else {
        let table =
            args.table.clone().ok_or("choose a store: --data-dir DIR or --table NAME (or CARPOOL_TABLE)")?;
        let config = LambdaConfig::from_lookup(|var| match var {
            "CARPOOL_TABLE" => Some(table.clone()),
            _ => std::env::var(var).ok(),
        })?;
        config.require(true, true)?;
        return Ok((carpool::lambda::deployment_state(config).await?.0, false));
    };
    let key_file = dir.join("key-ring");
    if !key_file.exists() {
        return Err(
            format!("{} has no key ring: is it a carpool-local data directory?", dir.display()).into()
        );
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let keys = KeyRing::load_or_create(&key_file)?;
    let mut config = AuthConfig::local(&args.app_url);
    config.key_ring = Some(keys.clone());
    let store = Arc::new(EmbeddedStore::open(dir, clock.clone())?);
    let mailer =
        Arc::new(OutboxMailer::new(dir.join("outbox"), "Campus Carpool <no-reply@carpool.local>".into())?);
    let files = LocalDocuments::new(dir, &args.app_url, keys, clock.clone());
    let documents = Documents { uploads: Arc::new(files.clone()), ocr: Arc::new(files) };
    let ports = Ports { store, mailer, clock, documents, pusher: Arc::new(LocalPusher::default()) };
    Ok((AppState::new(ports, config)?, true))
}
