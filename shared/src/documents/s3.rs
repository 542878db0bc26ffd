//! Uploads to a private S3 bucket through presigned URLs. The PUT is signed for its content type
//! and length, so S3 refuses any other; the bucket's lifecycle rule deletes images after 30 days.

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
            .map_err(|e| UploadError(format!("{}", aws_sdk_s3::error::DisplayErrorContext(e))))?;
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
            .map_err(|e| UploadError(format!("{}", aws_sdk_s3::error::DisplayErrorContext(e))))?;
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
            Err(e) => Err(UploadError(format!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))),
        }
    }
}
