//! The production store: one DynamoDB table (`pk`/`sk`, indexes `gsi1` and `gsi2`, TTL attribute
//! `ttl`).
//! Every port call is exactly one DynamoDB request (plus bounded retries), reads are strongly
//! consistent, and conditions are DynamoDB condition expressions, so they hold under concurrency.

use super::{Attrs, Cond, Cursor, Index, Item, Key, Page, Query, SkRange, Store, StoreError, Write};
use crate::clock::Clock;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, ReturnValue,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

type Av = HashMap<String, AttributeValue>;

/// Attempts of a transaction that DynamoDB cancelled for a conflict with another one.
const CONFLICT_ATTEMPTS: u32 = 4;
/// Attempts at keys a BatchGetItem left unprocessed (throttling).
const BATCH_ATTEMPTS: u32 = 5;

pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoStore { client, table: table.into(), clock }
    }

    fn now(&self) -> i64 {
        self.clock.epoch_seconds()
    }
}

/// Creates the table as `template.yaml` declares it (tests and local tooling; production tables
/// come from the template).
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(sdk_build)
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(sdk_build)
    };
    let mut indexes = Vec::new();
    let mut definitions = vec![attr("pk")?, attr("sk")?];
    for index in Index::ALL {
        let (name, pk, sk) = index.names();
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(sdk_build)?,
        );
        definitions.extend([attr(pk)?, attr(sk)?]);
    }
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(sdk)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()
                .map_err(sdk_build)?,
        )
        .send()
        .await
        .map_err(sdk)?;
    Ok(())
}

/// Error codes of a DynamoDB that is throttling or failing: the request may succeed later.
const RETRYABLE: [&str; 6] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// A failed call: no answer (network, timeout) or a throttling or failing DynamoDB is
/// `Unavailable`; anything else DynamoDB refused (validation, a missing table, access denied) is
/// a bug, `Corrupt`, which no retry mends. Of a refusal only its code and message are kept (the
/// error's full form holds the raw response, which may quote item data).
fn sdk<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(refused) => {
            let code = refused.code().unwrap_or("Unknown");
            let detail = format!("{code}: {}", refused.message().unwrap_or_default());
            if RETRYABLE.contains(&code) {
                StoreError::Unavailable(detail)
            } else {
                StoreError::Corrupt(detail)
            }
        }
        None => StoreError::Unavailable(DisplayErrorContext(e).to_string()),
    }
}

