//! RULES.md rules that the planner guarantees by construction, checked over every step
//! of every fixture plan, per dialect, phase and direction (squawk-style: the unsafe
//! form must never be emitted). The real-server suites prove the statements work; this
//! proves their shape.

use straddle::{Dialect, Direction, Model, Phase, ir};
use straddle_tests::models::{
    AccountRetyped, ArchiveRetired, Awkward, ContactIndexed, ContactRenamed, Counted, Customer,
    GuestRequired, MemberChecked, MemberNullable, Nickname, Normalized, Note, ProfileRetiring,
    SettingDefaulted, TagWidened, TicketLinked,
};

struct Rendered {
    dialect: Dialect,
    where_: String,
    steps: Vec<ir::Step>,
}

fn all_plans() -> Vec<Rendered> {
    let models = [
        Normalized::definition(),
        Nickname::definition(),
        Counted::definition(),
        Awkward::definition(),
        ContactRenamed::definition(),
        ProfileRetiring::definition(),
        ContactIndexed::definition(),
        MemberNullable::definition(),
        GuestRequired::definition(),
        MemberChecked::definition(),
        TicketLinked::definition(),
        Note::definition(),
        ArchiveRetired::definition(),
        SettingDefaulted::definition(),
        AccountRetyped::definition(),
        Customer::definition(),
        TagWidened::definition(),
    ];
    let mut out = Vec::new();
    for model in models {
        for plan in ir::plan_model(model) {
            for dialect in Dialect::ALL.into_iter().filter(|d| model.supports(*d)) {
                for phase in Phase::ALL {
                    for direction in [Direction::Up, Direction::Down] {
                        out.push(Rendered {
                            dialect,
                            where_: format!("{} {dialect} {phase} {}", plan.id, direction.key()),
                            steps: ir::render::render_phase(dialect, model, &plan, phase, direction),
                        });
                    }
                }
            }
        }
    }
    assert!(out.len() > 50);
    out
}

/// Every statement a step executes, upper-cased — those written when it runs from the
/// live catalog by their shape (`…` for what the catalog supplies).
fn executes(step: &ir::Step) -> impl Iterator<Item = String> + '_ {
    step.statements.iter().flat_map(|s| match s {
        ir::Statement::Execute(sql) => vec![sql.to_uppercase()],
        ir::Statement::Live(live) => ir::render::live::shape(live)
            .into_iter()
            .map(|s| s.to_uppercase())
            .collect(),
        _ => vec![],
    })
}

fn is_ddl(sql: &str) -> bool {
    ["ALTER ", "CREATE ", "DROP "].iter().any(|k| sql.starts_with(k))
}

/// add-column-required: NOT NULL is only ever added with a constant default.
#[test]
fn add_column_not_null_always_has_a_default() {
    for r in all_plans() {
        for sql in r.steps.iter().flat_map(executes) {
            if sql.contains(" ADD COLUMN ") && sql.contains(" NOT NULL") {
                assert!(sql.contains(" DEFAULT "), "{}: {sql}", r.where_);
            }
        }
    }
}

/// add-column-volatile-default: no volatile default reaches an ADD COLUMN.
#[test]
fn add_column_defaults_are_never_volatile() {
    for r in all_plans() {
        for sql in r
            .steps
            .iter()
            .flat_map(executes)
            .filter(|s| s.contains(" ADD COLUMN "))
        {
            for f in [
                "RANDOM(",
                "GEN_RANDOM_UUID(",
                "NEXTVAL(",
                "CLOCK_TIMESTAMP(",
                "UUID(",
                "RAND(",
            ] {
                assert!(!sql.contains(f), "{}: {sql}", r.where_);
            }
        }
    }
}

/// check-not-valid, set-not-null, one-ae-per-transaction (PostgreSQL): checks are added
/// NOT VALID, validated in a step of their own, and SET NOT NULL comes after validation.
#[test]
fn postgres_constraints_are_enforced_without_long_locks() {
    for r in all_plans().into_iter().filter(|r| r.dialect == Dialect::Postgres) {
        let mut validated = false;
        for step in &r.steps {
            let sqls: Vec<String> = executes(step).collect();
            for sql in &sqls {
                if sql.contains(" ADD CONSTRAINT ") && sql.contains(" CHECK ") {
                    assert!(sql.ends_with(" NOT VALID"), "{}: {sql}", r.where_);
                }
                if sql.contains(" VALIDATE CONSTRAINT ") {
                    assert_eq!(
                        step.statements.len(),
                        1,
                        "{}: VALIDATE shares its transaction",
                        r.where_
                    );
                    validated = true;
                }
                if sql.contains(" SET NOT NULL") {
                    assert!(validated, "{}: SET NOT NULL before a validated check", r.where_);
                }
            }
        }
    }
}

