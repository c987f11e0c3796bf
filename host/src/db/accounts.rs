//! Users, organizations, memberships and API keys (stored as SHA-256 hashes; a key is
//! 32 random bytes, so a fast hash is enough and lookups stay O(1)).

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Db, now_ms};

/// A user.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct User {
    /// Id.
    pub id: String,
    /// Email, unique.
    pub email: String,
    /// Platform admin.
    pub is_admin: bool,
    /// Plan (registry restrictions).
    pub plan: String,
}

/// An organization.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Org {
    /// Id.
    pub id: String,
    /// URL slug, unique.
    pub slug: String,
    /// Plan.
    pub plan: String,
}

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the org's integrations.
    Member,
    /// Also changes them.
    Admin,
    /// Also manages members.
    Owner,
}

impl Role {
    /// Parse `member`, `admin` or `owner`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }
}

/// SHA-256 hex of an API key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A user from a row whose first columns are id, email, is_admin, plan.
pub(super) fn user_row(r: &sqlx::any::AnyRow) -> User {
    User {
        id: r.get(0),
        email: r.get(1),
        is_admin: r.get::<i64, _>(2) != 0,
        plan: r.get(3),
    }
}

impl Db {
    /// Create a user.
    pub async fn create_user(&self, email: &str, is_admin: bool) -> anyhow::Result<User> {
        let u = User {
            id: uuid::Uuid::new_v4().to_string(),
            email: email.to_string(),
            is_admin,
            plan: "free".into(),
        };
        sqlx::query(
            "INSERT INTO users (id, email, is_admin, plan, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&u.id)
        .bind(&u.email)
        .bind(is_admin as i64)
        .bind(&u.plan)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(u)
    }

    /// The user with this email.
    pub async fn user_by_email(&self, email: &str) -> anyhow::Result<Option<User>> {
        let row = sqlx::query("SELECT id, email, is_admin, plan FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.as_ref().map(user_row))
    }

    /// Create an organization owned by `owner`.
    pub async fn create_org(&self, slug: &str, owner: &User) -> anyhow::Result<Org> {
        let org = Org {
            id: uuid::Uuid::new_v4().to_string(),
            slug: slug.to_string(),
            plan: "free".into(),
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO organizations (id, slug, plan, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&org.id)
        .bind(&org.slug)
        .bind(&org.plan)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&org.id)
        .bind(&owner.id)
        .bind(Role::Owner.as_str())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// The organization with this slug.
    pub async fn org_by_slug(&self, slug: &str) -> anyhow::Result<Option<Org>> {
        let row = sqlx::query("SELECT id, slug, plan FROM organizations WHERE slug = $1")
            .bind(slug)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| Org {
            id: r.get(0),
            slug: r.get(1),
            plan: r.get(2),
        }))
    }

    /// Add or change a member.
    pub async fn set_member(&self, org: &Org, user: &User, role: Role) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(&org.id)
        .bind(&user.id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Ids of the organizations `user_id` belongs to (any role).
    pub async fn org_ids_of(&self, user_id: &str) -> anyhow::Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT org_id FROM memberships WHERE user_id = $1 ORDER BY org_id")
                .bind(user_id)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// A user's role in an organization.
    pub async fn role(&self, org_id: &str, user_id: &str) -> anyhow::Result<Option<Role>> {
        let row = sqlx::query("SELECT role FROM memberships WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.and_then(|r| Role::parse(&r.get::<String, _>(0))))
    }

    /// Create an API key for a user; returns the key, which is stored only as a hash.
    pub async fn create_api_key(&self, user: &User) -> anyhow::Result<String> {
        let key = format!("trb_{}", hex::encode(rand::random::<[u8; 32]>()));
        sqlx::query("INSERT INTO api_keys (id, user_id, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&user.id)
            .bind(hash_key(&key))
            .bind(&key[..12])
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        Ok(key)
    }

    /// The user an API key belongs to.
    pub async fn user_by_api_key(&self, key: &str) -> anyhow::Result<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.is_admin, u.plan FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1",
        )
        .bind(hash_key(key))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(user_row))
    }

    /// The organizations a user belongs to, with their role, by slug.
    pub async fn memberships_of(&self, user_id: &str) -> anyhow::Result<Vec<(Org, Role)>> {
        let rows = sqlx::query(
            "SELECT o.id, o.slug, o.plan, m.role FROM memberships m JOIN organizations o ON o.id = m.org_id \
             WHERE m.user_id = $1 ORDER BY o.slug",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let org = Org {
                    id: r.get(0),
                    slug: r.get(1),
                    plan: r.get(2),
                };
                Role::parse(&r.get::<String, _>(3)).map(|role| (org, role))
            })
            .collect())
    }

    /// Every organization, by slug (platform admins switch into any).
    pub async fn all_orgs(&self) -> anyhow::Result<Vec<Org>> {
        let rows = sqlx::query("SELECT id, slug, plan FROM organizations ORDER BY slug")
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .iter()
            .map(|r| Org {
                id: r.get(0),
                slug: r.get(1),
                plan: r.get(2),
            })
            .collect())
    }

    /// An organization's members with their roles, by email.
    pub async fn members(&self, org_id: &str) -> anyhow::Result<Vec<(User, Role)>> {
        let rows = sqlx::query(
            "SELECT u.id, u.email, u.is_admin, u.plan, m.role FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.org_id = $1 ORDER BY u.email",
        )
        .bind(org_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| Role::parse(&r.get::<String, _>(4)).map(|role| (user_row(r), role)))
            .collect())
    }

    /// Remove a member; true when there was one.
    pub async fn remove_member(&self, org_id: &str, user_id: &str) -> anyhow::Result<bool> {
        Ok(
            sqlx::query("DELETE FROM memberships WHERE org_id = $1 AND user_id = $2")
                .bind(org_id)
                .bind(user_id)
                .execute(self.pool())
                .await?
                .rows_affected()
                == 1,
        )
    }
}
