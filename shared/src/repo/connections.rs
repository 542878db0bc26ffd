//! Open WebSocket connections. Each has two items holding the same record, written and deleted
//! together: `CONN#<connectionId>` / `CONN` (whose connection a frame came from, and under which
//! session) and `USER#<userId>` / `CONN#<connectionId>` (a user's connections are one Query, for
//! delivery and for closing those of ended sessions). Both expire a little after API Gateway's 2-hour limit on a connection, so one whose
//! `$disconnect` never ran is not kept; `$disconnect` and a `410 Gone` delete them.

use super::{from_item, get_record, to_attrs};
use crate::repo::accounts::user_partition;
use crate::repo::sessions::session_key;
use crate::store::{Cond, Item, Key, Query, SkRange, Store, StoreError, Write};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

/// API Gateway closes every connection after 2 hours; the records outlive that a little.
pub const LIFETIME: Duration = Duration::minutes(125);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionRecord {
    pub id: String,
    pub user_id: Ulid,
    /// The session's digest (its key, not its token): frames are refused once it is gone.
    pub session: String,
    #[serde(with = "time::serde::rfc3339")]
    pub connected_at: OffsetDateTime,
}

fn connection_key(id: &str) -> Key {
    Key::new(format!("CONN#{id}"), "CONN")
}

fn user_connection_key(user: Ulid, id: &str) -> Key {
    Key::new(user_partition(user), format!("CONN#{id}"))
}

/// The connection's items, on condition that its session is still there: a session ended
/// between the handshake's check and this write leaves no connection behind.
pub fn put(connection: &ConnectionRecord) -> Vec<Write> {
    let expires = (connection.connected_at + LIFETIME).unix_timestamp();
    let item = |key| Item::new(key, to_attrs(connection)).expiring(expires);
    vec![
        Write::Check { key: session_key(connection.user_id, &connection.session), cond: Cond::Exists },
        Write::Put { item: item(connection_key(&connection.id)), cond: Cond::Always },
        Write::Put {
            item: item(user_connection_key(connection.user_id, &connection.id)),
            cond: Cond::Always,
        },
    ]
}

pub fn delete(user: Ulid, id: &str) -> Vec<Write> {
    vec![
        Write::Delete { key: connection_key(id), cond: Cond::Always },
        Write::Delete { key: user_connection_key(user, id), cond: Cond::Always },
    ]
}

pub async fn get(store: &dyn Store, id: &str) -> Result<Option<ConnectionRecord>, StoreError> {
    get_record(store, connection_key(id)).await
}

/// A user's open connections.
pub async fn of_user(store: &dyn Store, user: Ulid) -> Result<Vec<ConnectionRecord>, StoreError> {
    let query = Query::new(user_partition(user), SkRange::Prefix("CONN#".into()));
    super::query_all(store, query).await?.iter().map(from_item).collect()
}