fn sdk_build(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn key_av(key: &Key) -> Av {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn to_av(item: &Item) -> Result<Av, StoreError> {
    let mut av: Av = serde_dynamo::to_item(&item.attrs).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    av.extend(key_av(&item.key));
    for index in Index::ALL {
        if let Some(g) = item.index_key(index) {
            let (_, pk, sk) = index.names();
            av.insert(pk.into(), s(&g.pk));
            av.insert(sk.into(), s(&g.sk));
        }
    }
    if let Some(at) = item.expires_at {
        av.insert("ttl".into(), AttributeValue::N(at.to_string()));
    }
    Ok(av)
}

fn text(av: &mut Av, name: &str) -> Option<String> {
    match av.remove(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn from_av(mut av: Av) -> Result<Item, StoreError> {
    let corrupt = || StoreError::Corrupt("item without string pk/sk".into());
    let key =
        Key { pk: text(&mut av, "pk").ok_or_else(corrupt)?, sk: text(&mut av, "sk").ok_or_else(corrupt)? };
    let mut index_key = |index: Index| {
        let (_, pk, sk) = index.names();
        match (text(&mut av, pk), text(&mut av, sk)) {
            (Some(pk), Some(sk)) => Some(Key { pk, sk }),
            _ => None,
        }
    };
    let (gsi1, gsi2) = (index_key(Index::Gsi1), index_key(Index::Gsi2));
    let expires_at = match av.remove("ttl") {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    };
    let attrs: Attrs = serde_dynamo::from_item(av).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item { key, gsi1, gsi2, expires_at, attrs })
}

/// A condition expression with the names and values it uses.
#[derive(Default)]
struct Expr {
    text: Option<String>,
    names: HashMap<String, String>,
    values: Av,
}

/// Expired items count as absent, in conditions as on reads.
fn condition(cond: &Cond, now: i64) -> Result<Expr, StoreError> {
    const LIVE: &str = "attribute_exists(pk) AND (attribute_not_exists(#ttl) OR #ttl > :now)";
    let mut expr = Expr {
        text: None,
        names: HashMap::from([("#ttl".to_owned(), "ttl".to_owned())]),
        values: HashMap::from([(":now".to_owned(), AttributeValue::N(now.to_string()))]),
    };
    let text = match cond {
        Cond::Always => return Ok(Expr::default()),
        Cond::NotExists => "attribute_not_exists(pk) OR #ttl <= :now".to_owned(),
        Cond::Exists => LIVE.to_owned(),
        Cond::Equals { attr, value } => {
            expr.names.insert("#eq".into(), (*attr).to_owned());
            if value.is_null() {
                expr.values.insert(":null".into(), s("NULL"));
                format!("{LIVE} AND (attribute_not_exists(#eq) OR attribute_type(#eq, :null))")
            } else {
                let av = serde_dynamo::to_attribute_value(value)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                expr.values.insert(":eq".into(), av);
                format!("{LIVE} AND #eq = :eq")
            }
        }
    };
    expr.text = Some(text);
    Ok(expr)
}

fn opt<T: Clone + Default + PartialEq>(m: T) -> Option<T> {
    (m != T::default()).then_some(m)
}

/// Attaches a condition expression to any of the SDK's request builders that take one.
trait Conditioned: Sized {
    fn condition(self, expr: Expr) -> Self;
}

macro_rules! conditioned {
    ($($builder:ty),*) => {$(
        impl Conditioned for $builder {
            fn condition(self, expr: Expr) -> Self {
                self.set_condition_expression(expr.text)
                    .set_expression_attribute_names(opt(expr.names))
                    .set_expression_attribute_values(opt(expr.values))
            }
        }
    )*};
}

conditioned!(
    PutItemFluentBuilder,
    UpdateItemFluentBuilder,
    DeleteItemFluentBuilder,
    PutBuilder,
    UpdateBuilder,
    DeleteBuilder,
    ConditionCheckBuilder
);

/// `SET #a0 = :a0, ...` for an update, merged with the condition's names and values.
fn update_expr(set: &Attrs, expires_at: Option<i64>, cond: Expr) -> Result<(String, Expr), StoreError> {
    let mut expr = cond;
    let mut clauses = Vec::new();
    let values: Av = serde_dynamo::to_item(set).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    for (i, (name, value)) in values.into_iter().enumerate() {
        expr.names.insert(format!("#a{i}"), name);
        expr.values.insert(format!(":a{i}"), value);
        clauses.push(format!("#a{i} = :a{i}"));
    }
    if let Some(at) = expires_at {
        expr.names.insert("#ttl".into(), "ttl".into());
        expr.values.insert(":ttl".into(), AttributeValue::N(at.to_string()));
        clauses.push("#ttl = :ttl".into());
    }
    Ok((format!("SET {}", clauses.join(", ")), expr))
}

fn encode_cursor(key: &Av) -> Result<Cursor, StoreError> {
    let flat: HashMap<&str, &str> =
        key.iter().filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str()))).collect();
    let json = serde_json::to_vec(&flat).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Cursor(B64.encode(json)))
}