/// Contract refuses while rows are NULL: an assertion precedes any NOT NULL enforcement.
#[test]
fn not_null_is_enforced_only_after_asserting_no_nulls() {
    for r in all_plans() {
        let mut asserted = false;
        for st in r.steps.iter().flat_map(|s| &s.statements) {
            match st {
                ir::Statement::Assert { sql, .. } if sql.contains("IS NULL") => asserted = true,
                ir::Statement::Execute(sql) => {
                    let sql = sql.to_uppercase();
                    let enforces = sql.contains(" SET NOT NULL")
                        || (sql.contains(" MODIFY COLUMN ") && sql.contains(" NOT NULL"));
                    assert!(!enforces || asserted, "{}: {sql}", r.where_);
                }
                ir::Statement::Rebuild(rebuild) if rebuild.not_null == Some(true) => {
                    assert!(asserted, "{}: rebuild to NOT NULL {rebuild:?}", r.where_)
                }
                _ => {}
            }
        }
    }
}

/// lock-timeout: every DDL statement is in a step the runner bounds with a lock timeout.
#[test]
fn every_ddl_step_runs_under_a_lock_timeout() {
    for r in all_plans() {
        for step in &r.steps {
            if executes(step).any(|s| is_ddl(&s)) {
                assert!(
                    step.ddl,
                    "{}: step {} has DDL but no lock timeout",
                    r.where_, step.name
                );
            }
        }
    }
}

/// idempotent-steps: a step outside a transaction can be re-run: each of its DDL
/// statements is IF [NOT] EXISTS, idempotent by nature (setting or dropping a column
/// default twice leaves the same schema, so does `CREATE OR REPLACE`), or the step has a
/// skip probe.
#[test]
fn non_transactional_ddl_is_guarded() {
    for r in all_plans() {
        for step in r.steps.iter().filter(|s| !s.transactional) {
            for sql in executes(step).filter(|s| is_ddl(s)) {
                let idempotent = sql.contains(" SET DEFAULT ")
                    || sql.contains(" DROP DEFAULT")
                    || sql.starts_with("CREATE OR REPLACE ");
                assert!(
                    !step.expects.is_empty()
                        || idempotent
                        || sql.contains(" IF EXISTS")
                        || sql.contains(" IF NOT EXISTS"),
                    "{}: {sql}",
                    r.where_
                );
            }
        }
    }
}

/// MySQL: every ALTER TABLE states its algorithm, so the server refuses instead of copying.
#[test]
fn mysql_alters_state_their_algorithm() {
    for r in all_plans().into_iter().filter(|r| r.dialect == Dialect::MySql) {
        for sql in r
            .steps
            .iter()
            .flat_map(executes)
            .filter(|s| s.starts_with("ALTER TABLE"))
        {
            assert!(
                sql.contains("ALGORITHM=INSTANT") || sql.contains("ALGORITHM=INPLACE, LOCK=NONE"),
                "{}: {sql}",
                r.where_
            );
        }
    }
}

/// Backfills touch one key range per statement, and only rows still NULL.
#[test]
fn backfills_are_keyset_batched_and_skip_filled_rows() {
    let mut seen = 0;
    for r in all_plans() {
        for st in r.steps.iter().flat_map(|s| &s.statements) {
            if let ir::Statement::Backfill(b) = st {
                seen += 1;
                let key = r.dialect.quote(&b.key);
                let col = r.dialect.quote(&b.column);
                assert!(
                    b.update_sql.contains(&format!("WHERE {key} > "))
                        && b.update_sql.contains(&format!("AND {key} <= ")),
                    "{}",
                    r.where_
                );
                assert!(
                    b.first_update_sql.contains(&format!("WHERE {key} <= ")),
                    "{}",
                    r.where_
                );
                for sql in [&b.update_sql, &b.first_update_sql] {
                    assert!(
                        sql.ends_with(&format!("AND {col} IS NULL")),
                        "{}: {sql}",
                        r.where_
                    );
                }
                for sql in [&b.upper_key_sql, &b.first_upper_key_sql] {
                    assert!(
                        sql.contains(&format!("ORDER BY {key} LIMIT"))
                            && !sql.to_uppercase().contains("OFFSET"),
                        "{}",
                        r.where_
                    );
                }
            }
        }
    }
    assert!(seen >= 4, "fixtures cover backfills on every dialect");
}

