//! # The `#[straddle(...)]` attribute grammar, by example
//!
//! Every example on this page is compiled by `cargo test` (the ones marked
//! `compile_fail` must fail to compile: they show what the derive refuses, and why). A
//! model is a struct with named fields, one per column; `Option<T>` is a nullable
//! column. Each change carries the rollout **phase** the code ships in — `expand`,
//! `backfill` or `contract` — one phase per release (`straddle.lock` checks it).
//!
//! ## On the struct
//!
//! `table` names the table (required); `dialects(...)` compiles for fewer databases than
//! the enabled features.
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(table = "users", dialects(postgres, sqlite))]
//! pub struct User {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub email: String,
//! }
//! ```
//!
//! Indexes (built without blocking writes), a unique one becoming a constraint, an index
//! on its way out:
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(
//!     table = "accounts",
//!     index(name = "accounts_email_key", on(email), unique, constraint, phase = expand),
//!     dropped_index(name = "accounts_legacy_idx", on(legacy), phase = contract)
//! )]
//! pub struct Account {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     // MySQL/MariaDB index a bounded type only (the derive says so otherwise).
//!     #[straddle(sql_type(mysql = "VARCHAR(255)"))]
//!     pub email: String,
//!     #[straddle(sql_type(mysql = "VARCHAR(255)"))]
//!     pub legacy: Option<String>,
//! }
//! ```
//!
//! Foreign keys and CHECK constraints are enforced at contract, after the rows that would
//! violate them are refused by key (`NOT VALID` → `VALIDATE` on PostgreSQL):
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(
//!     table = "orders",
//!     dialects(postgres),
//!     foreign_key(name = "orders_user_fk", on(user_id), references = "users(id)", phase = backfill),
//!     check(name = "orders_qty_positive", expr = "qty > 0", phase = contract)
//! )]
//! pub struct Order {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub user_id: i64,
//!     pub qty: i32,
//! }
//! ```
//!
//! Tables are created, renamed and retired in phases too:
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(table = "audit_log", created(phase = expand))]
//! pub struct AuditEntry {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub what: String,
//! }
//!
//! #[derive(straddle::Model)]
//! #[straddle(table = "customers", renamed(from = "clients", phase = expand))]
//! pub struct Customer {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub name: String,
//! }
//!
//! #[derive(straddle::Model)]
//! #[straddle(table = "sessions_v1", retired(phase = expand, confirm = "sessions_v1"))]
//! pub struct OldSession {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//! }
//! ```
//!
//! ## On a field
//!
//! `primary_key`, `column = "name"` (the column's name when it differs from the field's),
//! `sql_type = "…"` or per dialect (a data type only: defaults, constraints, identity and
//! generated clauses are refused, naming the declaration that does it safely):
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(table = "products")]
//! pub struct Product {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     #[straddle(column = "type")]
//!     pub kind: String,
//!     #[straddle(sql_type(postgres = "VARCHAR(80)", mysql = "VARCHAR(80)", sqlite = "TEXT"))]
//!     pub title: String,
//! }
//! ```
//!
//! A new column, and how existing rows get a value: nothing (it must be `Option<T>`), a
//! constant `default`, a non-volatile `default_sql` (PostgreSQL), or a `backfill`
//! expression over the row's other columns (filled in keyset batches, kept filled for the
//! previous release's writes by a trigger; pacing per change with `max_rows_per_sec`,
//! `pause_ms`, `batch_time_ms`):
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(table = "users")]
//! pub struct User {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     pub email: String,
//!     #[straddle(added(phase = expand))]
//!     pub nickname: Option<String>,
//!     #[straddle(added(phase = expand, default = 0))]
//!     pub login_count: i64,
//!     #[straddle(added(phase = backfill, backfill = "lower(email)", max_rows_per_sec = 5000))]
//!     pub email_normalized: String,
//! }
//! ```
//!
//! A NOT NULL column with no way to fill existing rows is refused, naming the ways:
//!
//! ```compile_fail
//! #[derive(straddle::Model)]
//! #[straddle(table = "users")]
//! pub struct User {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     #[straddle(added(phase = expand))]
//!     pub email_normalized: String, // error: … with neither a default nor a backfill
//! }
//! ```
//!
//! Renaming, retyping, retiring a column, making it nullable, changing its default:
//!
//! ```
//! #[derive(straddle::Model)]
//! #[straddle(table = "people")]
//! pub struct Person {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//!     #[straddle(renamed(from = "mail", phase = expand))]
//!     pub email: String,
//!     #[straddle(retyped(from = "i32", phase = expand))]
//!     pub points: i64,
//!     #[straddle(retyped(from = "String", up = "CAST(code AS BIGINT)", down = "CAST(code AS TEXT)", phase = expand))]
//!     pub code: i64,
//!     #[straddle(retired(phase = expand, default = ""))]
//!     pub legacy: Option<String>,
//!     #[straddle(nullable(phase = expand))]
//!     pub bio: Option<String>,
//!     #[straddle(default_changed(from = "new", to = "active", phase = expand))]
//!     pub state: String,
//! }
//! ```
//!
//! A mistyped key is one error, with the key it most likely meant:
//!
//! ```compile_fail
//! #[derive(straddle::Model)]
//! #[straddle(tabel = "users")] // error: unknown straddle container attribute `tabel`: did you mean `table`?
//! pub struct User {
//!     #[straddle(primary_key)]
//!     pub id: i64,
//! }
//! ```
