//! Users and sign-in.
use async_trait::async_trait;
use jiff::Timestamp;
use klaxon_domain::event::NewEvent;
use klaxon_domain::ids::{ApiTokenId, UserId};

use klaxon_domain::incident::Refusal;

use crate::{
    ApiToken, NewApiToken, NewSession, NewUser, Page, Pruned, Session, StoreResult, User,
    UserCredentials, UserEdit,
};

/// Users and how they sign in: users, API tokens, web sessions, login throttling, the
/// first admin (bootstrap) and the server's own keys.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    async fn create_user(&self, user: NewUser, event: NewEvent) -> StoreResult<User>;

    async fn user(&self, id: UserId) -> StoreResult<User>;

    /// The user with this login e-mail, with the hash to check a password against.
    async fn user_credentials(&self, email: &str) -> StoreResult<UserCredentials>;

    async fn count_users(&self) -> StoreResult<u64>;

    /// Users ordered by id, starting after `after`.
    async fn list_users(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> StoreResult<Page<User, UserId>>;

    /// Changes a user's name, e-mail, role or activity, as `edit` decides from their current
    /// state (and the count of other active admins, held still so two admins cannot demote
    /// each other at once). Deactivating ends their sessions and revokes their tokens.
    async fn change_user(&self, id: UserId, edit: UserEdit) -> StoreResult<Result<User, Refusal>>;

    /// Replaces a user's password hash and ends their web sessions, except `keep` (the session
    /// changing its own password stays signed in).
    async fn set_password(
        &self,
        id: UserId,
        password_hash: String,
        keep: Option<[u8; 32]>,
        event: NewEvent,
    ) -> StoreResult<()>;

    /// Creates the first admin and its token, only if there are no users yet. Safe when several
    /// instances start at once: exactly one of them creates. Returns whether it did.
    async fn bootstrap(
        &self,
        admin: NewUser,
        token: NewApiToken,
        events: Vec<NewEvent>,
    ) -> StoreResult<bool>;

    /// Creates a token for an active user; `NotFound` when the user is missing or deactivated.
    async fn create_token(&self, token: NewApiToken, event: NewEvent) -> StoreResult<ApiToken>;

    /// A live (not revoked) token of an active user by the hash of its secret, with the user it
    /// acts for.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(ApiToken, User)>;

    async fn token(&self, id: ApiTokenId) -> StoreResult<ApiToken>;

    async fn list_tokens(
        &self,
        user: Option<UserId>,
        after: Option<ApiTokenId>,
        limit: u32,
    ) -> StoreResult<Page<ApiToken, ApiTokenId>>;

    /// Revokes a token; revoking a revoked token is `NotFound`.
    async fn revoke_token(
        &self,
        id: ApiTokenId,
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<ApiToken>;

    async fn create_session(&self, session: NewSession, event: NewEvent) -> StoreResult<()>;

    /// A session of an active user by the hash of its cookie.
    async fn session_by_hash(&self, hash: &[u8; 32]) -> StoreResult<(Session, User)>;

    async fn touch_session(&self, hash: &[u8; 32], at: Timestamp) -> StoreResult<()>;

    async fn delete_session(&self, hash: &[u8; 32], event: Option<NewEvent>) -> StoreResult<()>;

    /// Records one failed login against each key (e.g. `account:<email>`, `addr:<ip>`).
    async fn record_login_failure(
        &self,
        keys: &[String],
        at: Timestamp,
        event: NewEvent,
    ) -> StoreResult<()>;

    async fn count_login_failures(&self, key: &str, since: Timestamp) -> StoreResult<u64>;

    async fn clear_login_failures(&self, key: &str) -> StoreResult<()>;

    /// The 32-byte secret named `name` (e.g. the key acknowledge links are signed with): made
    /// at random by the database the first time anyone asks, then the same for every caller,
    /// instance and restart. Race-free: concurrent first calls all get the one key stored.
    async fn server_key(&self, name: &str) -> StoreResult<[u8; 32]>;

    /// Deletes sessions created before `sessions_before` or idle since `idle_before`, and login
    /// failures older than `failures_before`.
    async fn prune(
        &self,
        sessions_before: Timestamp,
        idle_before: Timestamp,
        failures_before: Timestamp,
    ) -> StoreResult<Pruned>;
}
