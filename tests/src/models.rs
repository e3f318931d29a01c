//! Models shared by the test suites: one per form of "add column".

/// NOT NULL, filled from an expression over existing columns.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct Normalized {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    pub email_normalized: String,
}

/// Nullable, nothing to fill.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct Nickname {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = expand))]
    pub nickname: Option<String>,
}

/// NOT NULL with constant defaults (two changes in flight on one table).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct Counted {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = expand, default = 0))]
    pub login_count: i64,
    #[straddle(added(phase = expand, default = "it's active"))]
    pub status: String,
}

/// Awkward names, a text key, a nullable backfill and a PostgreSQL-only SQL default.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "Order Lines", dialects(postgres))]
pub struct Awkward {
    #[straddle(primary_key, column = "Line \"Key\"")]
    pub key: String,
    pub qty: i32,
    #[straddle(added(phase = contract, backfill = "CASE WHEN qty > 100 THEN 'bulk' END"))]
    pub size_class: Option<String>,
    #[straddle(added(phase = expand, default_sql = "to_char(now(), 'YYYY-MM-DD')"))]
    pub first_seen: Option<String>,
    pub r#type: String,
}

/// Rows have an integer id.
pub trait HasId {
    fn id(&self) -> i64;
}

macro_rules! has_id {
    ($($t:ty),*) => {$(
        impl HasId for $t {
            fn id(&self) -> i64 {
                self.id
            }
        }
    )*};
}
has_id!(Normalized, Nickname, Counted);

/// `Normalized` after someone edited its released backfill expression.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct NormalizedEdited {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = backfill, backfill = "upper(email)"))]
    pub email_normalized: String,
}

/// `Normalized` as it ships release by release: expand, (backfill = `Normalized`),
/// contract, then settled (an ordinary column).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct NormalizedExpand {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = expand, backfill = "lower(email)"))]
    pub email_normalized: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct NormalizedContract {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = contract, backfill = "lower(email)"))]
    pub email_normalized: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct NormalizedSettled {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub email_normalized: String,
}

/// `users` before any of its rollouts: the previous release of each.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct UsersBefore {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// `users.email` renamed to `email_address`, shipped at contract (its contract waits for
/// every instance to re-read the schema).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "users")]
pub struct EmailRenamed {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(renamed(from = "email", phase = contract))]
    pub email_address: String,
}

/// Column names that contain clause keywords (`CHECK`, `UNIQUE`) without being clauses.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "audits")]
pub struct Audited {
    #[straddle(primary_key)]
    pub id: i64,
    pub checked_at: String,
    pub unique_code: String,
    #[straddle(added(phase = contract, backfill = "upper(unique_code)"))]
    pub code_key: String,
}

/// The note the contact workloads write with an email: none for seeded rows and for
/// every tenth value.
pub fn note_for(email: &str) -> Option<String> {
    (!email.starts_with("User") && !email.ends_with('0')).then(|| format!("note of {email}"))
}

/// The value a contact row reads as: its email when the note matches it, otherwise a
/// text no write produced.
pub fn contact_value(email: &str, note: &Option<String>) -> String {
    if *note == note_for(email) {
        email.to_string()
    } else {
        format!("{email} with the wrong note {note:?}")
    }
}

/// The release before a rename: `email` (NOT NULL) and `note` (nullable) as they shipped.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "contacts")]
pub struct Contact {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub note: Option<String>,
}

/// Both columns renamed (two changes in flight on one table).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "contacts")]
pub struct ContactRenamed {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(renamed(from = "email", phase = contract), sql_type(mysql = "VARCHAR(255)"))]
    pub email_address: String,
    #[straddle(renamed(from = "note", phase = contract), sql_type(mysql = "VARCHAR(255)"))]
    pub remark: Option<String>,
}

/// The release before a retirement: `legacy_code` (NOT NULL) and `old_note` (nullable).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "profiles")]
pub struct Profile {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub legacy_code: String,
    pub old_note: Option<String>,
}