fn decode_cursor(cursor: &Cursor, index: Option<Index>) -> Result<Av, StoreError> {
    let json = B64.decode(&cursor.0).map_err(|_| StoreError::BadCursor)?;
    let flat: HashMap<String, String> = serde_json::from_slice(&json).map_err(|_| StoreError::BadCursor)?;
    let expected: Vec<&str> = match index.map(Index::names) {
        None => vec!["pk", "sk"],
        Some((_, pk, sk)) => vec!["pk", "sk", pk, sk],
    };
    if flat.len() != expected.len() || !expected.iter().all(|k| flat.contains_key(*k)) {
        return Err(StoreError::BadCursor);
    }
    Ok(flat.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[async_trait]
impl Store for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_av(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        let now = self.now();
        match out.item {
            Some(av) => Ok(Some(from_av(av)?).filter(|i| i.is_live(now))),
            None => Ok(None),
        }
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let mut found: HashMap<Key, Item> = HashMap::new();
        for chunk in keys.chunks(100) {
            let mut pending: Vec<Av> = chunk.iter().map(key_av).collect();
            // BatchGetItem rejects duplicate keys.
            pending.sort_by_key(|k| (k["pk"].as_s().ok().cloned(), k["sk"].as_s().ok().cloned()));
            pending.dedup();
            for attempt in 0..BATCH_ATTEMPTS {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(sdk_build)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk)?;
                for av in out.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                    let item = from_av(av)?;
                    found.insert(item.key.clone(), item);
                }
                pending = out
                    .unprocessed_keys
                    .unwrap_or_default()
                    .remove(&self.table)
                    .map(|k| k.keys)
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt + 1 == BATCH_ATTEMPTS {
                    return Err(StoreError::Unavailable("BatchGetItem left keys unprocessed".into()));
                }
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        let now = self.now();
        Ok(keys.iter().map(|k| found.get(k).filter(|i| i.is_live(now)).cloned()).collect())
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let (pk_name, sk_name) = match q.index.map(Index::names) {
            None => ("pk", "sk"),
            Some((_, pk, sk)) => (pk, sk),
        };
        let mut values: Av = HashMap::from([(":pk".to_owned(), s(&q.pk))]);
        let sk_clause = match &q.sk {
            SkRange::All => String::new(),
            SkRange::Prefix(p) => {
                values.insert(":p".into(), s(p));
                " AND begins_with(#sk, :p)".into()
            }
            SkRange::Between(a, b) => {
                values.insert(":a".into(), s(a));
                values.insert(":b".into(), s(b));
                " AND #sk BETWEEN :a AND :b".into()
            }
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk_name.to_owned())]);
        if !sk_clause.is_empty() {
            names.insert("#sk".into(), sk_name.into());
        }
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(format!("#pk = :pk{sk_clause}"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!q.descending)
            .limit(i32::try_from(q.limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(q.after.as_ref().map(|c| decode_cursor(c, q.index)).transpose()?);
        request = match q.index.map(Index::names) {
            None => request.consistent_read(true),
            Some((name, _, _)) => request.index_name(name),
        };
        let out = request.send().await.map_err(sdk)?;
        let now = self.now();
        let mut page = Page::default();
        for av in out.items.unwrap_or_default() {
            let item = from_av(av)?;
            if item.is_live(now) {
                page.items.push(item);
            }
        }
        page.next = out.last_evaluated_key.as_ref().map(encode_cursor).transpose()?;
        Ok(page)
    }

    async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let now = self.now();
        let writes: Vec<Write> = writes.into_iter().map(Write::normalised).collect();
        match writes.as_slice() {
            [] => Ok(()),
            [Write::Put { item, cond }] => {
                let c = condition(cond, now)?;
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_av(item)?))
                    .condition(c)
                    .send()
                    .await
                    .map(drop)
                    .map_err(single_write_error)
            }
            [Write::Update { key, set, expires_at, cond }] => {
                let (update, c) = update_expr(set, *expires_at, condition(cond, now)?)?;
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_av(key)))
                    .update_expression(update)
                    .condition(c)
                    .send()
                    .await
                    .map(drop)
                    .map_err(single_write_error)
            }
            [Write::Delete { key, cond }] => {
                let c = condition(cond, now)?;
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_av(key)))
                    .condition(c)
                    .send()
                    .await
                    .map(drop)
                    .map_err(single_write_error)
            }
            _ => self.transact(&writes, now).await,
        }
    }

    async fn increment(&self, key: &Key, attr: &str, by: i64, expires_at: i64) -> Result<i64, StoreError> {
        let now = self.now();
        // Usually one request: ADD to a live (or missing) counter. An expired counter that
        // DynamoDB has not deleted yet is replaced by a fresh one instead.
        for _ in 0..CONFLICT_ATTEMPTS {
            let added = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key_av(key)))
                .update_expression("ADD #c :by SET #ttl = if_not_exists(#ttl, :exp)")
                .condition_expression("attribute_not_exists(pk) OR #ttl > :now")
                .expression_attribute_names("#c", attr)
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":by", AttributeValue::N(by.to_string()))
                .expression_attribute_values(":exp", AttributeValue::N(expires_at.to_string()))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match added.map_err(single_write_error) {
                Ok(out) => {
                    return out
                        .attributes
                        .and_then(|a| a.get(attr).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()))
                        .ok_or_else(|| StoreError::Corrupt("counter update returned no value".into()));
                }
                Err(StoreError::ConditionFailed { .. }) => {
                    let fresh =
                        Item::new(key.clone(), super::attrs([(attr, by.into())])).expiring(expires_at);
                    let replaced = self
                        .client
                        .put_item()
                        .table_name(&self.table)
                        .set_item(Some(to_av(&fresh)?))
                        .condition_expression("#ttl <= :now")
                        .expression_attribute_names("#ttl", "ttl")
                        .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                        .send()
                        .await;
                    match replaced.map_err(single_write_error) {
                        Ok(_) => return Ok(by),
                        // Someone else replaced it first: add to theirs.
                        Err(StoreError::ConditionFailed { .. }) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable("counter kept changing under us".into()))
    }
}