/// table-rewrite: nothing that rewrites a table under lock is ever emitted (a column's
/// type changes in place only where it is binary-coercible: see
/// `type_changes_swap_the_shadow_in_only_after_converting_every_row`).
#[test]
fn no_table_rewrites() {
    for r in all_plans() {
        for step in &r.steps {
            for sql in executes(step) {
                for bad in [
                    "SET TABLESPACE",
                    "VACUUM FULL",
                    "CLUSTER ",
                    "SET LOGGED",
                    "ALGORITHM=COPY",
                    " TYPE ",
                ] {
                    let widening = bad == " TYPE " && step.name == "alter-column-type";
                    assert!(!sql.contains(bad) || widening, "{}: {sql}", r.where_);
                }
            }
        }
    }
}

/// rename-column: a column is renamed in place only at a rename's contract (the previous
/// release gone), after asserting the copy equal to the original in every row and after
/// every app instance re-read the schema, and atomically with dropping the copy — one
/// transaction, or one statement on MySQL — so the original keeps its indexes,
/// constraints, default and comment. (A type change's shadow is renamed likewise, below.)
#[test]
fn renames_swap_the_original_in_only_after_proving_the_copy_equal() {
    let mut renames = 0;
    for r in all_plans() {
        let (mut proven, mut awaited) = (false, false);
        for step in &r.steps {
            for st in &step.statements {
                match st {
                    ir::Statement::Assert { sql, .. }
                        if sql.contains("DISTINCT FROM")
                            || sql.contains("<=>")
                            || sql.contains(" IS NOT ") =>
                    {
                        proven = true
                    }
                    ir::Statement::AwaitAppRefresh => awaited = true,
                    _ => {}
                }
            }
            let sqls: Vec<String> = executes(step).collect();
            let renamed = sqls.iter().any(|s| {
                s.to_uppercase().contains("RENAME COLUMN") && !s.to_uppercase().contains("STRADDLE_NEW_")
            });
            if !renamed {
                continue;
            }
            assert!(r.where_.starts_with("contacts."), "{}: {sqls:?}", r.where_);
            if r.where_.ends_with("contract down") {
                assert_eq!(step.name, "swap-out-renamed-column", "{}", r.where_);
                continue;
            }
            assert!(
                r.where_.ends_with("contract up"),
                "{}: renamed before contract",
                r.where_
            );
            assert_eq!(step.name, "swap-in-renamed-column", "{}", r.where_);
            assert!(proven, "{}: renamed before proving the copy equal", r.where_);
            assert!(
                awaited,
                "{}: renamed before every instance re-read the schema",
                r.where_
            );
            assert!(sqls.iter().any(|s| s.contains(" DROP COLUMN ")), "{}", r.where_);
            match r.dialect {
                Dialect::MySql => assert_eq!(sqls.len(), 1, "{}: one atomic ALTER", r.where_),
                _ => assert!(step.transactional, "{}: one transaction", r.where_),
            }
            renames += 1;
        }
    }
    assert_eq!(
        renames,
        2 * 3,
        "both renames on the three engines swap at contract"
    );
}