/// Both retired: the NOT NULL one with a default for the retirement window.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "profiles")]
pub struct ProfileRetiring {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(retired(phase = contract, default = "none"))]
    pub legacy_code: Option<String>,
    #[straddle(retired(phase = contract))]
    pub old_note: Option<String>,
}

has_id!(Contact, ContactRenamed, Profile, ProfileRetiring);

/// Indexes rolling out on `contacts` (previous release: `Contact`): a unique index on
/// `email` being added (then made a UNIQUE constraint), an index on `note` being dropped.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "contacts",
    index(name = "contacts_email_key", on(email), unique, constraint, phase = contract),
    dropped_index(name = "contacts_note_idx", on(note), phase = contract)
)]
pub struct ContactIndexed {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub email: String,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub note: Option<String>,
}

has_id!(ContactIndexed);

/// The release before `nickname` becomes nullable.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "members")]
pub struct Member {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub nickname: String,
}

/// `nickname` becoming nullable: read as `Option` now, NOT NULL dropped at contract.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "members")]
pub struct MemberNullable {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(nullable(phase = contract))]
    pub nickname: Option<String>,
}

has_id!(Member, MemberNullable);

/// The release before `nickname` becomes NOT NULL: it may write NULL.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "guests")]
pub struct Guest {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub nickname: Option<String>,
}

/// `nickname` becoming NOT NULL, its NULLs filled from `lower(email)`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "guests")]
pub struct GuestRequired {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(not_null(fill = "lower(email)", phase = contract))]
    pub nickname: String,
}

has_id!(Guest, GuestRequired);

/// A check constraint rolling out on `members` (previous release: `Member`), enforced
/// from contract on. PostgreSQL only: the other engines cannot add one without blocking.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "members",
    dialects(postgres),
    check(name = "members_email_present", expr = "length(email) > 0", phase = contract)
)]
pub struct MemberChecked {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub nickname: String,
}

has_id!(MemberChecked);

/// The release before a foreign key: `tickets.account_id` refers to `accounts.id` by
/// convention only.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tickets")]
pub struct Ticket {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub account_id: i64,
}

/// The foreign key rolling out: indexed at expand, enforced at contract.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "tickets",
    dialects(postgres, mysql),
    foreign_key(
        name = "tickets_account_fk",
        on(account_id),
        references = "accounts(id)",
        phase = contract,
        mysql_unvalidated = true
    )
)]
pub struct TicketLinked {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub account_id: i64,
}

has_id!(Ticket, TicketLinked);

/// A table new in this rollout.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "notes", created(phase = contract))]
pub struct Note {
    #[straddle(primary_key)]
    pub id: i64,
    pub body: String,
    pub tag: Option<String>,
}

/// A table in use by the previous release.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "archives")]
pub struct Archive {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// The same table being retired: dropped at contract, as confirmed.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "archives", retired(phase = contract, confirm = "archives"))]
pub struct ArchiveRetired {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

/// The release before `level` gets a default.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "settings")]
pub struct Setting {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub level: i64,
}

/// `level` getting a default (for writers that omit it).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "settings")]
pub struct SettingDefaulted {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(default_changed(to = 5, phase = contract))]
    pub level: i64,
}

has_id!(Setting, SettingDefaulted);

/// The release before a type change: `balance` a NOT NULL text of digits (a legacy
/// schema), `points` a nullable `i32`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "accounts")]
pub struct Account {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub balance: String,
    pub points: Option<i32>,
}

/// Both columns changing type (two changes in flight on one table): `balance` text →
/// `i64` with a declared conversion (the text may carry spaces), `points` `i32` → `i64`
/// with the engine's own (on SQLite both are INTEGER: nothing changes there).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "accounts")]
pub struct AccountRetyped {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(retyped(
        from = "String",
        up = "CAST(TRIM(balance) AS DECIMAL(20, 0))",
        down = "CONCAT('', balance)",
        phase = contract
    ))]
    pub balance: i64,
    #[straddle(retyped(from = "i32", phase = contract))]
    pub points: Option<i64>,
}

