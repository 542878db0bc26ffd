//! Uploads to a private S3 bucket through presigned URLs. The PUT is signed for its content type
//! and length, so S3 refuses any other; the bucket's lifecycle rules delete images after 30 days
//! and data exports after a day.

use super::{UploadError, UploadStore, UploadTicket};
use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use std::time::Duration;

pub struct S3Uploads {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Uploads {
    pub fn new(client: aws_sdk_s3::Client, bucket: String) -> Self {
        S3Uploads { client, bucket }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

/// An S3 call's error with its whole chain (the SDK's `Display` alone says only "service error").
fn s3_error<E: std::error::Error>(e: E) -> UploadError {
    UploadError(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

fn presigning(expires_in: Duration) -> Result<PresigningConfig, UploadError> {
    PresigningConfig::expires_in(expires_in).map_err(|e| UploadError(e.to_string()))
}

#[async_trait]
impl UploadStore for S3Uploads {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        length: u64,
        expires_in: Duration,
    ) -> Result<UploadTicket, UploadError> {
        let length = i64::try_from(length).map_err(|e| UploadError(e.to_string()))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(length)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(s3_error)?;
        let headers = request.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        Ok(UploadTicket { url: request.uri().to_owned(), headers })
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String, UploadError> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires_in)?)
            .await
            .map_err(s3_error)?;
        Ok(request.uri().to_owned())
    }

    async fn first_bytes(&self, key: &str, n: usize) -> Result<Option<Vec<u8>>, UploadError> {
        let range = format!("bytes=0-{}", n.saturating_sub(1));
        match self.client.get_object().bucket(&self.bucket).key(key).range(range).send().await {
            Ok(output) => {
                let body = output.body.collect().await.map_err(|e| UploadError(e.to_string()))?;
                let mut bytes = body.into_bytes().to_vec();
                bytes.truncate(n);
                Ok(Some(bytes))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            // Without s3:ListBucket (not granted), S3 answers a missing key with 403.
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 403) => {
                tracing::warn!(key, "upload not readable: missing, or the role may not read it");
                Ok(None)
            }
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn put_file(
        &self,
        key: &str,
        path: &std::path::Path,
        content_type: &str,
        filename: &str,
    ) -> Result<(), UploadError> {
        let body = aws_sdk_s3::primitives::ByteStream::from_path(path)
            .await
            .map_err(|e| UploadError(format!("export file: {e}")))?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_disposition(super::attachment(filename))
            .body(body)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    async fn delete_under(&self, prefix: &str) -> Result<usize, UploadError> {
        let mut deleted = 0;
        // A page holds at most 1000 keys, which is also what one DeleteObjects takes.
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .send()
                .await
                .map_err(s3_error)?;
            let objects: Vec<_> = page
                .contents()
                .iter()
                .filter_map(|object| object.key())
                .map(|key| aws_sdk_s3::types::ObjectIdentifier::builder().key(key).build())
                .collect::<Result<_, _>>()
                .map_err(|e| UploadError(e.to_string()))?;
            if objects.is_empty() {
                return Ok(deleted);
            }
            let count = objects.len();
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| UploadError(e.to_string()))?;
            let answer = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(s3_error)?;
            if let Some(error) = answer.errors().first() {
                return Err(UploadError(format!(
                    "{} of {count} objects not deleted: {}",
                    answer.errors().len(),
                    error.code().unwrap_or("unknown error")
                )));
            }
            deleted += count;
        }
    }
}
