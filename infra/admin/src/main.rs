//! `carpool-admin`: operator command for pre-configured data. Works against the embedded store
//! of a local data directory or against the DynamoDB table of a deployment (credentials and
//! endpoint from the usual AWS environment, e.g. `AWS_PROFILE`, `AWS_ENDPOINT_URL`).

use carpool::clock::SystemClock;
use carpool::domain::campus::Campus;
use carpool::domain::email::Email;
use carpool::repo::accounts;
use carpool::repo::campuses;
use carpool::store::dynamo::DynamoStore;
use carpool::store::embedded::EmbeddedStore;
use carpool::store::Store;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(version, about = "Manage campus carpool operator data")]
struct Args {
    /// Use the embedded store in this data directory (as `carpool-local --data-dir`).
    #[arg(long, conflicts_with = "table")]
    data_dir: Option<PathBuf>,
    /// Use this DynamoDB table.
    #[arg(long, env = "CARPOOL_TABLE")]
    table: Option<String>,
    #[command(subcommand)]
    command: Command,
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
    let store = open_store(&args).await?;
    match args.command {
        Command::Campus(command) => campus(store.as_ref(), command).await,
        Command::User(command) => user(store.as_ref(), command).await,
    }
}

async fn user(store: &dyn Store, command: UserCommand) -> Result<(), Box<dyn std::error::Error>> {
    let (email, admin) = match &command {
        UserCommand::GrantAdmin { email } => (email, true),
        UserCommand::RevokeAdmin { email } => (email, false),
    };
    let email = Email::parse(email)?;
    let id = accounts::set_admin(store, &email, admin)
        .await?
        .ok_or(format!("no account has the email {email}"))?;
    let verb = if admin { "granted to" } else { "revoked from" };
    println!("admin role {verb} {email} (user {id})");
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

async fn open_store(args: &Args) -> Result<Arc<dyn Store>, Box<dyn std::error::Error>> {
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
