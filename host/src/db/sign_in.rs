//! Browser sign-in records: password hashes, sessions (only the cookie's SHA-256 is
//! stored, so a database dump opens no session), one-time sign-in links, and the users
//! behind an external issuer's subjects (JWT sign-in).

use sqlx::Row;

use super::accounts::{User, hash_key, user_row};
use super::{Db, now_ms};

/// A live session: its user and the CSRF token writes must echo.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// Who signed in.
    pub user: User,
    /// The token cookie-authenticated writes send in `X-CSRF-Token`.
    pub csrf: String,
    /// When it ends (ms since the epoch).
    pub expires_at: i64,
}

const USER_COLUMNS: &str = "u.id, u.email, u.is_admin, u.plan";

impl Db {
    /// Set (or clear) a user's password hash (a PHC string; never the password).
    pub async fn set_password_hash(&self, user_id: &str, hash: Option<&str>) -> anyhow::Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A user and their password hash, by email.
    pub async fn user_with_password(
        &self,
        email: &str,
    ) -> anyhow::Result<Option<(User, Option<String>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.is_admin, u.plan, u.password_hash FROM users u WHERE u.email = $1",
        )
        .bind(email)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| (user_row(&r), r.get::<Option<String>, _>(4))))
    }

    /// Open a session for `user` until `expires_at`; returns the cookie value and the
    /// CSRF token.
    pub async fn create_session(
        &self,
        user_id: &str,
        expires_at: i64,
    ) -> anyhow::Result<(String, String)> {
        let id = hex::encode(rand::random::<[u8; 32]>());
        let csrf = hex::encode(rand::random::<[u8; 24]>());
        // Ended sessions go as new ones come, so the table holds only live ones.
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(hash_key(&id))
        .bind(user_id)
        .bind(&csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok((id, csrf))
    }

    /// The live session a cookie value names (expired ones are not).
    pub async fn session(&self, cookie: &str) -> anyhow::Result<Option<SessionRow>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND s.expires_at > $2"
        ))
        .bind(hash_key(cookie))
        .bind(now_ms())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| SessionRow {
            user: user_row(&r),
            csrf: r.get(4),
            expires_at: r.get(5),
        }))
    }

    /// End a session (sign-out), and sweep expired ones while here.
    pub async fn delete_session(&self, cookie: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1 OR expires_at <= $2")
            .bind(hash_key(cookie))
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// End every session of a user (a password change).
    pub async fn delete_sessions_of(&self, user_id: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// A one-time sign-in link's token for `user`, valid until `expires_at`.
    pub async fn create_sign_in_link(
        &self,
        user_id: &str,
        expires_at: i64,
    ) -> anyhow::Result<String> {
        let token = hex::encode(rand::random::<[u8; 32]>());
        sqlx::query("DELETE FROM sign_in_links WHERE expires_at <= $1 OR used_at IS NOT NULL")
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sign_in_links (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(hash_key(&token))
        .bind(user_id)
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// Spend a sign-in link: its user, once, while it is valid.
    pub async fn redeem_sign_in_link(&self, token: &str) -> anyhow::Result<Option<User>> {
        let now = now_ms();
        // The UPDATE decides who spends it, so two redemptions cannot both win.
        let spent = sqlx::query(
            "UPDATE sign_in_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
        )
        .bind(now)
        .bind(hash_key(token))
        .execute(self.pool())
        .await?
        .rows_affected();
        if spent != 1 {
            return Ok(None);
        }
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM sign_in_links l JOIN users u ON u.id = l.user_id WHERE l.token_hash = $1"
        ))
        .bind(hash_key(token))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_row))
    }

    /// The user an issuer's subject maps to, if seen before.
    pub async fn user_by_identity(
        &self,
        issuer: &str,
        subject: &str,
    ) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM user_identities i JOIN users u ON u.id = i.user_id \
             WHERE i.issuer = $1 AND i.subject = $2"
        ))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_row))
    }

    /// Link an issuer's subject to a user (first sight); an existing link wins.
    pub async fn link_identity(
        &self,
        issuer: &str,
        subject: &str,
        user_id: &str,
    ) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO user_identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (issuer, subject) DO NOTHING",
        )
        .bind(issuer)
        .bind(subject)
        .bind(user_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