/// change-column-type: never `ALTER COLUMN … TYPE` (a rewrite under ACCESS EXCLUSIVE); a
/// shadow column is converted in batches, and at contract the old column is dropped and
/// the shadow renamed into its place — one transaction where the engine has transactional
/// DDL, one statement on MySQL — only after asserting every row converted and no index or
/// constraint using the old column. Going back, the shadow is renamed away and every app
/// instance has re-read the schema before the old column's name comes back with the old
/// type.
#[test]
fn type_changes_swap_the_shadow_in_only_after_converting_every_row() {
    let mut swaps = 0;
    let mut unswaps = 0;
    let mut in_place = 0;
    for r in all_plans() {
        for step in &r.steps {
            for sql in executes(step) {
                // The only type change in place: PostgreSQL's binary-coercible widening,
                // at expand, alone in its step.
                if sql.contains(" TYPE ") {
                    in_place += 1;
                    assert_eq!(
                        (r.dialect, step.name.as_str(), r.where_.ends_with("expand up")),
                        (Dialect::Postgres, "alter-column-type", true),
                        "{}: {sql}",
                        r.where_
                    );
                    assert!(
                        sql.contains(" TYPE VARCHAR(255)") && r.where_.starts_with("tags.email "),
                        "{}: {sql}",
                        r.where_
                    );
                }
                assert!(
                    !(sql.contains("MODIFY") && sql.contains("STRADDLE_NEW_")),
                    "{}: {sql}",
                    r.where_
                );
            }
        }
        if !r.where_.starts_with("accounts.") {
            continue;
        }
        let mut converted = false;
        let mut unused = false;
        let mut awaited = false;
        let mut swapped_out = false;
        for step in &r.steps {
            for st in &step.statements {
                match st {
                    ir::Statement::Assert { sql, .. } if sql.contains(" IS NULL AND ") => converted = true,
                    ir::Statement::Assert { message, .. }
                        if message.contains("used by indexes or constraints") =>
                    {
                        unused = true
                    }
                    ir::Statement::AwaitAppRefresh => awaited = true,
                    _ => {}
                }
            }
            let sqls: Vec<String> = executes(step).collect();
            if step.name.starts_with("drop-sync-trigger") && r.where_.ends_with("contract up") {
                assert!(
                    awaited,
                    "{}: trigger dropped before every instance writes both columns",
                    r.where_
                );
            }
            if step.name == "swap-in-retyped-column" {
                swaps += 1;
                assert!(converted && unused, "{}: swapped before the assertions", r.where_);
                assert!(
                    awaited,
                    "{}: swapped before every instance re-read the schema",
                    r.where_
                );
                assert!(r.where_.ends_with("contract up"), "{}", r.where_);
                assert!(sqls.iter().any(|s| s.contains(" DROP COLUMN ")), "{}", r.where_);
                assert!(sqls.iter().any(|s| s.contains("RENAME COLUMN")), "{}", r.where_);
                assert!(!step.expects.is_empty(), "{}: the swap is not guarded", r.where_);
                match r.dialect {
                    Dialect::MySql => assert_eq!(sqls.len(), 1, "{}: one atomic ALTER", r.where_),
                    _ => assert!(step.transactional, "{}: one transaction", r.where_),
                }
            }
            if step.name == "swap-out-retyped-column" {
                unswaps += 1;
                swapped_out = true;
                awaited = false;
                assert!(r.where_.ends_with("contract down"), "{}", r.where_);
            }
            if step.name == "add-column" && swapped_out {
                assert!(
                    awaited,
                    "{}: old column back before every instance re-read the schema",
                    r.where_
                );
            }
        }
    }
    // `balance` (text → i64) on the three engines; `points` (i32 → i64) on PostgreSQL and
    // MySQL — SQLite stores both as INTEGER, and its plan is empty.
    assert_eq!(
        (swaps, unswaps),
        (5, 5),
        "every type change swaps in at contract and out going back"
    );
    assert_eq!(in_place, 1, "the widening is one ALTER on PostgreSQL");
}

