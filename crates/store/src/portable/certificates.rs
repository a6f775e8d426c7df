//! Certificates: public fields as JSON text, secret fields sealed as one blob.

use super::{Backend, DbRow, dialect};
use crate::sql::{backend, conflict_or_backend, from_json, to_json};
use async_trait::async_trait;
use herald_core::store::{CertificateStore, StoreResult};
use herald_core::{Certificate, NewCertificate, Secret, StoreError, Vendor, now_millis};
use serde_json::{Map, Value};
use sqlx::Row;

const SECRET_LABEL: &str = "certificate_secrets";
const COLUMNS: &str = "id, app_id, vendor, name, enabled, click_action, defaults, base_url, fields, \
                       secret_names, created_at, updated_at";

fn certificate_from_row(row: &DbRow) -> StoreResult<Certificate> {
    let text = |column: &str| -> StoreResult<String> { row.try_get(column).map_err(backend) };
    let vendor: String = text("vendor")?;
    Ok(Certificate {
        id: row.try_get("id").map_err(backend)?,
        app_id: text("app_id")?,
        vendor: vendor
            .parse::<Vendor>()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        name: text("name")?,
        enabled: row.try_get("enabled").map_err(backend)?,
        click_action: from_json("click_action", &text("click_action")?)?,
        defaults: from_json("defaults", &text("defaults")?)?,
        base_url: row.try_get("base_url").map_err(backend)?,
        fields: from_json("fields", &text("fields")?)?,
        secret_fields: from_json("secret_names", &text("secret_names")?)?,
        created_at: row.try_get("created_at").map_err(backend)?,
        updated_at: row.try_get("updated_at").map_err(backend)?,
    })
}

impl Backend {
    fn seal_secrets(&self, cert: &NewCertificate) -> (Vec<u8>, String) {
        let secrets = cert.secrets.expose();
        let names: Vec<&String> = secrets.keys().collect();
        (
            self.sealer.seal(SECRET_LABEL, to_json(secrets).as_bytes()),
            to_json(&names),
        )
    }
}

fn name_taken(cert: &NewCertificate) -> String {
    format!("a certificate named `{}` already exists in this app", cert.name)
}

#[async_trait]
impl CertificateStore for Backend {
    async fn create_certificate(&self, app: &str, cert: &NewCertificate) -> StoreResult<Certificate> {
        let (sealed, names) = self.seal_secrets(cert);
        let now = now_millis();
        let row = sqlx::query(&format!(
            "INSERT INTO certificates (app_id, vendor, name, enabled, click_action, defaults, base_url, \
             fields, secret_names, secrets, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING {COLUMNS}"
        ))
        .bind(app)
        .bind(cert.vendor.as_str())
        .bind(&cert.name)
        .bind(cert.enabled)
        .bind(to_json(&cert.click_action))
        .bind(to_json(&cert.defaults))
        .bind(&cert.base_url)
        .bind(to_json(&cert.fields))
        .bind(names)
        .bind(sealed)
        .bind(now)
        .fetch_one(&mut *self.writer().await?)
        .await
        .map_err(conflict_or_backend("certificate_name", name_taken(cert)))?;
        certificate_from_row(&row)
    }

    async fn list_certificates(&self, app: &str) -> StoreResult<Vec<Certificate>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE app_id = $1 ORDER BY id"
        ))
        .bind(app)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(certificate_from_row).collect()
    }

    async fn get_certificate(&self, app: &str, id: i64) -> StoreResult<Certificate> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE app_id = $1 AND id = $2"
        ))
        .bind(app)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("certificate", id.to_string()))?;
        certificate_from_row(&row)
    }

    async fn find_certificate_by_name(&self, app: &str, name: &str) -> StoreResult<Certificate> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM certificates WHERE app_id = $1 AND name = $2"
        ))
        .bind(app)
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?
        .ok_or_else(|| StoreError::not_found("certificate", name))?;
        certificate_from_row(&row)
    }

    async fn certificate_secrets(&self, app: &str, id: i64) -> StoreResult<Secret<Map<String, Value>>> {
        let row = sqlx::query("SELECT secrets FROM certificates WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::not_found("certificate", id.to_string()))?;
        let sealed: Vec<u8> = row.try_get("secrets").map_err(backend)?;
        let clear = self
            .sealer
            .open(SECRET_LABEL, &sealed)
            .map_err(|e| StoreError::Corrupt(format!("secrets of certificate {id}: {e}")))?;
        serde_json::from_slice(&clear)
            .map(Secret::new)
            .map_err(|e| StoreError::Corrupt(format!("secrets of certificate {id}: {e}")))
    }

    async fn replace_certificate(
        &self,
        app: &str,
        id: i64,
        cert: &NewCertificate,
    ) -> StoreResult<Certificate> {
        let (sealed, names) = self.seal_secrets(cert);
        let row = sqlx::query(&format!(
            "UPDATE certificates SET name = $3, enabled = $4, click_action = $5, defaults = $6, \
             base_url = $7, fields = $8, secret_names = $9, secrets = $10, updated_at = $11 \
             WHERE app_id = $1 AND id = $2 RETURNING {COLUMNS}"
        ))
        .bind(app)
        .bind(id)
        .bind(&cert.name)
        .bind(cert.enabled)
        .bind(to_json(&cert.click_action))
        .bind(to_json(&cert.defaults))
        .bind(&cert.base_url)
        .bind(to_json(&cert.fields))
        .bind(names)
        .bind(sealed)
        .bind(now_millis())
        .fetch_optional(&mut *self.writer().await?)
        .await
        .map_err(conflict_or_backend("certificate_name", name_taken(cert)))?
        .ok_or_else(|| StoreError::not_found("certificate", id.to_string()))?;
        certificate_from_row(&row)
    }

    async fn delete_certificate(&self, app: &str, id: i64) -> StoreResult<()> {
        let mut tx = self.write().await?;
        dialect::lock_certificate(&mut tx, app, id).await?;
        sqlx::query(
            "UPDATE devices SET certificate_id = NULL, vendor = NULL, token = NULL, updated_at = $3 \
             WHERE app_id = $1 AND certificate_id = $2",
        )
        .bind(app)
        .bind(id)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let done = sqlx::query("DELETE FROM certificates WHERE app_id = $1 AND id = $2")
            .bind(app)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("certificate", id.to_string()));
        }
        tx.commit().await.map_err(backend)
    }

    async fn add_quota_usage(
        &self,
        app: &str,
        certificate_id: i64,
        day: i64,
        count: u64,
    ) -> StoreResult<u64> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let total: Option<i64> = if count == 0 {
            sqlx::query_scalar(
                "SELECT used FROM quota_usage WHERE app_id = $1 AND certificate_id = $2 AND day = $3",
            )
            .bind(app)
            .bind(certificate_id)
            .bind(day)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?
        } else {
            sqlx::query_scalar(
                "INSERT INTO quota_usage (app_id, certificate_id, day, used) \
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM certificates WHERE app_id = $1 AND id = $2) \
                 ON CONFLICT (app_id, certificate_id, day) DO UPDATE SET used = quota_usage.used + excluded.used \
                 RETURNING used",
            )
            .bind(app)
            .bind(certificate_id)
            .bind(day)
            .bind(count)
            .fetch_optional(&mut *self.writer().await?)
            .await
            .map_err(backend)?
        };
        Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
    }
}