has_id!(Account, AccountRetyped);

/// How an account row carries a value under test: `balance` encodes it as a number
/// (`old-N` → 4N+1, `new-N` → 4N+2, a seeded row 4N+3) and `points` follows from it.
pub mod account {
    /// The number `value` is stored as.
    pub fn encode(value: &str) -> i64 {
        let (who, n) = value.split_once('-').expect("values are `<who>-<n>`");
        let n: i64 = n.parse().expect("values end in a number");
        n * 4 + if who == "old" { 1 } else { 2 }
    }

    /// The points a row with balance `code` has.
    pub fn points(code: i64) -> Option<i64> {
        (code % 3 != 0).then_some(code % 100_000)
    }

    /// The value a row reads as: its balance decoded when the points match it, otherwise
    /// a text no write produced.
    pub fn value(code: i64, points: Option<i64>) -> String {
        let who = match code % 4 {
            1 => "old",
            2 => "new",
            3 => "seed",
            _ => "bad",
        };
        let value = format!("{who}-{}", code / 4);
        if points == self::points(code) {
            value
        } else {
            format!("{value} with the wrong points {points:?}")
        }
    }

    /// Seed columns for `seed_sql_with`: the balance as text with a leading space, and
    /// its points.
    pub const SEED: [(&str, &str); 2] = [
        ("balance", "CONCAT(' ', n * 4 + 3)"),
        (
            "points",
            "CASE WHEN (n * 4 + 3) % 3 = 0 THEN NULL ELSE (n * 4 + 3) % 100000 END",
        ),
    ];
}

/// The release before a table rename: `clients`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "clients")]
pub struct Client {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub note: Option<String>,
}

/// `clients` renamed to `customers`.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "customers", renamed(from = "clients", phase = contract))]
pub struct Customer {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    pub note: Option<String>,
}

has_id!(Client, Customer);

/// The release before a column is widened: `email` a `VARCHAR(32)` on PostgreSQL.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tags")]
pub struct Tag {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(postgres = "VARCHAR(32)"))]
    pub email: String,
    pub note: Option<String>,
}

/// `email` widened from `VARCHAR(32)` to `VARCHAR(255)` on PostgreSQL — binary-coercible: one brief ALTER at
/// expand, no shadow column, no rewrite (elsewhere the column is TEXT already: nothing
/// changes).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tags")]
pub struct TagWidened {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(postgres = "VARCHAR(255)"), retyped(from_sql_type(postgres = "VARCHAR(32)"), phase = contract))]
    pub email: String,
    pub note: Option<String>,
}

has_id!(Tag, TagWidened);

/// Issue 10, defect 1: `order.item_total` and `order_item.total` used to share every
/// generated name (`straddle_sync_order_item_total`). `order` is a reserved word too.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "order")]
pub struct OrderV1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "order")]
pub struct OrderV2 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = backfill, backfill = "lower(email)"))]
    pub item_total: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "order_item")]
pub struct OrderItemV1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "order_item")]
pub struct OrderItemV2 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(added(phase = backfill, backfill = "upper(email)"))]
    pub total: String,
}

has_id!(OrderV1, OrderV2, OrderItemV1, OrderItemV2);

/// Issue 10, defect 2: names that end comments, dollar quotes and string literals if
/// they reach SQL anywhere but through quoting.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tab\"le's $straddle$")]
pub struct HostileV1 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "tab\"le's $straddle$")]
pub struct HostileV2 {
    #[straddle(primary_key)]
    pub id: i64,
    pub email: String,
    #[straddle(
        column = "n`orm $straddle$ -- */ 'x' \"y\" \\ é",
        added(phase = backfill, backfill = "lower(email)")
    )]
    pub norm: String,
}

has_id!(HostileV1, HostileV2);

/// Issue 10, defect 13: an expression that fails for some rows (`b = 0`).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "ratios", dialects(postgres, mysql))]
pub struct Ratio {
    #[straddle(primary_key)]
    pub id: i64,
    pub a: i64,
    pub b: i64,
    #[straddle(added(phase = backfill, backfill = "a / b"))]
    pub ratio: Option<i64>,
}