/// rename-table: the table keeps its name (the previous release's) until contract; a
/// view under the new name serves the new release meanwhile; contract drops the view and
/// renames the table in one step — one transaction, or on MySQL one `RENAME TABLE`
/// moving the view aside — so neither name is ever missing while a release uses it.
#[test]
fn tables_are_renamed_only_at_contract_and_atomically() {
    let mut renames = 0;
    for r in all_plans() {
        for step in &r.steps {
            let sqls: Vec<String> = executes(step).collect();
            let renames_table = sqls.iter().any(|s| {
                s.starts_with("RENAME TABLE") || s.starts_with("ALTER TABLE") && s.contains(" RENAME TO ")
            });
            if !renames_table {
                continue;
            }
            assert!(r.where_.starts_with("customers "), "{}: {sqls:?}", r.where_);
            assert!(
                r.where_.contains(" contract "),
                "{}: renamed before contract",
                r.where_
            );
            if r.where_.ends_with(" up") {
                renames += 1;
                match r.dialect {
                    Dialect::MySql => {
                        assert_eq!(sqls.len(), 1, "{}", r.where_);
                        assert_eq!(
                            sqls[0].matches(" TO ").count(),
                            2,
                            "{}: view moved aside in the same statement",
                            r.where_
                        )
                    }
                    _ => {
                        assert!(step.transactional, "{}", r.where_);
                        assert!(
                            sqls[0].starts_with("DROP VIEW IF EXISTS"),
                            "{}: {sqls:?}",
                            r.where_
                        );
                    }
                }
                assert!(
                    !step.expects.is_empty(),
                    "{}: the rename is not guarded",
                    r.where_
                );
            }
        }
        if r.where_.starts_with("customers ") && r.where_.ends_with("expand up") {
            let sqls: Vec<String> = r.steps.iter().flat_map(executes).collect();
            assert!(
                sqls[0].contains(" VIEW ")
                    && sqls[0].contains("CUSTOMERS")
                    && sqls[0].contains("FROM `CLIENTS`")
                    || sqls[0].contains("FROM \"CLIENTS\""),
                "{}: {sqls:?}",
                r.where_
            );
        }
    }
    assert_eq!(renames, 3, "the rename's contract on the three engines");
}

/// drop-column: going forward, a column is dropped only at contract (the previous release,
/// which still reads it, is gone by then).
#[test]
fn columns_are_dropped_forward_only_at_contract() {
    for r in all_plans() {
        if !r.where_.ends_with(" up") || r.where_.contains(" contract ") {
            continue;
        }
        for sql in r.steps.iter().flat_map(executes) {
            assert!(!sql.contains(" DROP COLUMN "), "{}: {sql}", r.where_);
        }
    }
}

/// A default Straddle sets on an existing column is a constant (metadata only; RULES.md
/// add-column-volatile-default applies to SET DEFAULT alike). A type change's
/// `carry-default` restates the default the column already had, converted to its new
/// type: not Straddle's choice, and SET DEFAULT rewrites nothing whatever it is.
#[test]
fn set_defaults_are_constants() {
    let mut seen = 0;
    for r in all_plans() {
        for sql in r
            .steps
            .iter()
            .filter(|s| s.name != "carry-default")
            .flat_map(executes)
        {
            if let Some((_, value)) = sql.split_once(" SET DEFAULT ") {
                seen += 1;
                let value = value.trim_end_matches(", ALGORITHM=INSTANT");
                assert!(
                    value.starts_with('\'')
                        || value.parse::<f64>().is_ok()
                        || ["TRUE", "FALSE"].contains(&value),
                    "{}: {sql}",
                    r.where_
                );
            }
        }
    }
    assert!(
        seen >= 2,
        "the retirement fixture sets a default on PostgreSQL and MySQL"
    );
}

/// index-concurrently: PostgreSQL builds and drops indexes CONCURRENTLY, outside a
/// transaction, with IF [NOT] EXISTS, dropping an INVALID leftover first (and only then)
/// and checking the result is valid; MySQL adds and drops them in place without locking.
#[test]
fn indexes_are_built_and_dropped_without_blocking_writes() {
    let mut seen = 0;
    for r in all_plans() {
        for step in &r.steps {
            for sql in executes(step) {
                if !(sql.contains(" INDEX ") && is_ddl(&sql)) || sql.starts_with("CREATE TRIGGER") {
                    continue;
                }
                if sql.contains(" USING INDEX ") {
                    // unique-via-index: the index built concurrently becomes the constraint.
                    assert!(
                        r.steps.iter().position(|s| s.name == "create-index")
                            < r.steps.iter().position(|s| s.name == "add-unique-constraint"),
                        "{}: constraint before its index",
                        r.where_
                    );
                    continue;
                }
                seen += 1;
                match r.dialect {
                    Dialect::Postgres => {
                        assert!(!step.transactional, "{}: {sql}", r.where_);
                        assert!(sql.contains(" CONCURRENTLY IF "), "{}: {sql}", r.where_);
                    }
                    Dialect::MySql => assert!(
                        sql.contains("ALGORITHM=INPLACE, LOCK=NONE"),
                        "{}: {sql}",
                        r.where_
                    ),
                    Dialect::Sqlite => assert!(sql.contains(" IF "), "{}: {sql}", r.where_),
                }
            }
            if r.dialect == Dialect::Postgres && step.name == "create-index" {
                let when = step.statements.iter().position(|s| matches!(s, ir::Statement::When { sql, .. } if sql.contains("DROP INDEX CONCURRENTLY")));
                let create = step
                    .statements
                    .iter()
                    .position(|s| matches!(s, ir::Statement::Execute(sql) if sql.starts_with("CREATE")));
                let valid = step.statements.iter().rposition(
                    |s| matches!(s, ir::Statement::Assert { sql, .. } if sql.contains("NOT i.indisvalid")),
                );
                assert!(
                    when < create && create < valid && when.is_some(),
                    "{}: {step}",
                    r.where_
                );
            }
        }
    }
    // ContactIndexed: two indexes, each built once and dropped once, on three engines;
    // TicketLinked: its foreign key's index, on PostgreSQL and MySQL.
    assert_eq!(seen, 4 * 3 + 2 * 2, "every fixture index statement was checked");
}