impl DynamoStore {
    async fn transact(&self, writes: &[Write], now: i64) -> Result<(), StoreError> {
        let items = writes.iter().map(|w| self.transact_item(w, now)).collect::<Result<Vec<_>, _>>()?;
        for attempt in 0..CONFLICT_ATTEMPTS {
            let result =
                self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let Err(e) = result else { return Ok(()) };
            let reasons = e
                .as_service_error()
                .and_then(|s| match s {
                    TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
                    _ => None,
                })
                .map(|c| {
                    c.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect::<Vec<_>>()
                });
            match reasons {
                Some(codes) => {
                    if let Some(index) = codes.iter().position(|c| c == "ConditionalCheckFailed") {
                        return Err(StoreError::ConditionFailed { index });
                    }
                    if !codes.iter().any(|c| c == "TransactionConflict") {
                        let cancelled = format!("transaction cancelled: {codes:?}");
                        let throttled = codes.iter().any(|c| c.contains("Throttl") || c.contains("Exceeded"));
                        return Err(if throttled {
                            StoreError::Unavailable(cancelled)
                        } else {
                            StoreError::Corrupt(cancelled)
                        });
                    }
                    if attempt + 1 == CONFLICT_ATTEMPTS {
                        return Err(StoreError::Contention);
                    }
                    tokio::time::sleep(backoff(attempt)).await;
                }
                None => return Err(sdk(e)),
            }
        }
        unreachable!("the last attempt returns")
    }

    fn transact_item(&self, write: &Write, now: i64) -> Result<TransactWriteItem, StoreError> {
        let c = condition(write.cond(), now)?;
        let item = match write {
            Write::Put { item, .. } => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_av(item)?))
                    .condition(c)
                    .build()
                    .map_err(sdk_build)?,
            ),
            Write::Update { key, set, expires_at, .. } => {
                let (update, c) = update_expr(set, *expires_at, c)?;
                TransactWriteItem::builder().update(
                    Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .update_expression(update)
                        .condition(c)
                        .build()
                        .map_err(sdk_build)?,
                )
            }
            Write::Delete { key, .. } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_av(key)))
                    .condition(c)
                    .build()
                    .map_err(sdk_build)?,
            ),
            Write::Check { key, .. } => {
                // A check needs a condition; `Always` becomes a trivially true one.
                let c = if c.text.is_some() {
                    c
                } else {
                    Expr {
                        text: Some("attribute_not_exists(pk) OR attribute_exists(pk)".into()),
                        ..Expr::default()
                    }
                };
                TransactWriteItem::builder().condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_av(key)))
                        .condition(c)
                        .build()
                        .map_err(sdk_build)?,
                )
            }
        };
        Ok(item.build())
    }
}

fn single_write_error<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error().and_then(ProvideErrorMetadata::code) {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed { index: 0 },
        // The item is in a transaction right now: like a lost race, re-read and decide again.
        Some("TransactionConflictException") => StoreError::Contention,
        _ => sdk(e),
    }
}

/// 20 ms, 40 ms, 80 ms ... with jitter, so racing writers spread out.
fn backoff(attempt: u32) -> Duration {
    let base = 20u64 << attempt.min(5);
    let mut jitter = [0u8; 1];
    let _ = getrandom::fill(&mut jitter);
    Duration::from_millis(base + u64::from(jitter[0]) % base)
}