/// Issue 10, defect 8: a default whose functions are known non-volatile at compile time —
/// the server is asked again before the column is added.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "flags", dialects(postgres))]
pub struct Flagged {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(added(phase = expand, default_sql = "upper('on')"))]
    pub state: Option<String>,
}

/// Issue 10, defect 12: a table created with an index in the same rollout.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "labels",
    created(phase = contract),
    index(name = "labels_tag_idx", on(tag), phase = contract)
)]
pub struct Label {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(255)"))]
    pub tag: Option<String>,
}

/// Hand-written steps: one per engine at expand, one outside a transaction at contract
/// (nothing to do on SQLite).
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "ledger_entries",
    sql(
        name = "currency_type",
        up(
            postgres = "CREATE TYPE currency AS ENUM ('eur', 'usd')",
            mysql = "CREATE TABLE IF NOT EXISTS currencies (code CHAR(3) PRIMARY KEY)",
            sqlite = "CREATE TABLE IF NOT EXISTS currencies (code TEXT PRIMARY KEY)"
        ),
        down(
            postgres = "DROP TYPE IF EXISTS currency",
            mysql = "DROP TABLE IF EXISTS currencies",
            sqlite = "DROP TABLE IF EXISTS currencies"
        ),
        phase = expand
    ),
    sql(
        name = "rates_index",
        at = contract,
        no_transaction,
        up(
            postgres = "CREATE INDEX CONCURRENTLY IF NOT EXISTS rates_day ON rates (day)",
            mysql = "CREATE INDEX rates_day ON rates (day)",
            sqlite = ""
        ),
        down(
            postgres = "DROP INDEX CONCURRENTLY IF EXISTS rates_day",
            mysql = "DROP INDEX rates_day ON rates",
            sqlite = ""
        ),
        phase = expand
    )
)]
pub struct LedgerEntryScripted {
    #[straddle(primary_key)]
    pub id: i64,
    pub amount: i64,
}

/// A CHECK and a foreign key renamed.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "members",
    dialects(postgres),
    renamed_check(from = "members_age_check", name = "members_age_adult", expr = "age >= 18", phase = contract),
    renamed_foreign_key(from = "members_club", name = "members_club_fk", on(club_id), references = "clubs(id)", phase = contract)
)]
pub struct MemberConstraintsRenamed {
    #[straddle(primary_key)]
    pub id: i64,
    pub age: i32,
    pub club_id: i64,
}

/// A primary key added to a table the database has without one.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "visits", index(name = "visits_pkey", on(site_id, seq), primary_key, phase = expand))]
pub struct VisitKeyed {
    #[straddle(primary_key)]
    pub site_id: i64,
    #[straddle(primary_key)]
    pub seq: i64,
    pub path: String,
}

/// A CHECK over violating data, with the fix of the violating rows.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "payments",
    dialects(postgres),
    check(name = "payments_amount_check", expr = "amount >= 0", fix(amount = "abs(amount)"), phase = contract)
)]
pub struct PaymentFixed {
    #[straddle(primary_key)]
    pub id: i64,
    pub amount: i64,
}

/// A column's comment changed.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(table = "docs", dialects(postgres, mysql))]
pub struct DocCommented {
    #[straddle(primary_key)]
    pub id: i64,
    #[straddle(sql_type(mysql = "VARCHAR(80)"), comment_changed(from = "old", to = "it's new", phase = expand))]
    pub title: String,
}

/// A foreign key over orphans, with their fix.
#[derive(Debug, Clone, PartialEq, straddle::Model)]
#[straddle(
    table = "orders",
    dialects(postgres, mysql),
    foreign_key(
        name = "orders_customer",
        on(customer_id),
        references = "customers(id)",
        fix(customer_id = "NULL"),
        mysql_unvalidated = true,
        phase = contract
    )
)]
pub struct OrderFixed {
    #[straddle(primary_key)]
    pub id: i64,
    pub customer_id: Option<i64>,
}
