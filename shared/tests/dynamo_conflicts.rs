//! DynamoDB cancels a transaction that touches an item another transaction is writing
//! (`TransactionConflict`); moto never does, so the adapter's answer to it is tested on the
//! SDK's mocks: conflicts are retried, a failed condition is reported with its position at once,
//! and conflicts that do not settle come back as `Contention` (which the ride use cases re-read
//! and decide again, and answer `503` with `Retry-After` if it never settles).

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::ErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsError, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::error::{TransactionCanceledException, TransactionConflictException};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use carpool::clock::ManualClock;
use carpool::error::AppError;
use carpool::store::dynamo::DynamoStore;
use carpool::store::{attrs, Cond, Item, Key, Store, StoreError, Write};
use std::sync::Arc;

/// A cancellation whose reasons have these codes, one per write.
fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
    let reasons = codes.iter().map(|c| CancellationReason::builder().code(*c).build()).collect();
    TransactWriteItemsError::TransactionCanceledException(
        TransactionCanceledException::builder()
            .message("Transaction cancelled, please refer cancellation reasons for specific reasons")
            .set_cancellation_reasons(Some(reasons))
            .build(),
    )
}

fn store(rule: &Rule) -> DynamoStore {
    let no_retries = |c: aws_sdk_dynamodb::config::Builder| c.retry_config(RetryConfig::disabled());
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [rule], no_retries);
    DynamoStore::new(client, "carpool", Arc::new(ManualClock::starting_now()))
}

/// Two writes, so the adapter uses TransactWriteItems.
fn two_writes() -> Vec<Write> {
    let put = |sk: &str| Write::Put {
        item: Item::new(Key::new("RIDE#1", sk), attrs([("version", 2.into())])),
        cond: Cond::equals("version", 1),
    };
    vec![put("RIDE"), put("REQ#1")]
}

#[tokio::test]
async fn a_conflict_is_retried_until_the_transaction_lands() {
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(&["None", "TransactionConflict"]))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    store(&rule).write(two_writes()).await.expect("lands on the third attempt");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn a_failed_condition_is_reported_at_once_with_its_position() {
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(|| cancelled(&["None", "ConditionalCheckFailed"]));
    let result = store(&rule).write(two_writes()).await;
    assert!(matches!(result, Err(StoreError::ConditionFailed { index: 1 })), "{result:?}");
    assert_eq!(rule.num_calls(), 1, "a failed condition is an answer, not a conflict");
}

#[tokio::test]
async fn conflicts_that_do_not_settle_are_contention_and_a_retryable_503() {
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .error(|| cancelled(&["TransactionConflict", "None"]))
        .times(4)
        .build();
    let result = store(&rule).write(two_writes()).await;
    assert!(matches!(result, Err(StoreError::Contention)), "{result:?}");
    assert_eq!(rule.num_calls(), 4, "the adapter's bounded retries");
    let answer = AppError::from(StoreError::Contention);
    assert_eq!((answer.status(), answer.retry_after()), (503, Some(1)));
}

#[tokio::test]
async fn a_single_write_caught_in_a_transaction_is_contention_too() {
    let rule = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::TransactionConflictException(
            TransactionConflictException::builder()
                .message("Transaction is ongoing for the item")
                // As the SDK parses it from DynamoDB's answer.
                .meta(ErrorMetadata::builder().code("TransactionConflictException").build())
                .build(),
        )
    });
    let mut one = two_writes();
    one.truncate(1);
    let result = store(&rule).write(one).await;
    assert!(matches!(result, Err(StoreError::Contention)), "{result:?}");
}