/// fk-not-valid and fk-missing-index: the referencing columns are indexed at expand; the
/// key is added only after asserting no orphans — `NOT VALID` then `VALIDATE` alone in
/// its transaction on PostgreSQL, in place with the server's validation off for that one
/// statement on MySQL (declared `mysql_unvalidated`).
#[test]
fn foreign_keys_are_indexed_first_and_validated_without_long_locks() {
    let mut seen = 0;
    for r in all_plans()
        .into_iter()
        .filter(|r| r.where_.starts_with("tickets."))
    {
        let mut orphans_asserted = false;
        for step in &r.steps {
            for st in &step.statements {
                match st {
                    ir::Statement::Assert { sql, .. } if sql.contains("NOT EXISTS") => {
                        orphans_asserted = true
                    }
                    ir::Statement::Execute(sql) if sql.contains("FOREIGN KEY (") => {
                        seen += 1;
                        assert!(orphans_asserted, "{}: {sql}", r.where_);
                        assert!(r.where_.ends_with("contract up"), "{}: {sql}", r.where_);
                        match r.dialect {
                            Dialect::Postgres => assert!(sql.ends_with(" NOT VALID"), "{}: {sql}", r.where_),
                            _ => assert!(
                                sql.contains("ALGORITHM=INPLACE, LOCK=NONE"),
                                "{}: {sql}",
                                r.where_
                            ),
                        }
                    }
                    ir::Statement::Execute(sql) if sql.contains("VALIDATE CONSTRAINT") => {
                        assert_eq!(
                            step.statements.len(),
                            1,
                            "{}: VALIDATE shares its transaction",
                            r.where_
                        )
                    }
                    _ => {}
                }
            }
        }
        if r.where_.ends_with("expand up") {
            assert!(
                r.steps.iter().any(|s| s.name == "create-index"),
                "{}: the referencing columns are indexed at expand",
                r.where_
            );
        }
    }
    assert_eq!(seen, 2, "the fixture's key is added on PostgreSQL and MySQL");
}

/// drop-table: a table is dropped going forward only by a confirmed retirement at
/// contract; the only other drop reverts a `created` table's expand and asserts it empty
/// first.
#[test]
fn tables_are_dropped_only_when_retired_at_contract_or_empty() {
    let mut seen = 0;
    for r in all_plans() {
        let mut empty_asserted = false;
        for step in &r.steps {
            for st in &step.statements {
                match st {
                    ir::Statement::Assert { sql, .. }
                        if sql.starts_with("SELECT count(*) FROM ") && !sql.contains(" WHERE ") =>
                    {
                        empty_asserted = true
                    }
                    ir::Statement::Execute(sql)
                        if sql.starts_with("DROP TABLE") && !sql.contains("_straddle_rebuild") =>
                    {
                        seen += 1;
                        let retirement =
                            r.where_.starts_with("archives") && r.where_.ends_with("contract up");
                        assert!(retirement || empty_asserted, "{}: {sql}", r.where_);
                    }
                    _ => {}
                }
            }
        }
    }
    assert_eq!(
        seen,
        2 * 3,
        "the retired and the created fixture table, on three engines"
    );
}
